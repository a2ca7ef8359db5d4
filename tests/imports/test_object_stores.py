"""An archive exported onto an object store imports back onto it: against moto's S3,
fake-gcs-server and Azurite, over the network. There the upload is read in place through
ranged GETs, media are staged one after the other and published by server-side copies
(several in flight) — paths local disk never takes. An encrypted export goes the same
way, decrypted on the store by the request that uploads it."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from typing import Any

import pyrage
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.events.media import store_media
from eventport.events.models import MediaFile, ProgramSession
from eventport.events.resources import RESOURCES
from eventport.exports import service as exports
from eventport.exports.verify import verify_stream
from eventport.imports import service as imports
from eventport.imports.encrypted import decrypt_upload
from eventport.imports.models import ImportJob
from tests.imports.conftest import build_full_event, export_archive, run


def _hashes(db: Session, storage: Any, event_id: int) -> list[str]:
    """The SHA-256 of every media object the event's rows name, read from the store."""
    rows = db.scalars(select(MediaFile).where(MediaFile.event_id == event_id)).all()
    out = []
    for row in rows:
        stored = hashlib.sha256(b"".join(storage.open(row.storage_key))).hexdigest()
        assert stored == row.sha256, row.storage_key
        out.append(stored)
    return sorted(out)


@pytest.mark.parametrize("name", ["s3", "gcs", "azure"])
def test_an_archive_imports_back_onto_the_object_store_it_was_exported_to(
        name: str, make_storage: Callable[[str], Any], db: Session,
        owner: User) -> None:
    storage = make_storage(name).storage
    event = build_full_event(db, storage, owner)
    talk = db.scalars(select(ProgramSession).where(ProgramSession.event_id == event.id,
                                                   ProgramSession.title == "Engines")).one()
    video = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(20 * 1024 * 1024)
    store_media(db, storage, event, talk, RESOURCES["sessions"].media_slot("video"),
                io.BytesIO(video), "long.mp4", 10**8)  # several parts, several ranged reads
    db.commit()
    original = _hashes(db, storage, event.id)

    job = run(db, storage, owner, export_archive(db, storage, event.id), mode="copy")

    assert job.state == "succeeded", job.error
    assert job.event_id != event.id
    assert _hashes(db, storage, job.event_id) == original  # every byte arrived
    assert hashlib.sha256(video).hexdigest() in original
    assert list(storage.list("imports/")) == []  # upload and staging gone
    if name == "s3":
        assert storage.abort_incomplete_uploads("") == 0  # no upload left open


@pytest.mark.parametrize("name", ["s3", "gcs", "azure"])
def test_an_encrypted_export_on_an_object_store_decrypts_and_imports_back(
        name: str, make_storage: Callable[[str], Any], db: Session, owner: User) -> None:
    """The age stream is written through the store's writer and read back (size and
    SHA-256) there; the upload is decrypted in the request from one staged object into
    another on the same store; the worker imports the plaintext."""
    storage = make_storage(name).storage
    event = build_full_event(db, storage, owner)
    original = _hashes(db, storage, event.id)
    alice = pyrage.x25519.Identity.generate()
    job, _ = exports.request_export(db, event, owner, "archive",
                                    {"recipients": [str(alice.to_public())]})
    assert exports.run_export(job.id, storage=storage, notify=False) == "succeeded"
    db.expire_all()
    job = exports.get_job(db, job.id)
    assert job.verified_at is not None and job.storage_key is not None
    sealed = b"".join(storage.open(job.storage_key))
    assert hashlib.sha256(sealed).hexdigest() == job.sha256
    assert verify_stream(iter([pyrage.decrypt(sealed, [alice])])).media == len(original)

    upload = imports.create_import_job(db, storage, owner, io.BytesIO(sealed), "e.zip.age",
                                       mode="copy")
    decrypt_upload(db, storage, upload, str(alice))
    imports.run_import(upload.id, storage=storage)
    db.expire_all()
    done = db.get(ImportJob, upload.id)
    assert done is not None and done.state == "succeeded", done and done.error
    assert _hashes(db, storage, int(done.event_id)) == original
    assert list(storage.list("imports/")) == []
