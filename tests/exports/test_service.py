"""The export service in-process (real DB on SQLite and PostgreSQL, real local storage):
claiming, dedupe, cancel, failures, stale-worker recovery, notifications."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from eventport import job_lifecycle as lifecycle
from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.db import utcnow
from eventport.events.models import Event
from eventport.exports import service
from eventport.exports.models import ExportJob
from eventport.storage import Storage, get_storage
from tests.exports.conftest import DemoEvent, Mailbox
from tests.exports.helpers import start_export
from tests.support.celery import wait_until


def _job(db: Session, job_id: str) -> ExportJob:
    db.expire_all()
    return service.get_job(db, job_id)


def _request(db: Session, demo: DemoEvent, **options: Any) -> ExportJob:
    event = db.get(Event, demo.id)
    user = db.query(User).filter_by(email=demo.owner_email).one()
    job, created = service.request_export(db, event, user, "archive", options or None)
    assert created
    return job


class GatedStorage:
    """Local storage whose media reads wait at a gate: an export that is 'mid-flight'."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.reading = threading.Event()
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open(self, key: str, **kw: Any) -> Iterator[bytes]:
        self.reading.set()
        assert self.gate.wait(30)
        yield from self.inner.open(key, **kw)


class BrokenWriterStorage:
    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextlib.contextmanager
    def writer(self, key: str, **kw: Any) -> Iterator[Any]:
        with self.inner.writer(key, **kw) as out:
            class Broken:
                def write(self, data: bytes) -> int:
                    raise OSError("disk quota exceeded")

                def tell(self) -> int:
                    return out.tell()

                def flush(self) -> None:
                    pass
            yield Broken()


def _keys_under(prefix: str) -> list[str]:
    return [info.key for info in get_storage().list(prefix)]


def test_run_twice_is_a_noop(db: Session, demo_event: DemoEvent) -> None:
    job = _request(db, demo_event, media=["image"])
    assert service.run_export(job.id, notify=False) == "succeeded"
    first = _job(db, job.id)
    assert service.run_export(job.id, notify=False) is None  # a redelivered message
    again = _job(db, job.id)
    assert (again.state, again.attempts, again.sha256) == ("succeeded", 1, first.sha256)
    assert again.storage_key == (f"events/{demo_event.id}/exports/{job.id}/{again.filename}")
    assert get_storage().stat(again.storage_key).size == again.size


def test_identical_requests_share_one_job(client: TestClient, db: Session,
                                          demo_event: DemoEvent) -> None:
    headers = demo_event.headers
    a = start_export(client, demo_event.id, headers, format="archive", media=["video", "image"])
    b = start_export(client, demo_event.id, headers, format="archive", media=["image", "video"])
    c = start_export(client, demo_event.id, headers, format="archive", media=["image"])
    assert a["id"] == b["id"] != c["id"]
    assert a["options"] == {"media": ["image", "video"]}
    # Once finished, the same request starts a new export.
    assert service.run_export(a["id"], notify=False) == "succeeded"
    d = start_export(client, demo_event.id, headers, format="archive", media=["image", "video"])
    assert d["id"] != a["id"]
    history = client.get(f"/api/v1/events/{demo_event.id}/exports", headers=headers).json()
    assert [j["id"] for j in history["items"]] == [d["id"], c["id"], a["id"]]
    assert (history["total"], history["page"], history["per_page"]) == (3, 1, 50)
    second = client.get(f"/api/v1/events/{demo_event.id}/exports?page=2&per_page=2",
                        headers=headers).json()
    assert [j["id"] for j in second["items"]] == [a["id"]] and second["total"] == 3


