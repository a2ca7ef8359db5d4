"""The one job lifecycle every background job shares (exports, imports, later kinds).

A job row, not Celery's result backend, is the source of truth. This module holds
everything about a job that does not depend on what the job does:

* the columns (:class:`JobRecord`) and states (:class:`JobState`);
* **claim** (:func:`claim`): one conditional UPDATE (queued, or running with a stale
  heartbeat) that bumps ``attempts``; every later write is conditional on that attempt
  number — the *fence* — so a worker presumed dead can never overwrite its successor;
* **heartbeat** and progress (:class:`JobAttempt`): written at most once per
  :data:`PROGRESS_INTERVAL`; each write reads the cancel flag back;
* **cancel** (:func:`request_cancel`): the flag is set atomically whatever the state, and
  :meth:`JobAttempt.finish` honours it, so a cancel answered 200 always ends ``cancelled``;
* **stale sweep** (:func:`stale_jobs`): conditional UPDATEs only, with the attempt limit
  :data:`MAX_ATTEMPTS`;
* **finish** with outcome and de-duplicated warnings;
* one JSON shape (:func:`summary`) with one timestamp format (:func:`iso`, ``Z``), and
  one access check (:func:`visible_job`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Integer,
    String,
    Text,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from eventport.db.base import UTCDateTime, utcnow
from eventport.errors import Conflict, NotFound

log = logging.getLogger(__name__)

#: How often a running job writes its progress (and heartbeat) at most.
PROGRESS_INTERVAL = 1.0

#: A running attempt beats at least this often (seconds), even while one step takes long
#: (a big snapshot, riding out a storage outage): only a dead worker goes silent.
KEEPALIVE_EVERY = 4.0

#: A job whose worker died this many times is failed rather than retried forever.
MAX_ATTEMPTS = 3

#: The progress stage of a job saved while the broker was unreachable: the stale sweep
#: sends it once the broker is back (docs/DESIGN.md: 202 means saved, not necessarily sent).
UNSENT_STAGE = "queued (broker down; sent later)"

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


def iso(value: dt.datetime | None) -> str | None:
    """The one timestamp format of every job's JSON: ISO 8601 in UTC with ``Z``."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


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
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    warnings: Mapped[list[Any]] = mapped_column(JSON, default=list)


class JobStopped(Exception):
    """The attempt must stop now and publish nothing (cancelled, or taken over)."""


class JobCancelled(JobStopped):
    """The job's cancel flag is set."""


class LostOwnership(JobStopped):
    """Another worker claimed this job (ours was presumed dead); stop quietly."""


# --------------------------------------------------------------------------- reading


def visible_job(db: Session, model: Any, job_id: str, noun: str,
                may_see: Callable[[Any], bool] | None = None) -> Any:
    """The job, or a 404 when it does not exist *or* the caller may not see it.

    The one access check for jobs: the same answer for both cases, so job ids of other
    people's jobs cannot be probed. ``may_see=None`` is the operator (CLI, workers).
    """
    job = db.get(model, job_id)
    if job is None or (may_see is not None and not may_see(job)):
        raise NotFound(f"{noun} {job_id} not found")
    return job


def summary(job: JobRecord) -> dict[str, Any]:
    """The fields every job's JSON carries, in one shape and one timestamp format."""
    return {
        "id": job.id,
        "state": job.state,
        "progress": {"stage": job.progress_stage, "done": job.progress_done,
                     "total": job.progress_total},
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "error": job.error,
        "warnings": list(job.warnings or []),
        "cancel_requested": bool(job.cancel_requested),
    }


# -------------------------------------------------------------------------- changing


def request_cancel(db: Session, model: Any, job: Any, noun: str, *,
                   clock: Clock = utcnow) -> Any:
    """Cancel the job; raises :class:`Conflict` (409) when it already finished.

    Queued: cancelled at once. Running: the flag is set in the same statement that checks
    the state, so a worker claiming the job meanwhile cannot slip past it — the claim
    refuses flagged jobs and :meth:`JobAttempt.finish` turns any outcome of a flagged job
    into ``cancelled``. Either way the answer is final: a 200 always ends ``cancelled``.
    """
    queued = db.execute(
        update(model).where(model.id == job.id, model.state == JobState.QUEUED.value)
        .values(state=JobState.CANCELLED.value, cancel_requested=True,
                progress_stage="cancelled", finished_at=clock()))
    if queued.rowcount != 1:  # type: ignore[attr-defined]
        running = db.execute(
            update(model).where(model.id == job.id, model.state.in_(ACTIVE_STATES))
            .values(cancel_requested=True))
        if running.rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            db.refresh(job)
            raise Conflict(f"{noun} {job.id} is {job.state}; only queued or running "
                           f"{noun}s can be cancelled")
    db.commit()
    db.refresh(job)
    return job


