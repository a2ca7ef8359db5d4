"""A redis-server of a test's own, on a free port, that the test may stop and restart
(the shared one on 6379 must never be restarted under other tests)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.storage.servers import free_port, wait_for_port


class OwnRedis:
    """``restart()`` (or ``__call__``); ``start()`` for one that begins down."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.work = work
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        proc = subprocess.Popen(cmd, cwd=self.work, stdout=subprocess.DEVNULL)
        wait_for_port(self.port, proc)
        self.procs.append(proc)

    def stop(self) -> None:
        if self.procs and self.procs[-1].poll() is None:
            self.procs[-1].terminate()
            self.procs[-1].wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    __call__ = restart


def _own(tmp_path: Path, started: bool) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = OwnRedis(tmp_path)
    if started:
        redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """Running; ``own_redis()`` restarts it on the same port."""
    yield from _own(tmp_path, True)


@pytest.fixture
def own_redis_down(tmp_path: Path) -> Iterator[OwnRedis]:
    """Not started yet: a broker that is down until the test calls ``start()``."""
    yield from _own(tmp_path, False)


Restart = Callable[[], None]
