"""Export jobs, top to bottom: request → job row → (worker) snapshot → exporter → storage.

Read this file to follow an export:

1. :func:`request_export` validates the format and options and creates an
   :class:`ExportJob` — or returns the identical job already queued or running (a
   partial unique index makes that hold under concurrent requests too). The caller
   (API, CLI, web) then asks the jobs layer to enqueue it; this module never imports
   Celery.
2. A worker calls :func:`run_export` with the job id. It *claims* the job with one
   conditional UPDATE (queued → running, or a running job whose heartbeat went stale
   because its worker died), so two deliveries of one message never run it twice, and
   the claim number (``attempts``) fences out a worker that lost the job.
3. The snapshot is read in one consistent read transaction
   (:func:`~eventport.exports.snapshot.read_snapshot`), the exporter streams its bytes
   into ``storage.writer(key)`` — a multipart upload, no local staging — and progress,
   heartbeat and cancellation travel through the :class:`ExportContext`.
4. On success the job records key, size and SHA-256; on cancel the writer is aborted,
   so no object is left; on error the message is kept. The requester gets an e-mail.

Retention (:mod:`eventport.exports.retention`) and stale-job recovery
(:func:`stale_jobs`) are called by the beat schedule and the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from eventport.accounts.models import User
from eventport.config import Settings, get_settings
from eventport.db import get_sessionmaker, utcnow
from eventport.db.jobs import Clock, JobAttempt, claim
from eventport.errors import Conflict, InvalidInput, NotFound
from eventport.events.models import Event
from eventport.exports.models import ACTIVE_STATES, ExportJob, JobState
from eventport.exports.registry import ExportCancelled, ExportContext, exporters, get_exporter
from eventport.exports.snapshot import read_snapshot
from eventport.storage import Storage, StorageError, get_storage

log = logging.getLogger(__name__)

#: A job whose worker died this many times is failed rather than retried forever.
MAX_ATTEMPTS = 3

class LostOwnership(ExportCancelled):
    """Another worker claimed this job (ours was presumed dead); stop and publish nothing."""


# ------------------------------------------------------------------------ requesting


def normalize_options(format: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Validated, canonical options: equal requests get equal options (dedupe, determinism)."""
    try:
        exporter = get_exporter(format)
    except LookupError:
        raise InvalidInput(
            f"unknown export format {format!r}; known: {', '.join(exporters())}"
        ) from None
    options = dict(options or {})
    if options.get("media") and not exporter.accepts_media:
        raise InvalidInput(f"the {format} format does not include media files")
    unknown = set(options) - exporter.option_names - {"media"}
    if unknown:
        raise InvalidInput(f"unknown export option(s) for {format}: {', '.join(sorted(unknown))}"
                           + (f"; it takes: {', '.join(sorted(exporter.option_names))}"
                              if exporter.option_names else ""))
    options = {k: v for k, v in options.items() if k in exporter.option_names}
    try:
        return exporter.normalize_options(options)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def options_key(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, separators=(",", ":"))


def find_active(db: Session, event_id: int, format: str, key: str) -> ExportJob | None:
    return db.scalar(
        select(ExportJob).where(
            ExportJob.event_id == event_id,
            ExportJob.format == format,
            ExportJob.options_key == key,
            ExportJob.state.in_(ACTIVE_STATES),
        )
    )


def request_export(
    db: Session,
    event: Event,
    user: User | None,
    format: str,
    options: dict[str, Any] | None = None,
) -> tuple[ExportJob, bool]:
    """The job for this request and whether it is new; commits (the worker must see it).

    An identical request (event, format, options) while one is queued or running gets
    that job back. The partial unique index ``uq_export_jobs_active`` settles races.
    """
    options = normalize_options(format, options)
    key = options_key(options)
    existing = find_active(db, event.id, format, key)
    if existing is not None:
        return existing, False
    job = ExportJob(
        event_id=event.id,
        format=format,
        options=options,
        options_key=key,
        state=JobState.QUEUED.value,
        progress_stage="queued",
        requested_by_id=user.id if user is not None else None,
        warnings=[],
        created_at=utcnow(),
        heartbeat_at=utcnow(),  # for queued jobs: when it was (last) sent to the broker
    )
    db.add(job)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        existing = find_active(db, event.id, format, key)
        if existing is None:
            raise
        return existing, False
    return job, True


# --------------------------------------------------------------------------- reading


