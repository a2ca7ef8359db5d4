"""The import job: an uploaded file on its way to becoming an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from eventport.db.base import Base
from eventport.job_lifecycle import JobRecord


class ImportJob(JobRecord, Base):
    __tablename__ = "import_jobs"

    format: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    #: create (a new event), update (``event_id``, set when requested), copy (fresh uuids)
    mode: Mapped[str] = mapped_column(String(16), default="create")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    staging_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    upload_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("events.id", ondelete="SET NULL"), nullable=True
    )
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
