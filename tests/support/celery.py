"""A real Celery worker for tests: ``eventport worker`` in a subprocess.

Reusable by any package whose jobs run on the queue (exports, imports, web). Import the
fixtures into your conftest::

    from tests.support.celery import celery_worker, celery_worker_env, worker_pool  # noqa: F401

then request ``celery_worker`` in a test (it needs ``settings_env`` and so runs on both
databases). What it does:

* starts one worker per database (and broker) per test session — starting Celery takes
  about two seconds, far too slow per test — with ``--pool threads``, the same command
  operators run, consuming *every* task on the queue (export and import tasks alike);
* points the test process at the same broker folder, queue and storage root as the
  worker (it overrides ``EVENTPORT_STORAGE_URL``/``EVENTPORT_DATA_DIR`` set by
  ``settings_env``), so ``enqueue_export`` in a TestClient request reaches it;
* gives each session its own queue name (and the filesystem broker its own folder), so
  parallel runs (``-n 2``, other engineers on the same Redis) never take each other's
  tasks.

The storage root is shared by the tests of one session: keys hold random job/media
ids, so tests don't collide, but assert on your own keys, not on a whole listing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eventport import db as dbmod
from eventport.config import get_settings
from eventport.storage import reset_storage_cache

REDIS_URL = os.environ.get("EVENTPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("EVENTPORT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
READY_TIMEOUT = 60.0


def reachable(url: str) -> bool:
    """Is the server behind a redis:// or amqp:// URL accepting connections?"""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    default = {"redis": 6379, "amqp": 5672}.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default),
                                      timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Worker:
    """One running ``eventport worker`` and the environment it was started with."""

    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def broker_url(self) -> str:
        return self.env["EVENTPORT_BROKER_URL"]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def apply(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this test process at the worker's broker, queue, storage and data dir."""
        for name in ("EVENTPORT_BROKER_URL", "EVENTPORT_BROKER_QUEUE", "EVENTPORT_STORAGE_URL",
                     "EVENTPORT_DATA_DIR", "EVENTPORT_JOB_STALE_AFTER"):
            monkeypatch.setenv(name, self.env[name])
        get_settings.cache_clear()
        reset_storage_cache()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_worker(env: dict[str, str], log_path: Path, *, concurrency: int = 2,
                 extra_args: tuple[str, ...] = ()) -> Worker:
    """Start ``eventport worker`` and wait until it consumes (its log says "ready")."""
    out = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "eventport.cli", "worker", "--concurrency", str(concurrency),
         *extra_args],
        env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
    )
    out.close()
    worker = Worker(env, process, log_path)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}:\n{worker.log()}")
        if " ready." in worker.log():
            return worker
        time.sleep(0.1)
    worker.stop()
    raise RuntimeError(f"worker did not become ready:\n{worker.log()}")


@dataclass
class WorkerPool:
    """Session-wide workers, one per (database, broker, extra env)."""

    root: Path
    session_id: str
    workers: dict[tuple[str, ...], Worker] = field(default_factory=dict)

    @property
    def storage_root(self) -> Path:
        """The local storage every worker of this session uses (``file://`` + this)."""
        return self.root / "storage"

    def get(self, database_url: str, broker: str = "filesystem",
            extra_env: dict[str, str] | None = None) -> Worker:
        extra_env = dict(extra_env or {})
        key = (database_url, broker, *sorted(f"{k}={v}" for k, v in extra_env.items()))
        worker = self.workers.get(key)
        if worker is not None and worker.process.poll() is None:
            return worker
        n = len(self.workers)
        data_dir = self.root / f"data-{n}"
        storage = self.storage_root
        storage.mkdir(exist_ok=True)
        broker_url = {"filesystem": "filesystem://", "redis": REDIS_URL, "amqp": AMQP_URL}[broker]
        env = {
            "EVENTPORT_DATABASE_URL": database_url,
            "EVENTPORT_STORAGE_URL": f"file://{storage}",
            "EVENTPORT_SECRET_KEY": SECRET,
            "EVENTPORT_DATA_DIR": str(data_dir),
            "EVENTPORT_BASE_URL": "http://testserver",
            "EVENTPORT_BROKER_URL": broker_url,
            "EVENTPORT_BROKER_QUEUE": f"eventport-test-{self.session_id}-{n}",
            "EVENTPORT_JOB_STALE_AFTER": "90",
            **extra_env,
        }
        worker = start_worker(env, self.root / f"worker-{n}.log")
        self.workers[key] = worker
        return worker

    def stop_all(self) -> None:
        for worker in self.workers.values():
            worker.stop()


@pytest.fixture(scope="session")
def worker_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    pool = WorkerPool(tmp_path_factory.mktemp("celery"), uuid.uuid4().hex[:10])
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def celery_worker_env() -> dict[str, str]:
    """Extra environment for the session's workers; override it (session scope) in a
    conftest to, e.g., add ``EVENTPORT_SMTP_URL``."""
    return {}


@pytest.fixture
def celery_worker(settings_env: None, database_url: str, worker_pool: WorkerPool,
                  celery_worker_env: dict[str, str],
                  monkeypatch: pytest.MonkeyPatch) -> Worker:
    """A real worker on the embedded (filesystem) broker for this test's database."""
    worker = worker_pool.get(database_url, "filesystem", celery_worker_env)
    worker.apply(monkeypatch)
    return worker


@pytest.fixture
def start_broker_worker(settings_env: None, database_url: str, worker_pool: WorkerPool,
                        celery_worker_env: dict[str, str],
                        monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Worker]:
    """``start_broker_worker("redis" | "amqp" | "filesystem")``: a worker on that broker
    (skips when the server is not running)."""

    def start(broker: str) -> Worker:
        url = {"redis": REDIS_URL, "amqp": AMQP_URL}.get(broker)
        if url is not None and not reachable(url):
            pytest.skip(f"{broker} broker not reachable at {url}")
        worker = worker_pool.get(database_url, broker, celery_worker_env)
        worker.apply(monkeypatch)
        return worker

    return start


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
               message: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def fresh_db_caches() -> None:
    """Forget engines/settings after changing environment variables in a test."""
    get_settings.cache_clear()
    dbmod.reset_caches()
    reset_storage_cache()
