"""An event's backup policy: when (cron in the event's time zone), what, how many to keep."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from eventport.db.base import Base, UTCDateTime, utcnow


class BackupPolicy(Base):
    __tablename__ = "backup_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          unique=True)
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(32), default="archive")
    #: the export options (media, profile, recipients) the scheduled jobs are made with
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    keep_last: Mapped[int] = mapped_column(Integer, default=7)
    #: when the next export is due (UTC); the scheduler advances it with a conditional
    #: UPDATE on ``runs``, so several beats create each due export once
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    #: the last scheduled job whose outcome was reported (e-mail/webhook on failure)
    reported_job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
