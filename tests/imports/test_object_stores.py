"""An archive exported onto an object store imports back onto it: against moto's S3,
fake-gcs-server and Azurite, over the network. There the upload is read in place through
ranged GETs, media are staged one after the other and published by server-side copies
(several in flight) — paths local disk never takes."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.events.media import store_media
from eventport.events.models import MediaFile, ProgramSession
from eventport.events.resources import RESOURCES
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
