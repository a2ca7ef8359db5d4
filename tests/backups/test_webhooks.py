"""Signed webhooks against a real receiver on 127.0.0.1, delivered by a real worker."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.config import get_settings
from eventport.webhooks.delivery import backoff, deliver
from eventport.webhooks.models import WebhookDelivery
from eventport.webhooks.targets import RefusedTarget, is_public, resolve
from tests.api.conftest import Caller
from tests.backups.conftest import Receiver, payload
from tests.exports.conftest import DemoEvent
from tests.support.celery import Worker, wait_until

FAST_RETRIES = {"EVENTPORT_WEBHOOK_ALLOW_PRIVATE": "true",
                "EVENTPORT_WEBHOOK_BACKOFF_SECONDS": "0.5"}


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTPORT_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()


def _create(client: TestClient, event_id: int, headers: dict[str, str], url: str,
            **extra: object) -> dict:
    response = client.post(f"/api/v1/events/{event_id}/webhooks", headers=headers,
                           json={"url": url, "events": ["export.succeeded"], **extra})
    return {"status": response.status_code, **response.json()}


def test_private_targets_are_refused_by_default(client: TestClient, owner: Caller,
                                                event: dict) -> None:
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/", "http://169.254.169.254/x",
                "http://[::1]/", "http://localhost:8000/", "ftp://example.org/",
                "http://user:pw@example.org/"):
        body = _create(client, event["id"], owner.headers, url)
        assert body["status"] == 422, (url, body)
        assert "type" in body and body["detail"]
    assert client.get(f"/api/v1/events/{event['id']}/webhooks",
                      headers=owner.headers).json()["items"] == []


def test_target_rules() -> None:
    import ipaddress

    assert not is_public(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not is_public(ipaddress.ip_address("100.64.0.1"))  # carrier-grade NAT
    assert is_public(ipaddress.ip_address("93.184.215.14"))
    with pytest.raises(RefusedTarget):
        resolve("http://127.0.0.1/", allow_private=False)
    target = resolve("http://127.0.0.1:8080/a?b=1", allow_private=True)
    assert target.pinned_url == "http://127.0.0.1:8080/a?b=1"
    assert backoff(1, 30).total_seconds() == 30 and backoff(3, 30).total_seconds() == 120
    assert backoff(40, 30).total_seconds() == 6 * 3600


def test_delivery_refused_at_send_time_when_setting_turned_off(
        client: TestClient, owner: Caller, event: dict, receiver: Receiver, db: Session,
        allow_private: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A target accepted once is checked again before every attempt (DNS rebinding)."""
    from eventport.webhooks.service import emit

    hook = _create(client, event["id"], owner.headers, receiver.url, secret=receiver.secret)
    assert hook["status"] == 201
    monkeypatch.setenv("EVENTPORT_WEBHOOK_ALLOW_PRIVATE", "false")
    get_settings.cache_clear()
    [delivery_id] = emit(db, event["id"], "export.succeeded", {"job": {"id": "x"}})
    assert deliver(delivery_id) == "queued"
    assert receiver.received == []
    row = db.get(WebhookDelivery, delivery_id)
    db.refresh(row)
    assert row.log[0]["status_code"] is None and "non-public" in row.log[0]["error"]


def test_redirects_are_not_followed(client: TestClient, owner: Caller, event: dict,
                                    receiver: Receiver, db: Session,
                                    allow_private: None) -> None:
    from eventport.webhooks.service import emit

    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    _create(client, event["id"], owner.headers, receiver.url, secret=receiver.secret)
    [delivery_id] = emit(db, event["id"], "export.succeeded", {"job": {}})
    assert deliver(delivery_id) == "queued"
    assert len(receiver.received) == 1
    row = db.get(WebhookDelivery, delivery_id)
    db.refresh(row)
    assert row.response_code == 307 and "not followed" in row.log[0]["error"]


@pytest.fixture(scope="session")
def celery_worker_env(smtp_server) -> dict[str, str]:
    return {"EVENTPORT_SMTP_URL": smtp_server.url, **FAST_RETRIES}


def test_signed_delivery_retried_until_accepted(client: TestClient, demo_event: DemoEvent,
                                                receiver: Receiver, celery_worker: Worker,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """500, 500, 200: three attempts in the log, the same signed body each time."""
    for name, value in FAST_RETRIES.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    receiver.statuses = [500, 500]
    base = f"/api/v1/events/{demo_event.id}/webhooks"
    created = client.post(base, headers=demo_event.headers, json={
        "url": receiver.url, "secret": receiver.secret,
        "events": ["export.succeeded", "export.failed"]})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"] == receiver.secret
    assert "secret" not in client.get(base, headers=demo_event.headers).json()["items"][0]

    job = client.post(f"/api/v1/events/{demo_event.id}/exports", headers=demo_event.headers,
                      json={"format": "ical"}).json()
    try:
        wait_until(lambda: len(receiver.received) >= 3, 60, message="three webhook attempts")
    except BaseException:
        print(job, receiver.received, celery_worker.log())
        raise
    first, *rest = receiver.received
    assert all(r.signature_ok for r in receiver.received)
    assert all(r.body == first.body for r in rest)
    assert first.headers["X-Eventport-Event"] == "export.succeeded"
    delivery = first.headers["X-Eventport-Delivery"]
    assert str(uuid.UUID(delivery)) == delivery
    assert {r.headers["X-Eventport-Delivery"] for r in rest} == {delivery}
    body = payload(first)
    assert body["job"]["id"] == job["id"] and body["job"]["state"] == "succeeded"
    assert body["delivery"] == delivery and body["event"] == "export.succeeded"

    def finished() -> dict | None:
        rows = client.get(f"{base}/{hook['id']}/deliveries",
                          headers=demo_event.headers).json()["items"]
        return rows[0] if rows and rows[0]["state"] == "succeeded" else None

    row = wait_until(finished, 30, message="delivery to succeed")
    assert row["id"] == delivery and row["attempts"] == 3 and row["response_code"] == 200
    assert [a["status_code"] for a in row["log"]] == [500, 500, 200]
    assert row["log"][0]["error"] == "HTTP 500" and row["log"][2]["error"] is None