def test_database_refuses_two_active_identical_jobs(db: Session, demo_event: DemoEvent) -> None:
    """What settles two concurrent requests: the partial unique index."""
    for _ in range(2):
        db.add(ExportJob(event_id=demo_event.id, format="archive", options={},
                         options_key="{}", state="queued", warnings=[]))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_bad_requests_are_422(client: TestClient, demo_event: DemoEvent) -> None:
    url = f"/api/v1/events/{demo_event.id}/exports"
    for body in ({"format": "docx"}, {"media": ["photos"]}, {"format": "ical", "media": ["image"]},
                 {"media": "image"}, {"format": "archive", "extra": 1}):
        response = client.post(url, json=body, headers=demo_event.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_schedule_options_travel_with_the_job(client: TestClient, demo_event: DemoEvent
                                               ) -> None:
    """The original's ``status`` filter and a BOM for spreadsheets, through a real job."""
    url = f"/api/v1/events/{demo_event.id}/exports"
    job = start_export(client, demo_event.id, demo_event.headers, format="sessions-csv",
                       states=["confirmed", "confirmed"], bom=True)
    assert job["options"] == {"bom": True, "states": ["confirmed"]}
    assert service.run_export(job["id"], notify=False) == "succeeded"
    body = client.get(f"/api/v1/exports/{job['id']}/download", headers=demo_event.headers,
                      follow_redirects=True).content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows and {row["state"] for row in rows} == {"confirmed"}
    for bad in ({"format": "sessions-csv", "states": ["maybe"]},
                {"format": "ical", "bom": True}, {"format": "pentabarf", "states": 5}):
        response = client.post(url, json=bad, headers=demo_event.headers)
        assert response.status_code == 422, (bad, response.text)


def test_unscheduled_session_is_warned_about_once(client: TestClient, db: Session,
                                                  demo_event: DemoEvent) -> None:
    """Four schedule files leave it out; the job names it once, the archive still succeeds."""
    created = client.post(f"/api/v1/events/{demo_event.id}/sessions", headers=demo_event.headers,
                          json={"title": "Floating idea", "state": "confirmed"})
    assert created.status_code == 201
    job = start_export(client, demo_event.id, demo_event.headers, media=[])
    assert service.run_export(job["id"], notify=False) == "succeeded"
    warnings = _job(db, job["id"]).warnings
    about_it = [w for w in warnings if w.get("session_id") == created.json()["id"]]
    assert len(about_it) == 1 and about_it[0]["type"] == "unscheduled_session"


def test_cancel_running_export_leaves_no_object(client: TestClient, db: Session,
                                                demo_event: DemoEvent) -> None:
    job = _request(db, demo_event)
    storage = GatedStorage(get_storage())
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(
        service.run_export(job.id, storage=storage, notify=False)))  # type: ignore[arg-type]
    worker.start()
    try:
        assert storage.reading.wait(30)
        assert _job(db, job.id).state == "running"
        response = client.post(f"/api/v1/exports/{job.id}/cancel", headers=demo_event.headers)
        assert response.status_code == 200 and response.json()["cancel_requested"]
        threading.Timer(1.2, storage.gate.set).start()  # past one heartbeat interval
        worker.join(30)
    finally:
        storage.gate.set()
    assert result == ["cancelled"]
    final = _job(db, job.id)
    assert (final.state, final.storage_key, final.size) == ("cancelled", None, None)
    assert _keys_under(f"events/{demo_event.id}/exports/{job.id}/") == []
    # Cancelling a finished job is refused.
    again = client.post(f"/api/v1/exports/{job.id}/cancel", headers=demo_event.headers)
    assert again.status_code == 409


def test_cancel_queued_export(client: TestClient, demo_event: DemoEvent) -> None:
    job = start_export(client, demo_event.id, demo_event.headers)
    response = client.post(f"/api/v1/exports/{job['id']}/cancel", headers=demo_event.headers)
    assert response.json()["state"] == "cancelled"
    assert service.run_export(job["id"], notify=False) is None  # its message arrives later


