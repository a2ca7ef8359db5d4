"""What export and import jobs share: their columns, how a worker claims one, and how
it reports progress while proving it still owns the job.

A job row, not Celery's result backend, is the source of truth. A worker *claims* a job
with one conditional UPDATE (queued, or running with a stale heartbeat), which bumps
``attempts``; every later write is conditional on that attempt number, so a worker that
was presumed dead and replaced can never overwrite its successor's work. Progress is
written at most once per :data:`PROGRESS_INTERVAL`, and each write doubles as the
heartbeat the stale-job sweep looks at.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, or_, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from eventport.db.base import UTCDateTime, utcnow

#: How often a running job writes its progress (and heartbeat) at most.
PROGRESS_INTERVAL = 1.0

Clock = Callable[[], dt.datetime]


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ACTIVE_STATES = (JobState.QUEUED.value, JobState.RUNNING.value)


def new_job_id() -> str:
    """Unguessable, URL-safe: job ids appear in links and must not be enumerable."""
    return secrets.token_hex(16)


class JobRecord:
    """Columns of every job table (mixed into ExportJob and ImportJob)."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_job_id)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value, index=True)
    progress_stage: Mapped[str] = mapped_column(String(50), default="queued")
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int] = mapped_column(BigInteger, default=0)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    celery_task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)


def claim(sessions: sessionmaker[Session], model: Any, job_id: str, clock: Clock,
          stale_after: int, *, where: tuple[Any, ...] = (), values: dict[str, Any] | None = None
          ) -> int | None:
    """Take the job for this worker; the attempt number, or None if it is not ours to run.

    One conditional UPDATE: a second delivery of the same message, or a worker racing
    another, finds the row already running with a fresh heartbeat and backs off.
    """
    now = clock()
    stale = now - dt.timedelta(seconds=stale_after)
    with sessions() as db:
        job = db.get(model, job_id)
        if job is None:
            return None
        attempt = job.attempts + 1
        result = db.execute(
            update(model)
            .where(model.id == job_id, model.attempts == job.attempts, *where,
                   or_(model.state == JobState.QUEUED.value,
                       (model.state == JobState.RUNNING.value) & (model.heartbeat_at < stale)))
            .values(state=JobState.RUNNING.value, attempts=attempt,
                    started_at=job.started_at or now, heartbeat_at=now, **(values or {}))
        )
        db.commit()
        return attempt if result.rowcount == 1 else None  # type: ignore[attr-defined]


@dataclass
class JobAttempt:
    """One attempt at one job: throttled progress writes that double as heartbeats."""

    #: the job table; subclasses set it
    model: ClassVar[Any]
    #: columns read back on every heartbeat (e.g. a cancel flag), handed to on_heartbeat
    watched: ClassVar[tuple[str, ...]] = ()

    job_id: str
    attempt: int
    sessions: sessionmaker[Session]
    clock: Clock
    on_progress: Callable[[str, int, int], None] | None = None
    stage: str = "starting"
    done: int = 0
    total: int = 0
    lost: bool = False
    _last_write: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def progress(self, stage: str, done: int, total: int, *, force: bool = False) -> None:
        changed = stage != self.stage
        self.stage, self.done, self.total = stage, done, total
        if self.on_progress is not None:
            self.on_progress(stage, done, total)
        if force or changed or self.due():
            self.heartbeat()

    def due(self) -> bool:
        return time.monotonic() - self._last_write >= PROGRESS_INTERVAL

    def heartbeat(self) -> None:
        """Write progress + heartbeat if the job is still ours; sets ``lost`` otherwise."""
        model = self.model
        with self._lock:
            self._last_write = time.monotonic()
            with self.sessions() as db:
                row = db.execute(
                    update(model)
                    .where(model.id == self.job_id, model.attempts == self.attempt,
                           model.state == JobState.RUNNING.value)
                    .values(heartbeat_at=self.clock(), progress_stage=self.stage,
                            progress_done=self.done, progress_total=self.total)
                    .returning(model.id, *(getattr(model, name) for name in self.watched))
                ).first()
                db.commit()
            if row is None:
                self.lost = True
            else:
                self.on_heartbeat(dict(zip(self.watched, row[1:], strict=True)))

    def on_heartbeat(self, watched: dict[str, Any]) -> None:
        """Learn what the heartbeat read back (subclasses: cancel requests)."""

    def finish(self, **values: Any) -> bool:
        """Record the outcome if the job is still ours; False when it was taken over."""
        model = self.model
        if values.get("state") == JobState.SUCCEEDED.value:
            # A finished job reads as complete, whatever the last stage counted.
            values.setdefault("progress_done", self.total or 1)
            values.setdefault("progress_total", self.total or 1)
        with self.sessions() as db:
            result = db.execute(
                update(model)
                .where(model.id == self.job_id, model.attempts == self.attempt,
                       model.state == JobState.RUNNING.value)
                .values(finished_at=self.clock(), heartbeat_at=self.clock(), **values)
            )
            db.commit()
            return result.rowcount == 1  # type: ignore[attr-defined]
