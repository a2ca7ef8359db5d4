"""The HTTP surface, with a real Celery worker running the import task."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.service import create_user
from eventport.config import get_settings
from tests.imports.archives import make_archive
from tests.imports.conftest import SCHEDULES, row_counts
from tests.support.celery import Worker, celery_worker, celery_worker_env, worker_pool  # noqa: F401

PASSWORD = "correct horse battery"


def headers_for(client: TestClient, db: Session, email: str) -> dict[str, str]:
    create_user(db, email, PASSWORD)
    db.commit()
    token = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def wait(client: TestClient, url: str, headers: dict[str, str], worker: Worker) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(url, headers=headers).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import did not finish: {job}\n{worker.log()}")


def test_import_through_api_and_worker(client: TestClient, db: Session,
                                       celery_worker: Worker) -> None:  # noqa: F811
    owner = headers_for(client, db, "owner@example.org")
    stranger = headers_for(client, db, "stranger@example.org")
    raw = (SCHEDULES / "pretalx-fixture-frab_schedule_minimal_2.xml").read_bytes()
    response = client.post("/api/v1/imports", headers=owner,
                           files={"file": ("schedule.xml", raw, "application/xml")})
    assert response.status_code == 202, response.text
    url = f"/api/v1/imports/{response.json()['id']}"
    job = wait(client, url, owner, celery_worker)
    assert job["state"] == "succeeded", (job, celery_worker.log())
    assert job["progress"]["stage"] == "done"
    event = client.get(f"/api/v1/events/{job['event_id']}", headers=owner)
    assert event.status_code == 200 and event.json()["name"] == "PrivacyWeek 2016"
    assert client.get(url, headers=stranger).status_code == 404

    dry = client.post("/api/v1/imports?dry_run=true", headers=owner,
                      data={"format": "archive"},
                      files={"file": ("a.zip", make_archive(), "application/zip")})
    assert dry.status_code == 202
    before = row_counts(db)
    job = wait(client, f"/api/v1/imports/{dry.json()['id']}", owner, celery_worker)
    assert job["state"] == "succeeded" and job["event_id"] is None
    assert job["result"]["counts"]["sessions"] == 1
    assert row_counts(db) == before

    history = client.get("/api/v1/imports?per_page=1", headers=owner).json()
    assert (history["total"], history["page"], history["per_page"]) == (2, 1, 1)
    assert [j["id"] for j in history["items"]] == [dry.json()["id"]]  # newest first
    assert client.get("/api/v1/imports", headers=stranger).json()["total"] == 0


def test_upload_limits_and_bad_requests(client: TestClient, db: Session,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    owner = headers_for(client, db, "owner@example.org")
    assert client.post("/api/v1/imports",
                       files={"file": ("a.zip", b"PK", "application/zip")}).status_code == 401
    bad = client.post("/api/v1/imports", headers=owner, data={"format": "pdf"},
                      files={"file": ("a.zip", make_archive(), "application/zip")})
    assert bad.status_code == 422 and "unknown import format" in bad.json()["detail"]
    junk = client.post("/api/v1/imports", headers=owner,
                       files={"file": ("a.bin", b"\x00\x01junk", "application/octet-stream")})
    assert junk.status_code == 422
    monkeypatch.setenv("EVENTPORT_IMPORT_MAX_BYTES", "1000")
    get_settings.cache_clear()
    big = client.post("/api/v1/imports", headers=owner,
                      files={"file": ("a.zip", make_archive(), "application/zip")})
    assert big.status_code == 413
    assert client.get("/api/v1/imports/doesnotexist", headers=owner).status_code == 404


def test_update_mode_needs_an_event_the_caller_may_edit(client: TestClient, db: Session
                                                        ) -> None:
    owner = headers_for(client, db, "owner@example.org")
    stranger = headers_for(client, db, "stranger@example.org")
    event = client.post("/api/v1/events", headers=owner, json={
        "name": "Mine", "starts_at": "2026-01-10T09:00:00", "ends_at": "2026-01-11T18:00:00"})
    assert event.status_code == 201, event.text
    event_id = event.json()["id"]
    archive = ("a.zip", make_archive(), "application/zip")
    no_target = client.post("/api/v1/imports?mode=update", headers=owner,
                            files={"file": archive})
    assert no_target.status_code == 422 and "event_id" in no_target.json()["detail"]
    bad_mode = client.post("/api/v1/imports?mode=merge", headers=owner, files={"file": archive})
    assert bad_mode.status_code == 422 and "one of: create, update, copy" in bad_mode.json()[
        "detail"]
    stranger_update = client.post(f"/api/v1/imports?mode=update&event_id={event_id}",
                                  headers=stranger, files={"file": archive})
    assert stranger_update.status_code == 404
    ok = client.post("/api/v1/imports", headers=owner,
                     data={"mode": "update", "event_id": str(event_id), "format": "archive"},
                     files={"file": archive})
    assert ok.status_code == 202, ok.text
    assert ok.json()["mode"] == "update" and ok.json()["event_id"] == event_id


def _multipart_with_field_after_the_file(name: str, value: str) -> tuple[bytes, str]:
    """A body whose form field follows the file, as some clients send it."""
    boundary = "eventport-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"schedule.xml\"\r\nContent-Type: application/xml\r\n\r\n").encode()
    body += (SCHEDULES / "pretalx-fixture-frab_schedule_minimal_2.xml").read_bytes()
    body += (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
             f"{value}\r\n--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_dry_run_as_a_form_field_is_a_dry_run(client: TestClient, db: Session) -> None:
    """curl -F dry_run=true and HTML forms send it as a field: it must never import for
    real (it was ignored: only the query parameter counted)."""
    owner = headers_for(client, db, "owner@example.org")
    raw = (SCHEDULES / "pretalx-fixture-frab_schedule_minimal_2.xml").read_bytes()
    before = client.post("/api/v1/imports", headers=owner, data={"dry_run": "true"},
                         files={"file": ("schedule.xml", raw, "application/xml")})
    assert before.status_code == 202 and before.json()["dry_run"] is True, before.text
    body, content_type = _multipart_with_field_after_the_file("dry_run", "on")
    after = client.post("/api/v1/imports", headers={**owner, "Content-Type": content_type},
                        content=body)
    assert after.status_code == 202 and after.json()["dry_run"] is True, after.text
    assert client.get(after.headers["Location"], headers=owner).json()["dry_run"] is True
    body, content_type = _multipart_with_field_after_the_file("dry_run", "perhaps")
    junk = client.post("/api/v1/imports", headers={**owner, "Content-Type": content_type},
                       content=body)
    assert junk.status_code == 422 and "dry_run must be true or false" in junk.json()["detail"]
    no = client.post("/api/v1/imports", headers=owner, data={"dry_run": "false"},
                     files={"file": ("schedule.xml", raw, "application/xml")})
    assert no.status_code == 202 and no.json()["dry_run"] is False