def send(db: Session, model: Any, job: Any, enqueue: Callable[[str], None]) -> None:
    """Hand a saved job to the broker; when the broker is down, say so on the job instead
    of failing the request: the job *is* saved, and the stale sweep sends it once the
    broker is back (so the API answers 202, and a client never retries into a duplicate).
    """
    try:
        enqueue(job.id)
    except Exception:
        log.warning("%s %s: the broker is unreachable; the sweep will send it later",
                    model.__tablename__, job.id, exc_info=True)
        db.execute(update(model).where(model.id == job.id,
                                       model.state == JobState.QUEUED.value)
                   .values(progress_stage=UNSENT_STAGE))
        db.commit()
        db.refresh(job)


# --------------------------------------------------------------------------- running


def claim(sessions: sessionmaker[Session], model: Any, job_id: str, clock: Clock,
          stale_after: int, *, values: dict[str, Any] | None = None) -> int | None:
    """Take the job for this worker; the attempt number, or None if it is not ours to run.

    One conditional UPDATE: a second delivery of the same message, or a worker racing
    another, finds the row already running with a fresh heartbeat and backs off; a job
    whose cancel flag is set is never started.
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
            .where(model.id == job_id, model.attempts == job.attempts,
                   model.cancel_requested.is_(False),
                   or_(model.state == JobState.QUEUED.value,
                       (model.state == JobState.RUNNING.value) & (model.heartbeat_at < stale)))
            .values(state=JobState.RUNNING.value, attempts=attempt,
                    started_at=job.started_at or now, heartbeat_at=now, **(values or {}))
        )
        db.commit()
        return attempt if result.rowcount == 1 else None  # type: ignore[attr-defined]


def _warning_key(warning: Any) -> str:
    return json.dumps(warning, sort_keys=True, default=str)


@dataclass
class JobAttempt:
    """One attempt at one job: throttled progress writes that double as heartbeats.

    Every write is fenced by the attempt number; a write that matches nothing means the
    job was taken over (``lost``). Each heartbeat reads the cancel flag back.
    """

    #: the job table; subclasses set it
    model: ClassVar[Any]
    #: what the job is called in messages ("export", "import")
    noun: ClassVar[str] = "job"

    job_id: str
    attempt: int
    sessions: sessionmaker[Session]
    clock: Clock
    on_progress: Callable[[str, int, int], None] | None = None
    stage: str = "starting"
    done: int = 0
    total: int = 0
    lost: bool = False
    cancelled: bool = False
    warnings: list[Any] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _last_write: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _fence(self) -> tuple[ColumnElement[bool], ...]:
        model = self.model
        return (model.id == self.job_id, model.attempts == self.attempt,
                model.state == JobState.RUNNING.value)

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
                    update(model).where(*self._fence())
                    .values(heartbeat_at=self.clock(), progress_stage=self.stage,
                            progress_done=self.done, progress_total=self.total)
                    .returning(model.cancel_requested)
                ).first()
                db.commit()
            if row is None:
                self.lost = True
            else:
                self.cancelled = bool(row[0])

    @contextlib.contextmanager
    def keepalive(self, every: float = KEEPALIVE_EVERY) -> Iterator[None]:
        """Beat from a background thread for the duration of the block, so the stale sweep
        can tell a dead worker (silent) from a slow step (still beating)."""
        stop = self.start_keepalive(every)
        try:
            yield
        finally:
            stop()

    def start_keepalive(self, every: float = KEEPALIVE_EVERY) -> Callable[[], None]:
        """:meth:`keepalive` for code that cannot wrap a block; call the result to stop."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                if self.lost:
                    return
                if time.monotonic() - self._last_write >= every:
                    try:
                        JobAttempt.heartbeat(self)
                    except Exception:  # the database blinked; the next beat tries again
                        log.warning("%s %s: heartbeat failed", self.noun, self.job_id,
                                    exc_info=True)

        thread = threading.Thread(target=beat, name=f"heartbeat-{self.job_id[:8]}",
                                  daemon=True)
        thread.start()

        def stopped() -> None:
            stop.set()
            thread.join(every + 5)

        return stopped

    def check(self) -> None:
        """Raise :class:`LostOwnership` or :class:`JobCancelled` when the job must stop;
        cheap enough to call in every loop (it writes at most once per interval)."""
        if self.due():
            self.heartbeat()
        if self.lost:
            raise LostOwnership(f"{self.noun} {self.job_id} was taken over by another worker")
        if self.cancelled:
            raise JobCancelled(f"{self.noun} {self.job_id} was cancelled")

    def check_now(self) -> None:
        """:meth:`check` with a fresh read: before publishing anything."""
        self.heartbeat()
        self.check()

    def warn(self, warning: Any) -> None:
        """Collect a warning once (the archive's four schedule formats each report the same
        unscheduled session; a user wants to read about it once)."""
        key = _warning_key(warning)
        if key not in self._seen:
            self._seen.add(key)
            self.warnings.append(warning)

    def extend_warnings(self, warnings: Iterable[Any]) -> None:
        for warning in warnings:
            self.warn(warning)

    def finish(self, state: str, **values: Any) -> str | None:
        """Record the outcome with the collected warnings if the job is still ours.

        Returns the state the job ended in — ``cancelled`` instead of the given outcome
        when the cancel flag was set meanwhile (the caller then discards what it made) —
        or None when another worker took the job over. ``warnings`` given here join the
        collected ones; none at all leaves the row's warnings as they are.
        """
        self.extend_warnings(values.pop("warnings", ()))
        if self.warnings:
            values["warnings"] = self.warnings
        if state == JobState.SUCCEEDED.value:
            # A finished job reads as complete, whatever the last stage counted.
            values.setdefault("progress_done", self.total or 1)
            values.setdefault("progress_total", self.total or 1)
        values.setdefault("progress_stage", "done" if state == JobState.SUCCEEDED.value
                          else state)
        now = self.clock()
        with self.sessions() as db:
            unflagged = () if state == JobState.CANCELLED.value else (
                self.model.cancel_requested.is_(False),)
            result = db.execute(
                update(self.model).where(*self._fence(), *unflagged)
                .values(state=state, finished_at=now, heartbeat_at=now, **values))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                db.commit()
                return state
            cancelled = db.execute(
                update(self.model).where(*self._fence())
                .values(state=JobState.CANCELLED.value, progress_stage="cancelled",
                        finished_at=now, heartbeat_at=now,
                        **({"warnings": self.warnings} if self.warnings else {})))
            db.commit()
        if cancelled.rowcount == 1:  # type: ignore[attr-defined]
            return JobState.CANCELLED.value
        self.lost = True
        return None


