"""``mode=create`` of a source whose event is already here: 409 at request time.

The request reads only what the format's probe needs (an archive's manifest.json and
event.json), refuses before the job is queued, deletes the upload, and names the event
only to callers with a role on it. The job-side check stays as the backstop.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from typing import Any

import pyrage
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.events.models import Event
from eventport.imports.models import ImportJob
from eventport.imports.readers import probe_upload, read_upload
from eventport.imports.service import PROBE_WINDOW
from eventport.imports.source import open_stored
from eventport.jobs.celery_app import broker_dir
from eventport.storage import Storage
from tests.imports.archives import base_documents, make_archive
from tests.imports.conftest import FOSSASIA, SCHEDULES, export_archive, open_event_zip, run
from tests.imports.test_api import PASSWORD, headers_for

FOSDEM = SCHEDULES / "fosdem-2007-schedule.xml"


def token_for(client: TestClient, user: User) -> dict[str, str]:
    token = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def post(client: TestClient, headers: dict[str, str], name: str, data: bytes,
         query: str = "", fields: dict[str, str] | None = None) -> Response:
    return client.post(f"/api/v1/imports{query}", headers=headers, data=fields or {},
                       files={"file": (name, data, "application/octet-stream")})


def staged(storage: Storage) -> list[str]:
    return [info.key for info in storage.list("imports/")]


def test_known_archive_is_refused_before_queueing(client: TestClient, db: Session,
                                                  storage: Storage, full_event: Event,
                                                  owner: User) -> None:
    archive = export_archive(db, storage, full_event.id)
    mine = post(client, token_for(client, owner), "round-trip.zip", archive)
    assert mine.status_code == 409, mine.text
    assert mine.headers["content-type"] == "application/problem+json"
    problem = mine.json()
    assert problem["event"] == {"id": full_event.id, "identifier": "round-trip-conf",
                                "name": "Round Trip Conf", "uuid": full_event.uuid}
    assert "'round-trip-conf' (Round Trip Conf" in problem["detail"]
    assert f"event_id={full_event.id}" in problem["detail"]
    assert staged(storage) == []  # the upload is gone
    job = db.scalars(select(ImportJob)).one()
    assert (job.state, job.error) == ("failed", problem["detail"])  # never queued
    assert job.progress_stage == "failed"

    stranger = post(client, headers_for(client, db, "stranger@example.org"), "a.zip", archive)
    assert stranger.status_code == 409
    assert "event" not in stranger.json()
    detail = stranger.json()["detail"]
    assert "an event with this source's uuid" in detail
    assert "Round Trip" not in detail and "round-trip-conf" not in detail
    assert staged(storage) == []

    assert queued() == []  # no message ever reached the broker
    copy = post(client, token_for(client, owner), "a.zip", archive, "?mode=copy")
    assert copy.status_code == 202, copy.text
    assert len(queued()) == 1 and copy.json()["id"] in queued()[0]


def queued() -> list[str]:
    """The messages on the (filesystem) broker's queue, as text."""
    folder = broker_dir(get_settings()) / "queue"
    return [p.read_text(errors="replace") for p in folder.glob("*")] if folder.exists() else []


def test_each_format_probes_the_uuid_its_reader_derives(
        client: TestClient, db: Session, storage: Storage, owner: User) -> None:
    """v1 archive (uuids derived from the writing server's ids), Open Event, frab XML and
    JSON: import once, then the same file again is a 409 at request time."""
    headers = token_for(client, owner)
    sources = [("v1.zip", make_archive()), ("fossasia.zip", open_event_zip(FOSSASIA)),
               ("schedule.xml", FOSDEM.read_bytes()),
               ("schedule.json", (SCHEDULES.parent / "voc-schedule" / "json" / "examples"
                                  / "pretalx-democon.json").read_bytes())]
    for name, data in sources:
        expected, zf = read_upload(io.BytesIO(data), None)
        if zf is not None:
            zf.close()
        assert probe_upload(io.BytesIO(data), None) == expected.event.uuid, name
        done = run(db, storage, owner, data, filename=name)
        assert done.state == "succeeded", (name, done.error)
        again = post(client, headers, name, data)
        assert again.status_code == 409, (name, again.text)
        assert again.json()["event"]["uuid"] == expected.event.uuid
    assert staged(storage) == []


