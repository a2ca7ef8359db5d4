"""The export job: the one source of truth about an export (not Celery's result backend)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from eventport.db.base import Base, UTCDateTime
from eventport.job_lifecycle import ACTIVE_STATES, JobRecord, JobState, new_job_id

__all__ = ["ACTIVE_STATES", "ExportJob", "JobState", "new_job_id"]


class ExportJob(JobRecord, Base):
    __tablename__ = "export_jobs"
    __table_args__ = (
        # One active job per identical request, even under concurrent requests
        # (migration 0002_exports).
        Index(
            "uq_export_jobs_active",
            "event_id",
            "format",
            "options_key",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(32))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options_key: Mapped[str] = mapped_column(String(500), default="")
    storage_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: when the stored object was read back and checked against its manifest (archives)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the site address the request came in on (scheme://host:port), for the links in
    #: the job's e-mail when EVENTPORT_BASE_URL is not set
    site_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    #: ``manual`` (API, web, CLI) or ``schedule`` (a backup policy made it)
    trigger: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    #: the backup policy that made it; its ``keep_last`` (not the global one) retains it
    backup_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("backup_policies.id", ondelete="SET NULL"), nullable=True, index=True)