def test_failure_is_recorded_and_mailed(db: Session, demo_event: DemoEvent, smtp_sink: Mailbox,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTPORT_SMTP_URL", smtp_sink.url)
    get_settings.cache_clear()
    job = _request(db, demo_event, media=["image"])
    state = service.run_export(job.id, storage=BrokenWriterStorage(get_storage()))  # type: ignore[arg-type]
    assert state == "failed"
    final = _job(db, job.id)
    assert final.state == "failed" and "disk quota exceeded" in final.error
    assert _keys_under(f"events/{demo_event.id}/exports/{job.id}/") == []
    mails = wait_until(lambda: smtp_sink.messages, 10)
    assert len(mails) == 1
    assert mails[-1]["Subject"] == "Export failed: EventCon 2026"
    assert "disk quota exceeded" in mails[-1].get_content()


def test_success_without_smtp_sends_nothing_and_succeeds(db: Session,
                                                         demo_event: DemoEvent) -> None:
    assert get_settings().smtp_url is None
    job = _request(db, demo_event, media=[])
    assert service.run_export(job.id) == "succeeded"


def test_dead_worker_job_is_requeued_and_taken_over(db: Session, demo_event: DemoEvent) -> None:
    job = _request(db, demo_event, media=["image"])
    stale_after = get_settings().job_stale_after
    long_ago = utcnow() - dt.timedelta(seconds=stale_after + 5)
    # A worker claimed it, then died: running, heartbeat stopped.
    attempt = service._claim(service.get_sessionmaker(), job.id, lambda: long_ago, stale_after)
    assert attempt == 1
    assert service.stale_jobs(db) == [job.id]
    assert service.run_export(job.id, notify=False) == "succeeded"
    final = _job(db, job.id)
    assert (final.state, final.attempts) == ("succeeded", 2)
    # The "dead" worker waking up finds it lost the job and publishes nothing.
    ghost = service._Run(job.id, 1, service.get_sessionmaker(), utcnow)
    with pytest.raises(service.LostOwnership):
        ghost.heartbeat()
        ghost.check()


def test_fresh_running_job_is_not_taken(db: Session, demo_event: DemoEvent) -> None:
    job = _request(db, demo_event)
    service._claim(service.get_sessionmaker(), job.id, utcnow, 90)
    assert service.stale_jobs(db) == []
    assert service.run_export(job.id, notify=False) is None  # running elsewhere


def test_job_that_kills_workers_fails_after_max_attempts(db: Session,
                                                          demo_event: DemoEvent) -> None:
    job = _request(db, demo_event)
    base = utcnow() - dt.timedelta(hours=1)
    for n in range(lifecycle.MAX_ATTEMPTS):  # claimed, died, claimed again, ... three times
        at = base + dt.timedelta(minutes=2 * n)
        assert service._claim(service.get_sessionmaker(), job.id, lambda at=at: at, 90) == n + 1
    assert service.stale_jobs(db) == []
    final = _job(db, job.id)
    assert final.state == "failed" and "stopped 3 times" in final.error


def test_queued_job_whose_message_was_lost_is_resent(db: Session,
                                                     demo_event: DemoEvent) -> None:
    job = _request(db, demo_event)
    later = utcnow() + dt.timedelta(seconds=get_settings().job_stale_after + 1)
    assert service.stale_jobs(db, now=later) == [job.id]
    assert service.stale_jobs(db, now=later) == []  # not again until it is stale again


def test_failure_reasons_are_actionable_without_internals() -> None:
    from eventport.storage import PermanentStorageError

    bucket = PermanentStorageError("S3 bucket 'x' does not exist; create it")
    assert service._failure_reason(bucket, "j1") == str(bucket)
    disk = OSError(28, "No space left on device", "/srv/eventport/data/storage/.tmp/put-1")
    assert service._failure_reason(disk, "j1") == (
        "writing the export failed: No space left on device")
    leaky = RuntimeError("(psycopg.errors.X) SELECT password_hash FROM users")
    reason = service._failure_reason(leaky, "j1")
    assert "SELECT" not in reason and "RuntimeError" in reason and "j1" in reason
