"""Webhook subscriptions and the messages they receive.

Flow: something finishes (an export or import job, a scheduled backup) → the jobs layer
calls :func:`emit` → one :class:`WebhookDelivery` row per subscribed webhook, holding
the exact JSON body → the delivery is sent as a job (:mod:`eventport.webhooks.delivery`),
retried with backoff. This module never imports Celery: whoever can enqueue sets
:data:`dispatcher` (the jobs package does); without one, beat's sweep sends the rows.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.db.base import utcnow
from eventport.db.paging import paginate
from eventport.errors import InvalidInput, NotFound
from eventport.events.models import Event
from eventport.job_lifecycle import iso
from eventport.webhooks.models import EVENT_TYPES, Webhook, WebhookDelivery, new_delivery_id
from eventport.webhooks.targets import resolve

log = logging.getLogger(__name__)

#: ``dispatcher(delivery_id, countdown_seconds)`` sends a delivery to the workers.
dispatcher: Callable[[str, float], None] | None = None

MAX_WEBHOOKS_PER_EVENT = 20


def create_webhook(db: Session, event: Event, user: User | None, url: str,
                   secret: str | None, events: list[str]) -> tuple[Webhook, str]:
    """Check and store a subscription; returns it and its secret (made when not given)."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidInput(f"unknown or no webhook event(s) {', '.join(unknown)}; known: "
                           f"{', '.join(EVENT_TYPES)}")
    resolve(url, allow_private=get_settings().webhook_allow_private)
    count = len(list_webhooks(db, event.id))
    if count >= MAX_WEBHOOKS_PER_EVENT:
        raise InvalidInput(f"an event can have at most {MAX_WEBHOOKS_PER_EVENT} webhooks")
    secret = secret or secrets.token_urlsafe(32)
    hook = Webhook(event_id=event.id, url=url, secret=secret,
                   events=[e for e in EVENT_TYPES if e in events], created_at=utcnow(),
                   created_by_id=user.id if user else None)
    db.add(hook)
    db.commit()
    return hook, secret


def _webhooks(event_id: int) -> Any:
    return select(Webhook).where(Webhook.event_id == event_id).order_by(Webhook.id)


def list_webhooks(db: Session, event_id: int) -> list[Webhook]:
    return list(db.scalars(_webhooks(event_id)))


def webhooks_page(db: Session, event_id: int, page: int, per_page: int
                  ) -> tuple[list[Webhook], int]:
    """One page of the event's webhooks (oldest first) and their total, like every list."""
    return paginate(db, _webhooks(event_id), page, per_page)


def get_webhook(db: Session, event_id: int, webhook_id: int) -> Webhook:
    hook = db.get(Webhook, webhook_id)
    if hook is None or hook.event_id != event_id:
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


def delete_webhook(db: Session, hook: Webhook) -> None:
    db.delete(hook)
    db.commit()


def webhook_document(hook: Webhook) -> dict[str, Any]:
    """The subscription without its secret (shown once, when it is created)."""
    return {"id": hook.id, "event_id": hook.event_id, "url": hook.url, "events": hook.events,
            "created_at": iso(hook.created_at)}


def _deliveries(hook: Webhook) -> Any:
    return (select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id))


def deliveries(db: Session, hook: Webhook, limit: int = 100) -> list[WebhookDelivery]:
    return list(db.scalars(_deliveries(hook).limit(limit)))


def deliveries_page(db: Session, hook: Webhook, page: int, per_page: int
                    ) -> tuple[list[WebhookDelivery], int]:
    """One page of the webhook's deliveries, newest first, and their total."""
    return paginate(db, _deliveries(hook), page, per_page)


def delivery_document(row: WebhookDelivery) -> dict[str, Any]:
    return {"id": str(_uuid(row.id)), "event": row.event_type, "state": row.state,
            "attempts": row.attempts, "response_code": row.response_code,
            "error": row.error, "created_at": iso(row.created_at),
            "next_attempt_at": iso(row.next_attempt_at) if row.state == "queued" else None,
            "finished_at": iso(row.finished_at), "log": row.log or []}


def _uuid(hex_id: str) -> str:
    return str(uuid.UUID(hex_id))


def emit(db: Session, event_id: int, event_type: str, data: dict[str, Any]) -> list[str]:
    """Queue ``event_type`` for every webhook of the event subscribed to it; commits.

    The body is fixed now (and signed at each attempt), so a retry sends the same bytes
    and the receiver can deduplicate by ``X-Eventport-Delivery``.
    """
    hooks = [h for h in list_webhooks(db, event_id) if event_type in (h.events or [])]
    now = utcnow()
    ids = []
    for hook in hooks:
        delivery_id = new_delivery_id()
        body = json.dumps({"delivery": _uuid(delivery_id), "event": event_type,
                           "created_at": iso(now), "event_id": event_id, **data},
                          sort_keys=True, separators=(",", ":"), default=str)
        db.add(WebhookDelivery(id=delivery_id, webhook_id=hook.id, event_type=event_type,
                               body=body, state="queued", attempts=0, created_at=now,
                               heartbeat_at=now, next_attempt_at=now, log=[]))
        ids.append(delivery_id)
    db.commit()
    for delivery_id in ids:
        dispatch(delivery_id, 0.0)
    return ids


def dispatch(delivery_id: str, countdown: float) -> None:
    """Hand a delivery to the workers if this process can; the sweep does it otherwise."""
    if dispatcher is None:
        return
    try:
        dispatcher(delivery_id, countdown)
    except Exception:  # the broker is down: the sweep sends it later
        log.warning("webhook delivery %s: could not enqueue", delivery_id, exc_info=True)