def get_job(db: Session, job_id: str) -> ExportJob:
    job = db.get(ExportJob, job_id)
    if job is None:
        raise NotFound(f"export {job_id} not found")
    return job


def list_jobs(db: Session, event_id: int, limit: int = 100) -> list[ExportJob]:
    """The event's export history, newest first."""
    return list(db.scalars(
        select(ExportJob).where(ExportJob.event_id == event_id)
        .order_by(ExportJob.created_at.desc(), ExportJob.id).limit(limit)
    ))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def job_summary(job: ExportJob) -> dict[str, Any]:
    """The job as the API returns it, minus ``download_url`` (the caller knows its URLs)."""
    return {
        "id": job.id,
        "event_id": job.event_id,
        "format": job.format,
        "options": job.options,
        "state": job.state,
        "progress": {"stage": job.progress_stage, "done": job.progress_done,
                     "total": job.progress_total},
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "size": job.size,
        "sha256": job.sha256,
        "error": job.error,
        "warnings": job.warnings or [],
        "expires_at": _iso(job.expires_at),
        "pinned": job.pinned,
        "trigger": job.trigger,
        "filename": job.filename,
        "cancel_requested": job.cancel_requested,
    }


def download_link(storage: Storage, job: ExportJob, settings: Settings | None = None) -> str:
    """A signed URL for the job's file, valid ``EVENTPORT_DOWNLOAD_URL_TTL`` seconds."""
    settings = settings or get_settings()
    if job.state != JobState.SUCCEEDED.value or not job.storage_key:
        raise Conflict(f"export {job.id} has no file to download (state: {job.state})")
    return storage.signed_url(job.storage_key, expires_in=settings.download_url_ttl,
                              filename=job.filename)


# -------------------------------------------------------------------------- changing


def cancel_job(db: Session, job: ExportJob) -> ExportJob:
    """Queued: cancelled at once. Running: flagged; the worker stops within a second or two,
    aborting its upload so no object is left. Finished: refused."""
    if job.state == JobState.QUEUED.value:
        db.execute(update(ExportJob).where(ExportJob.id == job.id,
                                           ExportJob.state == JobState.QUEUED.value)
                   .values(state=JobState.CANCELLED.value, cancel_requested=True,
                           progress_stage="cancelled", finished_at=utcnow()))
    elif job.state == JobState.RUNNING.value:
        db.execute(update(ExportJob).where(ExportJob.id == job.id)
                   .values(cancel_requested=True))
    else:
        raise Conflict(f"export {job.id} is {job.state}; only queued or running exports "
                       "can be cancelled")
    db.commit()
    db.refresh(job)
    return job


def expiry_for(job: ExportJob, settings: Settings | None = None) -> dt.datetime | None:
    """When max-age retention will remove this export (pinned ones never expire)."""
    settings = settings or get_settings()
    if job.pinned or job.finished_at is None or job.state != JobState.SUCCEEDED.value:
        return None
    return job.finished_at + dt.timedelta(days=settings.export_max_age_days)


def set_pinned(db: Session, job: ExportJob, pinned: bool) -> ExportJob:
    """Pinned exports are exempt from retention (keep-last-N and max age)."""
    if job.state == JobState.EXPIRED.value and pinned:
        raise Conflict(f"export {job.id} has expired; its file is gone")
    job.pinned = pinned
    job.expires_at = expiry_for(job)
    db.commit()
    return job


def delete_job(db: Session, storage: Storage, job: ExportJob) -> None:
    """Remove the stored file now; the job stays in the history as expired."""
    if job.state in ACTIVE_STATES:
        raise Conflict(f"export {job.id} is {job.state}; cancel it first")
    if job.storage_key:
        storage.delete(job.storage_key)
    job.state = JobState.EXPIRED.value if job.storage_key else job.state
    job.storage_key = None
    job.expires_at = utcnow()
    db.commit()


# --------------------------------------------------------------------------- running


def download_filename(identifier: str, format: str, extension: str,
                      when: dt.datetime) -> str:
    """``<event-identifier>-<format>-<UTC timestamp>.<ext>``.

    E.g. ``ab12cd-archive-20260610T091500Z.zip``; the timestamp is the request time,
    so a retried attempt writes the same name.
    """
    stamp = when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{identifier}-{format}-{stamp}.{extension}"


def storage_key(event_id: int, job_id: str, filename: str) -> str:
    """Under the event's prefix, so deleting the event deletes its exports too."""
    return f"events/{event_id}/exports/{job_id}/{filename}"


