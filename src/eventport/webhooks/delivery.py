"""Sending one webhook delivery: claim → check the target → sign → POST → record.

Each attempt is a step of the shared job lifecycle (:mod:`eventport.job_lifecycle`): it
*claims* the delivery with one conditional UPDATE, so two workers — or a retry message
and the sweep — never send it twice at once, and it records the outcome conditional on
its own attempt number. A 2xx answer ends the delivery; anything else (an error status, a
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
from typing import Any

import httpx
from sqlalchemy import or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from eventport import job_lifecycle as lifecycle
from eventport.config import Settings, get_settings
from eventport.db import get_sessionmaker
from eventport.db.base import utcnow
from eventport.job_lifecycle import JobAttempt, iso
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


class _Attempt(JobAttempt):
    model = WebhookDelivery
    noun = "webhook delivery"


#: A retry message may arrive this early (broker timers, clocks of two hosts).
EARLY = dt.timedelta(seconds=1)


def _wait(sessions: sessionmaker[Session], delivery_id: str, now: dt.datetime) -> float | None:
    """Seconds until the delivery is due (0: now), or None if there is nothing to send.
    An early message (the sweep raced a countdown) leaves it alone; the claim settles
    any race between two due ones."""
    with sessions() as db:
        row = db.get(WebhookDelivery, delivery_id)
        if row is None or row.state != "queued":
            return None
        if row.next_attempt_at is None or row.next_attempt_at <= now + EARLY:
            return 0.0
        return (row.next_attempt_at - now).total_seconds()


def _outcome_values(delivery: WebhookDelivery, attempt: int, outcome: Outcome,
                    now: dt.datetime) -> dict[str, Any]:
    entry = {"attempt": attempt, "at": iso(now), "status_code": outcome.status_code,
             "error": outcome.error, "duration_ms": outcome.duration_ms}
    return {"log": [*(delivery.log or []), entry], "response_code": outcome.status_code,
            "error": outcome.error}


def deliver(delivery_id: str, *, sessions: sessionmaker[Session] | None = None,
            clock: Clock = utcnow) -> str | None:
    """Make one attempt at a due delivery; its new state, or None if it was not ours."""
    settings = get_settings()
    sessions = sessions or get_sessionmaker()
    wait = _wait(sessions, delivery_id, clock())
    if wait is None or wait > 0:
        if wait is not None:  # too early: come back when it is due (or the sweep will)
            _schedule_retry(delivery_id, wait, settings)
        return None
    attempt = lifecycle.claim(sessions, WebhookDelivery, delivery_id, clock,
                              settings.job_stale_after)
    if attempt is None:
        return None
    run = _Attempt(delivery_id, attempt, sessions, clock)
    with sessions() as db:
        delivery = db.get(WebhookDelivery, delivery_id)
        hook = db.get(Webhook, delivery.webhook_id) if delivery else None
        if delivery is None or hook is None:
            return None
        outcome = post(hook, delivery, allow_private=settings.webhook_allow_private,
                       timeout=settings.webhook_timeout_seconds)
        now = clock()
        values = _outcome_values(delivery, attempt, outcome, now)
        retry_at = now + backoff(attempt, settings.webhook_backoff_seconds)
        give_up = delivery.created_at + dt.timedelta(hours=settings.webhook_retry_hours)
    if outcome.ok or retry_at > give_up:
        state = run.finish("succeeded" if outcome.ok else "failed", next_attempt_at=None,
                           **values)
        log.info("webhook delivery %s: %s after %d attempt(s)", delivery_id, state, attempt)
        return state
    return _requeue(run, values, retry_at, now, settings)


def _requeue(run: _Attempt, values: dict[str, Any], retry_at: dt.datetime,
             now: dt.datetime, settings: Settings) -> str | None:
    """Back to queued for the next attempt (fenced by this attempt's number)."""
    with run.sessions() as db:
        done = db.execute(update(WebhookDelivery)
                          .where(WebhookDelivery.id == run.job_id,
                                 WebhookDelivery.attempts == run.attempt,
                                 WebhookDelivery.state == "running")
                          .values(state="queued", progress_stage="retry",
                                  next_attempt_at=retry_at, heartbeat_at=now, **values))
        db.commit()
    if not done.rowcount:  # type: ignore[attr-defined]
        return None
    _schedule_retry(run.job_id, (retry_at - now).total_seconds(), settings)
    return "queued"


def _schedule_retry(delivery_id: str, delay: float, settings: Settings) -> None:
    """Short delays go to the broker as a countdown; long ones wait for the sweep
    (a broker holding thousands of hour-long countdowns in worker memory helps nobody)."""
    from eventport.webhooks import service

    if delay <= settings.scheduler_tick_seconds:
        service.dispatch(delivery_id, delay)


def due(db: Session, *, now: dt.datetime | None = None, stale_after: int | None = None
        ) -> list[str]:
    """Deliveries to send now: queued and due, or running with a dead worker (the shared
    stale sweep; a delivery is never failed for its worker dying, only for time)."""
    now = now or utcnow()
    lifecycle.stale_jobs(db, WebhookDelivery, "webhook delivery", now=now,
                         stale_after=stale_after or get_settings().job_stale_after,
                         resumable=true())
    return list(db.scalars(select(WebhookDelivery.id)
                           .where(WebhookDelivery.state == "queued",
                                  or_(WebhookDelivery.next_attempt_at.is_(None),
                                      WebhookDelivery.next_attempt_at <= now))
                           .order_by(WebhookDelivery.next_attempt_at).limit(500)))
