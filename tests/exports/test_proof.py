"""An export is ``succeeded`` only when proven (issue 12): read-back verification,
missing vs transient media, and ``eventport verify`` offline. In-process with faults
injected at the storage interface; the outage tests over a cut TCP proxy to a real S3
server are in ``test_outages.py``."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.cli import main
from eventport.config import get_settings
from eventport.events.models import Event, MediaFile
from eventport.exports import service
from eventport.exports.models import ExportJob
from eventport.exports.verify import ArchiveInvalid, verify_archive, verify_stream
from eventport.imports import service as imports
from eventport.storage import Storage, TransientStorageError, get_storage
from tests.exports.conftest import DemoEvent


def _export(db: Session, demo: DemoEvent, storage: Storage | None = None,
            media: list[str] | None = None) -> tuple[str | None, ExportJob]:
    event = db.get(Event, demo.id)
    user = db.scalars(select(User).where(User.email == demo.owner_email)).one()
    job, _ = service.request_export(db, event, user, "archive",  # type: ignore[arg-type]
                                    {"media": media if media is not None else ["image"]})
    state = service.run_export(job.id, storage=storage, notify=False)
    db.expire_all()
    return state, service.get_job(db, job.id)


def _stored(job: ExportJob) -> bytes:
    assert job.storage_key
    return b"".join(get_storage().open(job.storage_key))


class Wrapped:
    """The real storage with a fault hook (what a test changes is what it names)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_succeeded_export_is_verified(client: TestClient, db: Session,
                                      demo_event: DemoEvent) -> None:
    state, job = _export(db, demo_event)
    assert state == "succeeded" and job.verified_at is not None
    body = client.get(f"/api/v1/exports/{job.id}", headers=demo_event.headers).json()
    assert body["verified_at"].endswith("Z") and body["created_at"].endswith("Z")
    proof = verify_stream(iter([_stored(job)]))
    assert (proof.size, proof.sha256) == (job.size, job.sha256)


