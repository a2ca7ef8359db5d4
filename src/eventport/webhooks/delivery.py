"""Sending one webhook delivery: claim → check the target → sign → POST → record.

Each attempt is a job step: it *claims* the delivery with one conditional UPDATE
(queued, due, attempt number unchanged), so two workers — or a retry message and the
sweep — never send it twice at once, and it records the outcome conditional on its own
attempt number. A 2xx answer ends the delivery; anything else (an error status, a
redirect — never followed —, a timeout, a refused target) is logged with its status and
retried after ``EVENTPORT_WEBHOOK_BACKOFF_SECONDS`` × 2ⁿ⁻¹ (capped at 6 h) until
``EVENTPORT_WEBHOOK_RETRY_HOURS`` after the delivery was created; then it is failed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from eventport.config import Settings, get_settings
from eventport.db import get_sessionmaker
from eventport.db.base import utcnow
from eventport.webhooks.models import Webhook, WebhookDelivery
from eventport.webhooks.targets import RefusedTarget, resolve

log = logging.getLogger(__name__)

MAX_DELAY = dt.timedelta(hours=6)
USER_AGENT = "Eventport-Webhooks/1"

Clock = Callable[[], dt.datetime]


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, body)>``: what ``X-Eventport-Signature`` holds."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempt: int, base: float) -> dt.timedelta:
    """Delay after the ``attempt``-th failure: base, 2·base, 4·base, … at most 6 h."""
    seconds = base * 2 ** min(attempt - 1, 30)
    return min(dt.timedelta(seconds=seconds), MAX_DELAY)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status, or an error before any answer."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(hook: Webhook, delivery: WebhookDelivery, *, allow_private: bool,
         timeout: float) -> Outcome:
    """One POST of the stored body to the checked address; never raises."""
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> Outcome:
        return Outcome(status, error, int((time.monotonic() - started) * 1000))

    try:
        target = resolve(hook.url, allow_private=allow_private)
    except RefusedTarget as exc:
        return done(None, exc.detail)
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": target.host_header,
        "X-Eventport-Event": delivery.event_type,
        "X-Eventport-Delivery": str(uuid.UUID(delivery.id)),
        "X-Eventport-Signature": signature(hook.secret, body),
    }
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
            response = client.post(target.pinned_url, content=body, headers=headers,
                                   extensions={"sni_hostname": target.host})
    except httpx.HTTPError as exc:
        return done(None, f"{type(exc).__name__}: {exc}"[:500])
    error = None
    if response.is_redirect:
        error = f"redirect to {response.headers.get('location', '?')[:200]} not followed"
    elif not response.is_success:
        error = f"HTTP {response.status_code}"
    return done(response.status_code, error)


def _claim(sessions: sessionmaker[Session], delivery_id: str, now: dt.datetime) -> int | None:
    with sessions() as db:
        attempts = db.scalar(select(WebhookDelivery.attempts)
                             .where(WebhookDelivery.id == delivery_id))
        if attempts is None:
            return None
        result = db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == "queued",
                   WebhookDelivery.attempts == attempts,
                   or_(WebhookDelivery.next_attempt_at.is_(None),
                       WebhookDelivery.next_attempt_at <= now))
            .values(state="running", attempts=attempts + 1, heartbeat_at=now))
        db.commit()
        return attempts + 1 if result.rowcount == 1 else None  # type: ignore[attr-defined]


def deliver(delivery_id: str, *, sessions: sessionmaker[Session] | None = None,
            clock: Clock = utcnow) -> str | None:
    """Make one attempt at a due delivery; its new state, or None if it was not ours."""
    settings = get_settings()
    sessions = sessions or get_sessionmaker()
    attempt = _claim(sessions, delivery_id, clock())
    if attempt is None:
        return None
    with sessions() as db:
        delivery = db.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        hook = db.get(Webhook, delivery.webhook_id)
        assert hook is not None
        outcome = post(hook, delivery, allow_private=settings.webhook_allow_private,
                       timeout=settings.webhook_timeout_seconds)
        now = clock()
        entry = {"attempt": attempt, "at": now.isoformat().replace("+00:00", "Z"),
                 "status_code": outcome.status_code, "error": outcome.error,
                 "duration_ms": outcome.duration_ms}
        values: dict[str, object] = {"log": [*(delivery.log or []), entry],
                                     "response_code": outcome.status_code,
                                     "error": outcome.error, "heartbeat_at": now}
        retry_at = now + backoff(attempt, settings.webhook_backoff_seconds)
        give_up = delivery.created_at + dt.timedelta(hours=settings.webhook_retry_hours)
        if outcome.ok:
            values.update(state="succeeded", finished_at=now, next_attempt_at=None)
        elif retry_at > give_up:
            values.update(state="failed", finished_at=now, next_attempt_at=None)
        else:
            values.update(state="queued", next_attempt_at=retry_at)
        db.execute(update(WebhookDelivery)
                   .where(WebhookDelivery.id == delivery_id,
                          WebhookDelivery.attempts == attempt,
                          WebhookDelivery.state == "running")
                   .values(**values))
        db.commit()
    state = str(values["state"])
    if state == "queued":
        _schedule_retry(delivery_id, (retry_at - now).total_seconds(), settings)
    else:
        log.info("webhook delivery %s: %s after %d attempt(s)", delivery_id, state, attempt)
    return state


def _schedule_retry(delivery_id: str, delay: float, settings: Settings) -> None:
    """Short delays go to the broker as a countdown; long ones wait for the sweep
    (a broker holding thousands of hour-long countdowns in worker memory helps nobody)."""
    from eventport.webhooks import service

    if delay <= settings.scheduler_tick_seconds:
        service.dispatch(delivery_id, delay)


def due(db: Session, *, now: dt.datetime | None = None, stale_after: int | None = None
        ) -> list[str]:
    """Deliveries to send now: queued and due, or running with a dead worker (reset)."""
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=stale_after or get_settings().job_stale_after)
    db.execute(update(WebhookDelivery)
               .where(WebhookDelivery.state == "running", WebhookDelivery.heartbeat_at < stale)
               .values(state="queued", next_attempt_at=now))
    db.commit()
    return list(db.scalars(select(WebhookDelivery.id)
                           .where(WebhookDelivery.state == "queued",
                                  WebhookDelivery.next_attempt_at <= now)
                           .order_by(WebhookDelivery.next_attempt_at).limit(500)))
