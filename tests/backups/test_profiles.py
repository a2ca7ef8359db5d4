"""Privacy profile ``public``: exactly what the public feeds show, nothing personal."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.events.models import Speaker
from tests.exports.conftest import DemoEvent, verify_archive
from tests.exports.helpers import download, start_export, wait_finished
from tests.support.celery import Worker


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def _hidden_session(client: TestClient, demo_event: DemoEvent) -> tuple[dict, dict]:
    """A submitted (unpublished) session whose only speaker has an e-mail and a photo."""
    base = f"/api/v1/events/{demo_event.id}"
    speaker = client.post(f"{base}/speakers", headers=demo_event.headers, json={
        "name": "Hidden Speaker", "email": "hidden.speaker@private.example",
        "mobile": "+49 30 1234567"})
    assert speaker.status_code == 201, speaker.text
    uploaded = client.put(f"{base}/speakers/{speaker.json()['id']}/photo",
                          headers=demo_event.headers,
                          files={"file": ("hidden.jpg", _jpeg(), "image/jpeg")})
    assert uploaded.status_code in (200, 201), uploaded.text
    session = client.post(f"{base}/sessions", headers=demo_event.headers, json={
        "title": "Secret Unpublished Talk", "state": "submitted",
        "comments": "private note: pay this speaker double",
        "speaker_ids": [speaker.json()["id"]]})
    assert session.status_code == 201, session.text
    return speaker.json(), session.json()


def test_public_archive_holds_nothing_personal(client: TestClient, db: Session,
                                               demo_event: DemoEvent, celery_worker: Worker,
                                               tmp_path: Path) -> None:
    _hidden_session(client, demo_event)
    job = start_export(client, demo_event.id, demo_event.headers, media=["image", "document"],
                       profile="public")
    assert job["options"]["profile"] == "public"
    job = wait_finished(client, job["id"], demo_event.headers)
    assert job["state"] == "succeeded", (job, celery_worker.log())
    data = download(client, job["id"], demo_event.headers)

    emails = [e for e in db.scalars(select(Speaker.email).where(
        Speaker.event_id == demo_event.id)) if e]
    assert len(emails) >= 25 and "hidden.speaker@private.example" in emails
    for address in emails:  # in the raw bytes: documents, schedule files, manifest
        assert address.encode() not in data, address
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # and inside every compressed entry
        everything = b"".join(zf.read(name) for name in zf.namelist())
        speakers = json.loads(zf.read("speakers.json"))
        sessions = json.loads(zf.read("sessions.json"))
        names = zf.namelist()
    for needle in [*emails, "Secret Unpublished Talk", "pay this speaker double",
                   "Hidden Speaker", "+49 30 1234567"]:
        assert needle.encode() not in everything, needle
    assert all(s["state"] in ("accepted", "confirmed") for s in sessions)
    assert all("email" not in p and "mobile" not in p for p in speakers)
    assert not any("hidden" in n for n in names)

    manifest = verify_archive(data, tmp_path)
    assert manifest["profile"] == "public"
    assert "name" in manifest["personal_data"]["speakers.json"]
    assert "email" in manifest["removed"]["speakers.json"]
    assert "email" not in manifest["personal_data"]["speakers.json"]


def test_full_archive_names_its_personal_data(client: TestClient, demo_event: DemoEvent,
                                              celery_worker: Worker, tmp_path: Path) -> None:
    job = wait_finished(client, start_export(client, demo_event.id, demo_event.headers,
                                             media=[])["id"], demo_event.headers)
    data = download(client, job["id"], demo_event.headers)
    manifest = verify_archive(data, tmp_path)
    assert manifest["profile"] == "full" and "removed" not in manifest
    assert {"email", "mobile"} <= set(manifest["personal_data"]["speakers.json"])
    assert b"@speakers.example" in zipfile.ZipFile(io.BytesIO(data)).read("speakers.json")


def test_public_archive_of_a_draft_event_fails_clearly(client: TestClient,
                                                       demo_event: DemoEvent,
                                                       celery_worker: Worker) -> None:
    assert client.patch(f"/api/v1/events/{demo_event.id}", headers=demo_event.headers,
                        json={"state": "draft"}).status_code == 200
    job = wait_finished(client, start_export(client, demo_event.id, demo_event.headers,
                                             media=[], profile="public")["id"],
                        demo_event.headers)
    assert job["state"] == "failed" and "not published" in job["error"]
    bad = client.post(f"/api/v1/events/{demo_event.id}/exports", headers=demo_event.headers,
                      json={"format": "archive", "profile": "secret"})
    assert bad.status_code == 422