# ------------------------------------------------------------------- stale recovery


def stale_jobs(db: Session, model: Any, noun: str, *, now: dt.datetime | None = None,
               stale_after: int, resumable: ColumnElement[bool] | None = None) -> list[str]:
    """Jobs to send to the broker again: their worker died, or their message was lost.

    * running with a heartbeat older than ``stale_after``: the worker was killed (a
      redelivered message would come only after the broker's visibility timeout);
    * queued for longer than ``stale_after`` since last sent: the broker lost it, or it
      was saved while the broker was down.

    Re-sending is safe because :func:`claim` is atomic. A running job that was asked to
    cancel ends ``cancelled`` here; one whose worker died :data:`MAX_ATTEMPTS` times fails,
    unless it matches ``resumable`` (e.g. an import that only has publishing left).
    Every change is a conditional UPDATE on what was read: a worker claiming the job
    meanwhile wins.
    """
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=stale_after)
    is_stale = or_(model.heartbeat_at.is_(None), model.heartbeat_at < stale)
    columns = [model.id, model.state, model.attempts, model.cancel_requested]
    if resumable is not None:
        columns.append(resumable)
    candidates = db.execute(select(*columns).where(model.state.in_(ACTIVE_STATES), is_stale))
    resend = []
    for job_id, state, attempts, cancel_requested, *resume in candidates.all():
        unchanged = update(model).where(model.id == job_id, model.state == state,
                                        model.attempts == attempts, is_stale)
        if state == JobState.RUNNING.value and cancel_requested:
            db.execute(unchanged.values(state=JobState.CANCELLED.value,
                                        progress_stage="cancelled", finished_at=now))
        elif (state == JobState.RUNNING.value and attempts >= MAX_ATTEMPTS
              and not (resume and resume[0])):
            db.execute(unchanged.values(
                state=JobState.FAILED.value, progress_stage="failed", finished_at=now,
                error=f"the worker running this {noun} stopped {attempts} times"))
        elif state == JobState.QUEUED.value:
            if db.execute(unchanged.values(heartbeat_at=now)).rowcount:  # type: ignore[attr-defined]
                resend.append(job_id)
        else:
            resend.append(job_id)
    db.commit()
    return resend
