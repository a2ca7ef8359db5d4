"""Job lifecycle faults through the API and a real worker (issue 12, D5/D6): the broker
being down never costs a 500 or a duplicate; a cancel answered 200 always ends
``cancelled``; one that cannot apply is a 409."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.config import get_settings
from eventport.db import utcnow
from eventport.exports import service
from eventport.imports import service as imports
from eventport.job_lifecycle import UNSENT_STAGE
from tests.exports.conftest import DemoEvent
from tests.storage.servers import free_port
from tests.support.celery import Worker, wait_until


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL: where concurrent workers and requests really race."""
    return str(request.getfixturevalue("pg_database"))


def test_broker_down_saves_the_job_answers_202_and_the_sweep_sends_it(
        client: TestClient, db: Session, demo_event: DemoEvent,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTPORT_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    url = f"/api/v1/events/{demo_event.id}/exports"
    first = client.post(url, json={"format": "ical"}, headers=demo_event.headers)
    assert first.status_code == 202, first.text
    assert first.json()["progress"]["stage"] == UNSENT_STAGE
    again = client.post(url, json={"format": "ical"}, headers=demo_event.headers)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    compat = client.post(f"/v1/events/{demo_event.id}/export/json", json={"image": True},
                         headers=demo_event.headers)
    assert compat.status_code == 200 and compat.json()["task_url"].startswith("/v1/tasks/")
    upload = client.post("/api/v1/imports", headers=demo_event.headers, files={
        "file": ("schedule.xml", b"<schedule><conference><title>X</title></conference>"
                 b"</schedule>", "application/xml")})
    assert upload.status_code == 202, upload.text
    assert upload.json()["progress"]["stage"] == UNSENT_STAGE
    later = utcnow() + dt.timedelta(seconds=get_settings().job_stale_after + 1)
    assert first.json()["id"] in service.stale_jobs(db, now=later)
    assert upload.json()["id"] in imports.stale_jobs(db, now=later)


def test_every_cancel_answered_200_ends_cancelled(client: TestClient, db: Session,
                                                  demo_event: DemoEvent,
                                                  celery_worker: Worker) -> None:
    url = f"/api/v1/events/{demo_event.id}/exports"
    answered: dict[str, int] = {}
    for _ in range(50):
        job = client.post(url, json={"format": "archive", "media": []},
                          headers=demo_event.headers)
        assert job.status_code == 202
        cancel = client.post(f"/api/v1/exports/{job.json()['id']}/cancel",
                             headers=demo_event.headers)
        assert cancel.status_code in (200, 409), cancel.text
        if cancel.status_code == 200 or job.json()["id"] not in answered:
            answered[job.json()["id"]] = cancel.status_code  # any 200 must end cancelled

    def final() -> dict[str, str] | None:
        db.expire_all()
        states = {job_id: service.get_job(db, job_id).state for job_id in answered}
        return None if {"queued", "running"} & set(states.values()) else states

    states = wait_until(final, 120)
    wrong = {j: s for j, s in states.items() if answered[j] == 200 and s != "cancelled"}
    assert wrong == {}, (wrong, celery_worker.log())
    # A 409 means the job had already finished (an identical request may have returned a
    # job an earlier cancel had just ended): it never runs on.
    print(f"cancel race: {sum(s == 200 for s in answered.values())}×200 all cancelled, "
          f"{sum(s == 409 for s in answered.values())}×409 (already finished)")
