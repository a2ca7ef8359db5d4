"""Staging media out of an upload: the threaded path (a local upload, read through its
own file) and the sequential one (a stream over an object store) stage the same bytes
and refuse the same damage."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventport.imports.errors import ImportRefused
from eventport.imports.readers import read_upload
from eventport.imports.source import open_stored
from eventport.imports.staging import stage_media
from eventport.job_lifecycle import LostOwnership
from eventport.storage import Storage
from eventport.storage.local import LocalStorage
from eventport.storage.memory import MemoryStorage
from tests.imports.archives import base_documents, base_media, make_archive


def _stage(storage: Storage, archive: bytes, dry_run: bool = False) -> dict[str, Any]:
    storage.put_stream("uploads/a.zip", iter([archive]))
    with open_stored(storage, "uploads/a.zip") as source:
        data, zf = read_upload(source, "archive")
        assert zf is not None
        with zf:
            threaded = zf.on_os_file()
            staged = stage_media("job1", lambda *a, **k: None, storage, zf, data, dry_run)
    return {"threaded": threaded, "staged": staged}


@pytest.fixture(params=["local", "memory"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    return MemoryStorage(f"staging-{tmp_path.name}")


def test_both_paths_stage_every_file_with_its_hash(any_storage: Storage) -> None:
    out = _stage(any_storage, make_archive())
    assert out["threaded"] is isinstance(any_storage, LocalStorage)
    media = base_media()
    assert set(out["staged"]) == set(media)
    for path, staged in out["staged"].items():
        assert staged.size == len(media[path])
        assert staged.sha256 == hashlib.sha256(media[path]).hexdigest()
        assert staged.key is not None
        assert b"".join(any_storage.open(staged.key)) == media[path]


def test_dry_run_hashes_and_writes_nothing(any_storage: Storage) -> None:
    out = _stage(any_storage, make_archive(), dry_run=True)
    media = base_media()
    for path, staged in out["staged"].items():
        assert staged.sha256 == hashlib.sha256(media[path]).hexdigest()
    assert [o.key for o in any_storage.list("imports/")] == []


def test_a_file_altered_after_hashing_is_refused(any_storage: Storage) -> None:
    path = "media/documents/sessions/11-hello-slides.pdf"
    altered = make_archive(tamper={path: base_media()[path][:-1] + b"X"})
    with pytest.raises(ImportRefused, match=r"does not match manifest\.json"):
        _stage(any_storage, altered)


class _SlowStore(MemoryStorage):
    """An object store whose reads trickle: 256 KiB every 20 ms."""

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        for chunk in super().open(key, start=start, end=end):
            for at in range(0, len(chunk), 256 * 1024):
                time.sleep(0.02)
                yield chunk[at:at + 256 * 1024]


def test_a_stopping_import_ends_a_large_file_at_its_next_chunk(tmp_path: Path) -> None:
    """Taken over by another worker while a 48 MiB video streams in (about 4 s at this
    store's pace): staging stops within a chunk or two and leaves no staged object, instead
    of writing the whole file for nothing."""
    path = "media/video/sessions/11-hello-video.mp4"
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(48 * 1024 * 1024)
    docs = base_documents()
    docs["speakers"][0]["photo"] = None
    docs["sessions"][0].update(slides=None, audio=None, video=path)
    storage = _SlowStore(f"slow-{tmp_path.name}")
    storage.put_stream("uploads/a.zip", iter([make_archive(docs, {path: video})]))

    def progress(stage: str, done: int, total: int, force: bool = False) -> None:
        if stage == "media" and done:
            raise LostOwnership("taken over by another worker")

    with open_stored(storage, "uploads/a.zip") as source:
        data, zf = read_upload(source, "archive")
        assert zf is not None
        started = time.monotonic()
        with zf, pytest.raises(LostOwnership):
            stage_media("job1", progress, storage, zf, data, False)
    took = time.monotonic() - started
    assert took < 2.0, f"staging went on for {took:.1f}s after it was told to stop"
    assert [o.key for o in storage.list("imports/")] == []
