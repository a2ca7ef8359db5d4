"""A webhook subscription and its deliveries (each delivery is a job with retries)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from eventport.db.base import Base, UTCDateTime, utcnow
from eventport.job_lifecycle import JobRecord

#: What a webhook may subscribe to.
EVENT_TYPES = ("export.succeeded", "export.failed", "import.succeeded", "import.failed",
               "backup.failed")


def new_delivery_id() -> str:
    """A uuid (sent as ``X-Eventport-Delivery``), stored without dashes as job ids are."""
    return uuid.uuid4().hex


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: the HMAC key; the receiver holds the same one. Never returned by the API.
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class WebhookDelivery(JobRecord, Base):
    """One message to one webhook, run as a job of the shared lifecycle: claimed
    (``attempts`` fences every write), queued → running → succeeded, or back to queued
    for a retry at ``next_attempt_at``, or failed once the retry window is over. ``log``
    holds one entry per attempt: when, HTTP status or error, duration."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_delivery_id)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"),
                                            index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    #: the exact bytes sent (and signed), so every retry sends the same message
    body: Mapped[str] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True,
                                                                index=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
