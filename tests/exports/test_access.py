"""Who may see and download exports; signed links expire; the Open Event compat API."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.models import Role
from eventport.exports import service
from eventport.storage.signing import make_token
from tests.exports.conftest import DemoEvent
from tests.exports.helpers import start_export


@pytest.fixture
def finished_job(client: TestClient, demo_event: DemoEvent) -> dict:
    job = start_export(client, demo_event.id, demo_event.headers, media=["image"])
    assert service.run_export(job["id"], notify=False) == "succeeded"
    return client.get(f"/api/v1/exports/{job['id']}", headers=demo_event.headers).json()


def test_stranger_sees_nothing(client: TestClient, demo_event: DemoEvent, finished_job: dict,
                               caller) -> None:
    stranger = caller("stranger@example.org")
    job_id = finished_job["id"]
    for method, url in (("get", f"/api/v1/exports/{job_id}"),
                        ("get", f"/api/v1/exports/{job_id}/download"),
                        ("post", f"/api/v1/exports/{job_id}/cancel"),
                        ("delete", f"/api/v1/exports/{job_id}"),
                        ("get", f"/api/v1/events/{demo_event.id}/exports"),
                        ("post", f"/api/v1/events/{demo_event.id}/exports"),
                        ("get", f"/v1/tasks/{job_id}"),
                        ("post", f"/v1/events/{demo_event.id}/export/json")):
        response = client.request(method, url, headers=stranger, follow_redirects=False,
                                  **({"json": {}} if method == "post" else {}))
        assert response.status_code == 404, (method, url, response.status_code)
    assert client.get(f"/api/v1/exports/{job_id}").status_code == 401
    assert client.get(f"/api/v1/exports/{job_id}/download").status_code == 401
    assert client.get(f"/api/v1/exports/{'0' * 32}", headers=demo_event.headers
                      ).status_code == 404


def test_every_event_role_may_export_and_download(client: TestClient, demo_event: DemoEvent,
                                                  finished_job: dict, caller) -> None:
    coorganizer = caller("co@example.org", Role.COORGANIZER)
    response = client.get(f"/api/v1/exports/{finished_job['id']}/download",
                          headers=coorganizer, follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["location"]
    assert urlsplit(location).path.startswith("/api/v1/files/")
    file = client.get(location)
    assert file.status_code == 200 and len(file.content) == finished_job["size"]
    assert finished_job["filename"] in file.headers["content-disposition"]
    ranged = client.get(location, headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == b"PK\x03\x04"


def test_expired_link_is_refused(client: TestClient, finished_job: dict, db: Session) -> None:
    key = service.get_job(db, finished_job["id"]).storage_key
    token = make_token(key, expires_in=60, filename="x.zip", now=time.time() - 120)
    response = client.get(f"/api/v1/files/{token}")
    assert response.status_code == 403 and "expired" in response.text


def test_open_event_compat_flow(client: TestClient, demo_event: DemoEvent) -> None:
    url = f"/v1/events/{demo_event.id}/export/json"
    assert client.post(url, json={"image": True}).status_code == 401
    response = client.post(url, json={"image": True, "video": False, "document": True,
                                      "audio": False}, headers=demo_event.headers)
    assert response.status_code == 200, response.text
    task_url = response.json()["task_url"]
    assert task_url.startswith("/v1/tasks/")
    job_id = task_url.rsplit("/", 1)[1]
    pending = client.get(task_url, headers=demo_event.headers).json()
    assert pending == {"state": "PENDING", "result": None}
    assert client.get(f"/api/v1/exports/{job_id}", headers=demo_event.headers
                      ).json()["options"] == {"media": ["image", "document"]}
    service.run_export(job_id, notify=False)
    done = client.get(task_url, headers=demo_event.headers).json()
    assert done["state"] == "SUCCESS"
    assert client.get(done["result"]["download_url"]).content[:2] == b"PK"


def test_open_event_compat_failure(client: TestClient, demo_event: DemoEvent, db: Session
                                   ) -> None:
    task_url = client.post(f"/v1/events/{demo_event.id}/export/json", json={},
                           headers=demo_event.headers).json()["task_url"]
    job = service.get_job(db, task_url.rsplit("/", 1)[1])
    job.state, job.error = "failed", "storage unreachable"
    db.commit()
    assert client.get(task_url, headers=demo_event.headers).json() == {
        "state": "FAILURE", "result": "storage unreachable"}


def test_open_event_compat_reads_a_cancelled_export_as_failure(
        client: TestClient, demo_event: DemoEvent) -> None:
    """The Open Event frontend knows SUCCESS and FAILURE, not Celery's REVOKED."""
    task_url = client.post(f"/v1/events/{demo_event.id}/export/json", json={},
                           headers=demo_event.headers).json()["task_url"]
    job_id = task_url.rsplit("/", 1)[1]
    cancelled = client.post(f"/api/v1/exports/{job_id}/cancel", headers=demo_event.headers)
    assert cancelled.status_code == 200, cancelled.text
    status = client.get(task_url, headers=demo_event.headers).json()
    assert status["state"] == "FAILURE"
    assert isinstance(status["result"], str) and "cancel" in status["result"]


def test_local_download_is_a_302_to_a_link_expiring_after_the_ttl(
        client: TestClient, demo_event: DemoEvent, finished_job: dict,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DESIGN: download links are signed and expire — on local storage too, so the
    download is a 302 to ``/api/v1/files/<token>`` (which streams, with Range), never
    the file itself behind the bearer token."""
    from eventport.config import get_settings
    from eventport.storage.signing import ExpiredToken, verify_token

    monkeypatch.setenv("EVENTPORT_DOWNLOAD_URL_TTL", "120")
    get_settings.cache_clear()
    try:
        before = time.time()
        response = client.get(f"/api/v1/exports/{finished_job['id']}/download",
                              headers=demo_event.headers, follow_redirects=False)
    finally:
        get_settings.cache_clear()
    assert response.status_code == 302 and response.headers["cache-control"] == "no-store"
    token = urlsplit(response.headers["location"]).path.rsplit("/", 1)[1]
    grant = verify_token(token)
    assert before + 119 <= grant.expires_at <= time.time() + 121
    with pytest.raises(ExpiredToken):
        verify_token(token, now=grant.expires_at)
