"""Backup policies: the API, exactly-once scheduling, keep_last, failure reports."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from eventport.accounts.models import Role
from eventport.backups.models import BackupPolicy
from eventport.backups.service import _claim, run_due
from eventport.db import get_sessionmaker
from eventport.exports.models import ExportJob
from eventport.exports.service import run_export
from eventport.storage import get_storage
from tests.api.conftest import Caller
from tests.backups.conftest import Receiver, payload
from tests.exports.conftest import SmtpServer

NOW = dt.datetime(2026, 6, 10, 9, 0, 30, tzinfo=dt.UTC)


def _put(client: TestClient, event_id: int, headers: dict[str, str], **body: object):
    return client.put(f"/api/v1/events/{event_id}/backup-policy", headers=headers,
                      json={"cron": "0 3 * * *", "media": [], **body})


def _due_now(db: Session, event_id: int, when: dt.datetime = NOW) -> None:
    db.execute(update(BackupPolicy).where(BackupPolicy.event_id == event_id)
               .values(next_run_at=when))
    db.commit()


def _scheduled(db: Session, event_id: int) -> list[ExportJob]:
    db.expire_all()
    return list(db.scalars(select(ExportJob).where(ExportJob.event_id == event_id,
                                                   ExportJob.trigger == "schedule")
                           .order_by(ExportJob.created_at)))


def test_policy_api(client: TestClient, owner: Caller, event: dict, with_role) -> None:
    url = f"/api/v1/events/{event['id']}/backup-policy"
    assert client.get(url, headers=owner.headers).status_code == 404
    response = _put(client, event["id"], owner.headers, keep_last=3)
    assert response.status_code == 200, response.text
    policy = response.json()
    assert policy["timezone"] == "Europe/Berlin"  # the event's
    assert policy["format"] == "archive" and policy["profile"] == "full"
    assert policy["keep_last"] == 3 and policy["last_result"] is None
    # 03:00 in Berlin is 01:00 or 02:00 UTC
    assert policy["next_run_at"][11:16] in ("01:00", "02:00")
    assert client.get(url, headers=owner.headers).json() == policy
    for bad in ({"cron": "61 * * * *"}, {"cron": "not a cron"}, {"timezone": "Mars/Base"},
                {"keep_last": 0}, {"format": "nope"}, {"media": ["smell"]},
                {"unknown": 1}, {"cron": 5}):
        answer = _put(client, event["id"], owner.headers, **bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    organizer = with_role("org@example.org", Role.ORGANIZER)
    assert client.get(url, headers=organizer.headers).status_code == 403
    assert client.delete(url, headers=owner.headers).status_code == 204
    assert client.get(url, headers=owner.headers).status_code == 404
    audit = client.get(f"/api/v1/events/{event['id']}/audit", headers=owner.headers).json()
    assert [e["action"] for e in audit["items"]] == ["backup_policy.deleted",
                                                     "backup_policy.updated"]


def test_due_backup_is_created_once_by_racing_schedulers(client: TestClient, owner: Caller,
                                                         event: dict, db: Session) -> None:
    """Schedulers tick at once, an hour after the scheduler last ran: one claim wins, and
    one export is made (not one per missed minute)."""
    assert _put(client, event["id"], owner.headers, cron="* * * * *").status_code == 200
    _due_now(db, event["id"], NOW - dt.timedelta(hours=1))
    policy_id = db.scalar(select(BackupPolicy.id).where(BackupPolicy.event_id == event["id"]))
    claims: list[object] = []
    barrier = threading.Barrier(4)

    def claim() -> None:  # the step that must be exclusive, without the export's dedupe
        barrier.wait()
        with get_sessionmaker()() as session:
            claims.append(_claim(session, policy_id, 0, NOW))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(c is not None for c in claims) == 1
    _due_now(db, event["id"], NOW - dt.timedelta(hours=1))
    created: list[str] = []
    barrier = threading.Barrier(4)

    def tick() -> None:
        barrier.wait()
        created.extend(run_due(sessions=get_sessionmaker(), now=NOW).created)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    [job] = _scheduled(db, event["id"])
    assert job.id == created[0] and job.backup_policy_id is not None
    assert job.options == {"media": []}
    policy = db.scalar(select(BackupPolicy).where(BackupPolicy.event_id == event["id"]))
    assert policy is not None and policy.next_run_at == dt.datetime(2026, 6, 10, 9, 1,
                                                                    tzinfo=dt.UTC)
    assert run_due(now=NOW).created == []  # not due again until 09:01
    body = client.get(f"/api/v1/exports/{job.id}", headers=owner.headers).json()
    assert body["trigger"] == "schedule"
    audit = client.get(f"/api/v1/events/{event['id']}/audit", headers=owner.headers).json()
    assert audit["items"][0]["actor"] == "schedule"


def test_keep_last_per_policy_pinned_aside(client: TestClient, owner: Caller, event: dict,
                                           db: Session) -> None:
    assert _put(client, event["id"], owner.headers, keep_last=1).status_code == 200
    manual = client.post(f"/api/v1/events/{event['id']}/exports", headers=owner.headers,
                         json={"format": "archive", "media": []}).json()
    assert run_export(manual["id"]) == "succeeded"
    ids = []
    for minute in range(3):
        _due_now(db, event["id"], NOW + dt.timedelta(minutes=minute))
        [job_id] = run_due(now=NOW + dt.timedelta(minutes=minute)).created
        assert run_export(job_id) == "succeeded"
        ids.append(job_id)
    client.patch(f"/api/v1/exports/{ids[0]}", json={"pinned": True}, headers=owner.headers)
    report = run_due(now=NOW + dt.timedelta(minutes=5), storage=get_storage())
    assert report.expired == [ids[1]]
    states = {j.id: j.state for j in _scheduled(db, event["id"])}
    assert states == {ids[0]: "succeeded", ids[1]: "expired", ids[2]: "succeeded"}
    # a manual export of the same event is not the policy's to expire
    assert db.get(ExportJob, manual["id"]).state == "succeeded"
    policy = client.get(f"/api/v1/events/{event['id']}/backup-policy",
                        headers=owner.headers).json()
    assert policy["last_result"]["job_id"] == ids[2]
    assert policy["last_result"]["state"] == "succeeded" and policy["last_result"]["ok"]


@pytest.fixture
def smtp(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    from eventport.config import get_settings

    monkeypatch.setenv("EVENTPORT_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("EVENTPORT_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    return smtp_server


def test_failed_backup_notifies_once(client: TestClient, owner: Caller, event: dict,
                                     db: Session, smtp: SmtpServer, receiver: Receiver) -> None:
    from eventport.webhooks.delivery import deliver

    hook = client.post(f"/api/v1/events/{event['id']}/webhooks", headers=owner.headers,
                       json={"url": receiver.url, "secret": receiver.secret,
                             "events": ["backup.failed"]})
    assert hook.status_code == 201, hook.text
    assert _put(client, event["id"], owner.headers).status_code == 200
    _due_now(db, event["id"])
    [job_id] = run_due(now=NOW).created
    # fail the job as a worker would record it
    db.execute(update(ExportJob).where(ExportJob.id == job_id).values(
        state="failed", error="storage bucket is gone", finished_at=NOW))
    db.commit()
    def mails() -> list:
        return [m for m in smtp.handler.messages if m["To"] == owner.email]

    before = len(mails())
    first = run_due(now=NOW + dt.timedelta(seconds=5))
    second = run_due(now=NOW + dt.timedelta(seconds=10))
    assert first.reported == [job_id] and second.reported == []
    sent = mails()[before:]
    assert len(sent) == 1 and "storage bucket is gone" in sent[0].get_content()
    deliveries = client.get(f"/api/v1/events/{event['id']}/webhooks/{hook.json()['id']}"
                            "/deliveries", headers=owner.headers).json()["items"]
    assert len(deliveries) == 1
    from eventport.webhooks.models import WebhookDelivery

    db.execute(update(WebhookDelivery).values(next_attempt_at=NOW))
    db.commit()
    assert deliver(deliveries[0]["id"].replace("-", "")) == "succeeded"
    body = payload(receiver.received[0])
    assert body["event"] == "backup.failed" and body["job"]["id"] == job_id
    assert body["reason"] == "storage bucket is gone"
    policy = client.get(f"/api/v1/events/{event['id']}/backup-policy",
                        headers=owner.headers).json()
    assert policy["last_result"]["state"] == "failed" and not policy["last_result"]["ok"]