def test_encrypted_archive_is_probed_after_decryption(
        client: TestClient, db: Session, storage: Storage, owner: User) -> None:
    archive = make_archive()
    assert run(db, storage, owner, archive).state == "succeeded"
    identity = pyrage.x25519.Identity.generate()
    sealed = pyrage.encrypt(archive, [identity.to_public()])
    refused = post(client, token_for(client, owner), "a.zip.age", sealed,
                   fields={"identity": str(identity)})
    assert refused.status_code == 409, refused.text
    assert refused.json()["event"]["identifier"] == "hand-made"
    assert staged(storage) == []


def test_probe_reads_manifest_and_event_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A 24 MB video in the archive: the probe reads a few kilobytes of the file (the
    zip's directory, manifest.json, event.json), and a media entry whose bytes no longer
    match the manifest does not disturb it (it never opened it)."""
    video = os.urandom(24 * 1024 * 1024)
    archive = make_archive(media={"media/video/sessions/11-hello-video.mp4": video},
                           documents=_with_video(), tamper={
                               "media/video/sessions/11-hello-video.mp4": video[::-1]})
    path = tmp_path / "big.zip"
    path.write_bytes(archive)
    with open(path, "rb", buffering=0) as raw:
        counting = _Counting(raw)
        uuid = probe_upload(io.BufferedReader(counting, 64 * 1024), None)  # type: ignore[arg-type]
    assert uuid
    assert counting.read_bytes < 512 * 1024, counting.read_bytes
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("media/video/sessions/11-hello-video.mp4").file_size == len(video)


def _with_video() -> dict[str, Any]:
    docs = base_documents()
    docs["speakers"][0]["photo"] = None
    docs["sessions"][0].update(slides=None, audio=None,
                               video="media/video/sessions/11-hello-video.mp4")
    return docs


class _Counting(io.RawIOBase):
    """A real file that counts the bytes read from it."""

    def __init__(self, raw: io.FileIO) -> None:
        self.raw, self.read_bytes = raw, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        n = self.raw.readinto(buffer) or 0
        self.read_bytes += n
        return n


def test_job_side_check_stays_as_backstop(db: Session, storage: Storage, owner: User) -> None:
    """A job that slipped past the probe (two uploads racing, the CLI) fails with the same
    409 words when it runs."""
    archive = make_archive()
    assert run(db, storage, owner, archive).state == "succeeded"
    second = run(db, storage, owner, archive)
    assert second.state == "failed" and "already has this source's uuid" in str(second.error)
    assert db.scalar(select(Event.id).where(Event.identifier == "hand-made")) is not None


def test_openapi_documents_the_409(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/api/v1/imports"]["post"]["responses"]
    assert "409" in responses and "202" in responses
    assert "timezone" in spec["paths"]["/api/v1/imports"]["post"]["requestBody"]["content"][
        "multipart/form-data"]["schema"]["properties"]
    apply = spec["paths"]["/api/v1/imports/{job_id}/apply"]["post"]["responses"]
    assert {"202", "401", "404", "409"} <= set(apply)
    assert "Location" in apply["202"]["headers"]


class _Metered:
    """A real backend whose ``open`` counts the bytes the reader consumed."""

    def __init__(self, storage: Storage) -> None:
        self.storage, self.consumed = storage, 0

    def stat(self, key: str) -> Any:
        return self.storage.stat(key)

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Any:
        for chunk in self.storage.open(key, start=start, end=end):
            self.consumed += len(chunk)
            yield chunk


@pytest.mark.parametrize("name", ["s3", "gcs", "azure"])
def test_probe_reads_little_of_an_archive_on_object_stores(
        name: str, make_storage: Callable[[str], Any]) -> None:
    """Against moto's S3, fake-gcs-server and Azurite, through the ranged reads a request
    makes (bounded ranges): the 409 probe consumes < 512 KiB of a 24 MB archive."""
    storage = make_storage(name).storage
    video = os.urandom(24 * 1024 * 1024)
    archive = make_archive(media={"media/video/sessions/11-hello-video.mp4": video},
                           documents=_with_video())
    storage.put_stream("imports/probe/upload", iter([archive]))
    metered = _Metered(storage)
    with open_stored(metered, "imports/probe/upload",  # type: ignore[arg-type]
                     PROBE_WINDOW, PROBE_WINDOW) as source:
        uuid = probe_upload(source, None)
    expected, zf = read_upload(io.BytesIO(archive), None)
    assert zf is not None
    zf.close()
    assert uuid == expected.event.uuid
    assert metered.consumed < 512 * 1024, (metered.consumed, len(archive))
