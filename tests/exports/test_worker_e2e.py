"""End to end through a real ``eventport worker``: API → broker → worker → storage → download."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.events.models import MediaFile
from eventport.storage import get_storage
from tests.exports.conftest import DemoEvent, Mailbox, verify_archive
from tests.exports.helpers import download, start_export, wait_finished
from tests.support.celery import Worker, wait_until


def test_archive_export_end_to_end(client: TestClient, demo_event: DemoEvent,
                                   celery_worker: Worker, smtp_sink: Mailbox,
                                   tmp_path: Path) -> None:
    job = start_export(client, demo_event.id, demo_event.headers, format="archive",
                       media=["image", "document"])
    assert job["state"] == "queued" and job["download_url"] is None
    job = wait_finished(client, job["id"], demo_event.headers)
    assert job["state"] == "succeeded", (job, celery_worker.log())
    assert job["progress"]["stage"] == "done"
    assert job["expires_at"] and job["finished_at"] and job["warnings"] == []
    assert job["download_url"].endswith(f"/api/v1/exports/{job['id']}/download")
    assert job["filename"].startswith(f"{demo_event.identifier}-archive-")

    data = download(client, job["id"], demo_event.headers)
    assert len(data) == job["size"]
    manifest = verify_archive(data, tmp_path)
    assert manifest["event"]["identifier"] == demo_event.identifier
    assert manifest["options"] == {"media": ["document", "image"]}
    assert manifest["counts"]["sessions"] == 48 and manifest["counts"]["speakers"] == 24
    paths = {f["path"]: f for f in manifest["files"]}
    for name in ("event.json", "sessions.json", "speakers.json", "sponsors.json",
                 "schedule/schedule.xml", "schedule/event.ics"):
        assert name in paths
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        speakers = json.loads(zf.read("speakers.json"))
        photo = speakers[0]["photo"]
        assert photo.startswith("media/images/speakers/") and photo in paths
        assert zf.getinfo(photo).compress_type == zipfile.ZIP_STORED  # JPEG: not again
        assert zf.getinfo("sessions.json").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("sessions.json").date_time == (1980, 1, 1, 0, 0, 0)

    # The requester got an e-mail with a link that works.
    mails = wait_until(lambda: smtp_sink.messages, 10, message="the notification e-mail")
    assert [m["Subject"] for m in mails] == ["Export ready: EventCon 2026"]
    body = mails[-1].get_content()
    assert "is ready" in body and job["sha256"] in body
    link = next(line for line in body.splitlines() if "/api/v1/files/" in line)
    assert client.get(link.strip()).content == data


def test_same_event_twice_gives_same_bytes(client: TestClient, demo_event: DemoEvent,
                                           celery_worker: Worker) -> None:
    first = wait_finished(client, start_export(client, demo_event.id, demo_event.headers)["id"],
                          demo_event.headers)
    second = wait_finished(client, start_export(client, demo_event.id, demo_event.headers)["id"],
                           demo_event.headers)
    assert first["state"] == second["state"] == "succeeded"
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"] and first["size"] == second["size"]


def test_missing_media_is_a_warning_not_a_failure(client: TestClient, db: Session,
                                                  demo_event: DemoEvent, celery_worker: Worker,
                                                  tmp_path: Path) -> None:
    media = db.scalars(select(MediaFile).where(MediaFile.kind == "image")
                       .order_by(MediaFile.id)).all()
    gone = media[3]
    get_storage().delete(gone.storage_key)
    job = start_export(client, demo_event.id, demo_event.headers, media=["image"])
    job = wait_finished(client, job["id"], demo_event.headers)
    assert job["state"] == "succeeded", job
    assert len(job["warnings"]) == 1
    warned = job["warnings"][0]["path"]
    assert warned.startswith("media/images/") and "could not read" in job["warnings"][0]["reason"]
    manifest = verify_archive(download(client, job["id"], demo_event.headers), tmp_path)
    assert [m["path"] for m in manifest["missing"]] == [warned]
    assert warned not in {f["path"] for f in manifest["files"]}


@pytest.mark.parametrize(("broker", "database_url"),
                         [("redis", "sqlite"), ("redis", "postgresql"), ("amqp", "postgresql")],
                         indirect=["database_url"])  # RabbitMQ once, to keep the suite short
def test_export_on_server_brokers(client: TestClient, demo_event: DemoEvent,
                                  start_broker_worker, broker: str, database_url: str,
                                  tmp_path: Path) -> None:
    start_broker_worker(broker)
    job = start_export(client, demo_event.id, demo_event.headers, media=["image"])
    job = wait_finished(client, job["id"], demo_event.headers)
    assert job["state"] == "succeeded", job
    verify_archive(download(client, job["id"], demo_event.headers), tmp_path)


def test_health_reports_broker(client: TestClient, celery_worker: Worker) -> None:
    body = client.get("/api/v1/health").json()
    assert body["broker"] == "ok", body
