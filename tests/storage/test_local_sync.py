"""Local storage durability batching: a deferred-sync block syncs every object once at
its end; writes outside any block (or in other threads) stay synced one by one; large
objects start their writeback while they are written."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from eventport.storage import deferred_sync
from eventport.storage import local as local_module
from eventport.storage.local import LocalStorage
from eventport.storage.memory import MemoryStorage


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths fsynced, in order (the real fsync still runs)."""
    paths: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(local_module.os, "fsync", fsync)
    return paths


def test_block_syncs_every_object_once_at_its_end(tmp_path: Path, synced: list[str]) -> None:
    storage = LocalStorage(tmp_path)
    with deferred_sync(storage):
        for n in range(20):
            storage.put_stream(f"imports/job/media/{n:03d}", [b"x" * 1000])
        with deferred_sync(storage):  # nested: the outer block syncs
            storage.put_stream("imports/job/media/nested", [b"n"])
        storage.move("imports/job/media/000", "events/1/media/images/a.jpg")
        storage.delete("imports/job/media/001")
        assert b"".join(storage.open("imports/job/media/002")) == b"x" * 1000  # visible
        assert synced == []
    root = os.path.realpath(tmp_path)
    objects = {f"{root}/imports/job/media/{n:03d}" for n in range(2, 20)}
    objects |= {f"{root}/imports/job/media/nested", f"{root}/events/1/media/images/a.jpg"}
    assert objects <= set(synced)
    assert f"{root}/.meta/events/1/media/images/a.jpg.json" in synced
    assert f"{root}/events/1/media/images" in synced  # the rename's directory
    assert len(synced) == len(set(synced)) < 4 * 21  # one fsync per file and directory


def test_moving_durable_objects_syncs_their_directories_only(
        tmp_path: Path, synced: list[str]) -> None:
    """An import's publish renames thousands of files staged (and synced) earlier: the
    renames are made durable by their directories' fsyncs; the files need none."""
    storage = LocalStorage(tmp_path)
    with deferred_sync(storage):
        for n in range(10):
            storage.put_stream(f"imports/job/media/{n:03d}", [b"x" * 1000])
    synced.clear()
    with deferred_sync(storage):
        for n in range(10):
            storage.move(f"imports/job/media/{n:03d}", f"events/1/media/images/{n}.jpg")
    root = os.path.realpath(tmp_path)
    assert sorted(synced) == [f"{root}/.meta/events/1/media/images",
                              f"{root}/events/1/media/images"]
    assert b"".join(storage.open("events/1/media/images/9.jpg")) == b"x" * 1000


def test_block_syncs_when_it_raises_and_leaves_other_threads_alone(
        tmp_path: Path, synced: list[str]) -> None:
    storage = LocalStorage(tmp_path)
    outside: list[int] = []

    def other_thread() -> None:
        before = len(synced)
        storage.put_stream("other/object", [b"o"])
        outside.append(len(synced) - before)

    with pytest.raises(RuntimeError), deferred_sync(storage):
        storage.put_stream("imports/job/media/a", [b"a"])
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        raise RuntimeError("the import failed")
    assert outside == [4]  # synced at once: object, sidecar and their two directories
    assert f"{os.path.realpath(tmp_path)}/imports/job/media/a" in synced
    before = len(synced)
    storage.put_stream("after/block", [b"b"])  # the block is closed: synced at once again
    assert len(synced) - before == 4


def test_deferred_sync_is_a_no_op_elsewhere() -> None:
    storage = MemoryStorage.from_url("memory://deferred-sync-test")
    with deferred_sync(storage):
        storage.put_stream("k", [b"v"])
    assert b"".join(storage.open("k")) == b"v"


def test_large_objects_start_writeback_while_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    advised: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((offset, length))
        real(fd, offset, length, advice)

    monkeypatch.setattr(local_module, "WRITEBACK_EVERY", 1024 * 1024)
    monkeypatch.setattr(local_module.os, "posix_fadvise", fadvise)
    chunks = [os.urandom(256 * 1024) for _ in range(10)]
    result = LocalStorage(tmp_path).put_stream("big/object", chunks)
    assert result.size == 10 * 256 * 1024
    assert advised == [(0, 1024 * 1024), (1024 * 1024, 1024 * 1024)]
    assert (tmp_path / "big/object").read_bytes() == b"".join(chunks)