def test_read_back_mismatch_fails_the_job_and_deletes_the_object(db: Session,
                                                                 demo_event: DemoEvent) -> None:
    """Storage hands back other bytes than were written (bit rot, a broken proxy)."""
    storage = Wrapped(get_storage())

    def flipped(key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        for chunk in storage.inner.open(key, start=start, end=end):
            if "/exports/" in key and start == 0 and len(chunk) > 5000:
                chunk = chunk[:5000] + bytes([chunk[5000] ^ 1]) + chunk[5001:]
            yield chunk

    storage.open = flipped  # type: ignore[method-assign]
    state, job = _export(db, demo_event, storage)  # type: ignore[arg-type]
    assert state == "failed" and job.verified_at is None
    assert "read-back check" in (job.error or "")
    assert list(get_storage().list(f"events/{demo_event.id}/exports/{job.id}/")) == []


def test_missing_media_is_left_out_and_the_archive_imports(db: Session,
                                                           demo_event: DemoEvent) -> None:
    media = db.scalars(select(MediaFile).where(MediaFile.event_id == demo_event.id,
                                               MediaFile.kind == "image")).first()
    assert media is not None
    get_storage().delete(media.storage_key)
    state, job = _export(db, demo_event)
    assert state == "succeeded" and job.verified_at is not None
    assert any("not found" in w.get("reason", "") for w in job.warnings)
    data = _stored(job)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        import json

        manifest = json.loads(zf.read("manifest.json"))
        gone = manifest["missing"][0]["path"]
        assert gone not in zf.namelist()
        assert gone.encode() not in b"".join(zf.read(n) for n in zf.namelist()
                                             if n.endswith(".json") and "/" not in n
                                             and n != "manifest.json")
    owner = db.scalars(select(User).where(User.email == demo_event.owner_email)).one()
    # mode=copy: on its own server the event's uuid is taken (create would be a 409)
    imported = imports.create_import_job(db, get_storage(), owner, io.BytesIO(data),
                                         "x.zip", dry_run=True, mode="copy")
    db.commit()
    assert imports.run_import(imported.id) == "succeeded"
    db.expire_all()
    warnings = imports.get_job(db, imported.id, None).warnings
    assert any(gone in w and "missing" in w for w in warnings), warnings


def test_a_storage_outage_during_media_is_ridden_out(db: Session, demo_event: DemoEvent,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads break mid-object several times; the copy resumes where each broke off and
    the archive is complete and verified — never a partial entry."""
    storage = Wrapped(get_storage())
    breaks = {"left": 6}

    def flaky(key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        for chunk in storage.inner.open(key, start=start, end=end):
            if "/media/" in key and breaks["left"] > 0 and len(chunk) > 100:
                breaks["left"] -= 1
                yield chunk[:100]
                raise TransientStorageError("connection reset by peer")
            yield chunk

    storage.open = flaky  # type: ignore[method-assign]
    state, job = _export(db, demo_event, storage)  # type: ignore[arg-type]
    assert breaks["left"] == 0
    assert state == "succeeded" and job.verified_at is not None
    assert not [w for w in job.warnings if w.get("path", "").startswith("media/")]


def test_an_outage_longer_than_the_patience_fails_with_its_cause(
        db: Session, demo_event: DemoEvent, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTPORT_STORAGE_RETRY_SECONDS", "1")
    get_settings.cache_clear()
    storage = Wrapped(get_storage())

    def down(key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if "/media/" in key:
            raise TransientStorageError("S3: cannot reach the service (connection refused)")
        yield from storage.inner.open(key, start=start, end=end)

    storage.open = down  # type: ignore[method-assign]
    state, job = _export(db, demo_event, storage)  # type: ignore[arg-type]
    assert state == "failed" and "connection refused" in (job.error or "")
    assert list(get_storage().list(f"events/{demo_event.id}/exports/{job.id}/")) == []


# ------------------------------------------------------------------ eventport verify


def _damaged(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def test_cli_verify_accepts_a_sound_archive_and_names_what_is_wrong(
        db: Session, demo_event: DemoEvent, tmp_path: Path) -> None:
    _, job = _export(db, demo_event)
    data = _stored(job)
    good = tmp_path / "good.zip"
    good.write_bytes(data)
    result = CliRunner().invoke(main, ["verify", str(good)])
    assert result.exit_code == 0 and "OK" in result.output, result.output

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        photo = next(i for i in zf.infolist() if i.filename.startswith("media/images/"))
    damaged = tmp_path / "damaged.zip"
    assert photo.compress_size > 1000
    damaged.write_bytes(_damaged(data, photo.header_offset + 100 + photo.compress_size // 2))
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    for path, reason in ((damaged, photo.filename), (truncated, "zip")):
        result = CliRunner().invoke(main, ["verify", str(path)])
        assert result.exit_code == 1, result.output
        assert "NOT a sound archive" in result.output and reason in result.output, (
            result.output)


def test_a_wrong_crc_fails_even_when_the_whole_object_hash_matches(
        db: Session, demo_event: DemoEvent) -> None:
    """The stored bytes may be exactly the written ones and still be a zip other tools
    refuse: a CRC our writer got wrong must fail the export, not the restore."""
    _, job = _export(db, demo_event)
    data = bytearray(_stored(job))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        photo = next(i for i in zf.infolist() if i.filename.startswith("media/images/"))
    name = photo.filename.encode()
    central = next(at for at in range(len(data)) if data[at:at + 4] == b"PK\x01\x02"
                   and data[at + 46:at + 46 + len(name)] == name)
    data[central + 16] ^= 0xFF  # the CRC-32 field of the photo's directory entry
    damaged = bytes(data)
    with pytest.raises(ArchiveInvalid, match="CRC"):
        verify_archive(io.BytesIO(damaged), sha256=hashlib.sha256(damaged).hexdigest(),
                       size=len(damaged))


def test_verify_refuses_a_zip_that_is_not_an_archive() -> None:
    with pytest.raises(ArchiveInvalid, match=r"manifest\.json is missing"):
        verify_archive(io.BytesIO(b"PK\x05\x06" + b"\0" * 18))