class _Run(JobAttempt):
    """One attempt at one export: progress, the cancel flag, the warnings it collects."""

    model = ExportJob
    watched = ("cancel_requested",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warnings: list[dict[str, Any]] = []
        self.cancelled = False

    def on_heartbeat(self, watched: dict[str, Any]) -> None:
        self.cancelled = bool(watched["cancel_requested"])

    def warn(self, warning: dict[str, Any]) -> None:
        # The archive renders four schedule formats, each reporting the same unscheduled
        # session: a user wants to read about it once.
        if warning not in self.warnings:
            self.warnings.append(warning)

    def finish(self, **values: Any) -> bool:
        """Record the outcome with the warnings collected on the way."""
        return super().finish(warnings=self.warnings, **values)

    def check_cancelled(self) -> None:
        if self.due():
            self.heartbeat()
        if self.lost:
            raise LostOwnership(f"export {self.job_id} was taken over by another worker")
        if self.cancelled:
            raise ExportCancelled(f"export {self.job_id} was cancelled")

    def context(self, options: dict[str, Any], storage: Storage) -> ExportContext:
        return ExportContext(
            options=options,
            open_media=lambda key: storage.open(key),
            warn=self.warn,
            progress=self.progress,
            check_cancelled=self.check_cancelled,
        )


def _claim(sessions: sessionmaker[Session], job_id: str, clock: Clock,
           stale_after: int) -> int | None:
    """Claim the export unless it was cancelled while queued; a fresh start each attempt."""
    return claim(sessions, ExportJob, job_id, clock, stale_after,
                 where=(ExportJob.cancel_requested.is_(False),),
                 values={"progress_stage": "snapshot", "progress_done": 0,
                         "progress_total": 0, "warnings": []})


def _failure_reason(exc: BaseException, job_id: str) -> str:
    """What the job's ``error`` tells organizers: actionable, without internals.

    Storage errors say what an operator must fix (bucket, credentials); an OS error
    keeps its reason but not the file name it may carry; anything else may hold SQL or
    paths, so it points at the worker log instead.
    """
    if isinstance(exc, StorageError | LookupError):
        return str(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or (str(exc.args[0]) if exc.args else type(exc).__name__)
        return f"writing the export failed: {reason}"
    return (f"internal error ({type(exc).__name__}); the details are in the worker log "
            f"under export {job_id}")


def run_export(
    job_id: str,
    *,
    storage: Storage | None = None,
    engine: Engine | None = None,
    clock: Clock = utcnow,
    on_progress: Callable[[str, int, int], None] | None = None,
    notify: bool = True,
) -> str | None:
    """Run one export job to its end; what the Celery task calls. Idempotent.

    Returns the job's final state, or ``None`` when this call did not run it (already
    finished, cancelled, or running elsewhere). Never raises for a failed export: the
    failure is recorded on the job, which is the source of truth.
    """
    settings = get_settings()
    storage = storage or get_storage()
    sessions = sessionmaker(bind=engine, expire_on_commit=False) if engine else get_sessionmaker()
    engine = engine or sessions.kw["bind"]
    attempt = _claim(sessions, job_id, clock, settings.job_stale_after)
    if attempt is None:
        return None
    with sessions() as db:
        job = db.get(ExportJob, job_id)
        assert job is not None
        event = db.get(Event, job.event_id)
        identifier = event.identifier if event else str(job.event_id)
        format, options, event_id = job.format, job.options, job.event_id
        created_at = job.created_at
    run = _Run(job_id, attempt, sessions, clock, on_progress)
    key: str | None = None
    if attempt > 1:
        _abort_leftover_uploads(storage, f"events/{event_id}/exports/{job_id}/")
    try:
        exporter = get_exporter(format)()
        run.progress("snapshot", 0, 1)
        snapshot = read_snapshot(engine, event_id)
        run.check_cancelled()
        filename = download_filename(identifier, format, exporter.extension, created_at)
        key = storage_key(event_id, job_id, filename)
        with storage.writer(key, content_type=exporter.content_type, filename=filename,
                            metadata={"export_job": job_id}) as out:
            exporter.write(snapshot, out, run.context(options, storage))  # type: ignore[arg-type]
            run.check_cancelled()  # last chance: leaving the block by raising aborts the upload
        result = out.result
        assert result is not None
    except LostOwnership:
        log.warning("export %s: taken over by another worker; stopping", job_id)
        return None
    except ExportCancelled:
        run.finish(state=JobState.CANCELLED.value, progress_stage="cancelled")
        return JobState.CANCELLED.value
    except Exception as exc:
        log.exception("export %s failed", job_id)
        # Storage errors say what an operator must fix (bucket, credentials); anything
        # else may carry internals (SQL, paths) that event organizers should not read.
        message = _failure_reason(exc, job_id)
        if run.finish(state=JobState.FAILED.value, progress_stage="failed",
                   error=message[:2000]):
            if notify:
                _notify(sessions, job_id)
        return JobState.FAILED.value

    finished = clock()
    expires = finished + dt.timedelta(days=settings.export_max_age_days)
    if not run.finish(state=JobState.SUCCEEDED.value, progress_stage="done",
                   storage_key=key, filename=filename, content_type=exporter.content_type,
                   size=result.size, sha256=result.sha256, expires_at=expires):
        # Cancelled or taken over while the last bytes went out: no orphan object.
        with sessions() as db:
            current = db.get(ExportJob, job_id)
            if current is None or current.storage_key != key:
                _discard(storage, key)
        return None
    if notify:
        _notify(sessions, job_id)
    return JobState.SUCCEEDED.value


def _abort_leftover_uploads(storage: Storage, prefix: str) -> None:
    """A worker killed mid-upload could not abort its multipart upload; the next attempt
    does, on backends that offer ``abort_incomplete_uploads(prefix)`` (S3-like stores).
    Local storage needs nothing: its temp files live under ``.tmp`` and are never visible.
    """
    abort = getattr(storage, "abort_incomplete_uploads", None)
    if abort is None:
        return
    try:
        abort(prefix)
    except StorageError:
        log.warning("could not abort leftover uploads under %s", prefix, exc_info=True)


def _discard(storage: Storage, key: str) -> None:
    try:
        storage.delete(key)
    except StorageError:
        log.warning("could not delete orphaned export object %s", key, exc_info=True)


def _notify(sessions: sessionmaker[Session], job_id: str) -> None:
    from eventport.exports.notifications import notify_requester

    try:
        with sessions() as db:
            notify_requester(db, get_job(db, job_id))
    except Exception:  # a notification never changes the outcome of an export
        log.warning("export %s: notification failed", job_id, exc_info=True)


# ------------------------------------------------------------------- stale recovery


def stale_jobs(db: Session, *, now: dt.datetime | None = None,
               stale_after: int | None = None) -> list[str]:
    """Jobs to send to the broker again: their worker died, or their message was lost.

    * running with a heartbeat older than ``stale_after``: the worker was killed (a
      redelivered message would come only after the broker's visibility timeout);
    * queued for longer than ``stale_after`` since last sent: the broker lost it, or
      it was enqueued while the broker was down.
    Re-sending is safe because :func:`run_export` claims atomically. A running job that
    was asked to cancel, or that died :data:`MAX_ATTEMPTS` times, is ended here instead.
    """
    now = now or utcnow()
    stale = now - dt.timedelta(seconds=stale_after or get_settings().job_stale_after)
    candidates = db.execute(select(
        ExportJob.id, ExportJob.state, ExportJob.attempts, ExportJob.cancel_requested
    ).where(
        ExportJob.state.in_(ACTIVE_STATES),
        or_(ExportJob.heartbeat_at.is_(None), ExportJob.heartbeat_at < stale),
    )).all()
    resend = []
    for job_id, state, attempts, cancel_requested in candidates:
        # Conditional on what was read: a worker claiming the job meanwhile wins.
        unchanged = update(ExportJob).where(
            ExportJob.id == job_id, ExportJob.state == state, ExportJob.attempts == attempts,
            or_(ExportJob.heartbeat_at.is_(None), ExportJob.heartbeat_at < stale))
        if state == JobState.RUNNING.value and cancel_requested:
            db.execute(unchanged.values(state=JobState.CANCELLED.value,
                                        progress_stage="cancelled", finished_at=now))
        elif state == JobState.RUNNING.value and attempts >= MAX_ATTEMPTS:
            db.execute(unchanged.values(
                state=JobState.FAILED.value, progress_stage="failed", finished_at=now,
                error=f"the worker running this export stopped {attempts} times"))
        elif state == JobState.QUEUED.value:
            if db.execute(unchanged.values(heartbeat_at=now)).rowcount:  # type: ignore[attr-defined]
                resend.append(job_id)
        else:
            resend.append(job_id)
    db.commit()
    return resend
