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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from eventport import job_lifecycle as lifecycle
from eventport.accounts.models import User
from eventport.accounts.service import role_on
from eventport.config import Settings, get_settings
from eventport.db import get_sessionmaker, utcnow
from eventport.db.paging import MAX_PER_PAGE, paginate
from eventport.errors import Conflict, InvalidInput
from eventport.events.models import Event
from eventport.exports import encryption
from eventport.exports.models import ACTIVE_STATES, ExportJob, JobState
from eventport.exports.registry import ExportContext, exporters, get_exporter
from eventport.exports.snapshot import read_snapshot
from eventport.exports.verify import ArchiveInvalid, check_entries, verify_archive
from eventport.imports.source import open_stored
from eventport.job_lifecycle import Clock, JobCancelled, LostOwnership
from eventport.storage import PutResult, Storage, StorageError, get_storage, round_trips
from eventport.storage.retry import Patience

#: Existence checks in flight before an export's copy, on object stores (HEAD requests).
LOOKUP_THREADS = 8

log = logging.getLogger(__name__)


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


def get_job(db: Session, job_id: str, user: User | None = None) -> ExportJob:
    """The job; with a ``user``, only if they have a role on its event (404 otherwise,
    exactly like the event itself). Without one: the operator (CLI, workers)."""
    def may_see(job: ExportJob) -> bool:
        return user is not None and role_on(db, user, job.event_id) is not None

    return lifecycle.visible_job(db, ExportJob, job_id, "export",  # type: ignore[no-any-return]
                                 may_see if user is not None else None)


def list_jobs(db: Session, event_id: int, page: int = 1, per_page: int = MAX_PER_PAGE
              ) -> tuple[list[ExportJob], int]:
    """One page of the event's export history, newest first, and the total."""
    query = (select(ExportJob).where(ExportJob.event_id == event_id)
             .order_by(ExportJob.created_at.desc(), ExportJob.id))
    return paginate(db, query, page, per_page)


def job_summary(job: ExportJob) -> dict[str, Any]:
    """The job as the API returns it, minus ``download_url`` (the caller knows its URLs)."""
    return {
        **lifecycle.summary(job),
        "event_id": job.event_id,
        "format": job.format,
        "options": job.options,
        "size": job.size,
        "sha256": job.sha256,
        "verified_at": lifecycle.iso(job.verified_at),
        "expires_at": lifecycle.iso(job.expires_at),
        "pinned": job.pinned,
        "trigger": job.trigger,
        "filename": job.filename,
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
    aborting its upload so no object is left, and never records another outcome.
    Finished: refused (409)."""
    return lifecycle.request_cancel(db, ExportJob, job, "export")  # type: ignore[no-any-return]


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


class _Run(lifecycle.JobAttempt):
    """One attempt at one export: the lifecycle's attempt plus the exporter's context."""

    model = ExportJob
    noun = "export"

    def context(self, options: dict[str, Any], storage: Storage) -> ExportContext:
        """Media reads ride out storage outages for ``EVENTPORT_STORAGE_RETRY_SECONDS``
        (resuming where a read broke); "not found" is answered, never retried."""
        patience = Patience(get_settings().storage_retry_seconds)
        return ExportContext(
            options=options,
            open_media=lambda key: patience.stream(
                lambda start: storage.open(key, start=start), f"reading {key}"),
            media_exists=lambda key: patience.call(lambda: storage.exists(key),
                                                   f"looking up {key}"),
            lookup_threads=LOOKUP_THREADS if round_trips(storage) else 1,
            warn=self.warn,
            progress=self.progress,
            check_cancelled=self.check,
        )


def _claim(sessions: sessionmaker[Session], job_id: str, clock: Clock,
           stale_after: int) -> int | None:
    """Claim the export (never one that was cancelled); a fresh start each attempt."""
    return lifecycle.claim(sessions, ExportJob, job_id, clock, stale_after,
                           values={"progress_stage": "snapshot", "progress_done": 0,
                                   "progress_total": 0, "warnings": []})


def _failure_reason(exc: BaseException, job_id: str) -> str:
    """What the job's ``error`` tells organizers: actionable, without internals.

    Storage errors say what an operator must fix (bucket, credentials); an OS error
    keeps its reason but not the file name it may carry; anything else may hold SQL or
    paths, so it points at the worker log instead.
    """
    if isinstance(exc, StorageError | LookupError | ArchiveInvalid):
        return str(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or (str(exc.args[0]) if exc.args else type(exc).__name__)
        return f"writing the export failed: {reason}"
    return (f"internal error ({type(exc).__name__}); the details are in the worker log "
            f"under export {job_id}")


@dataclass(frozen=True)
class _Plan:
    """What one attempt needs to know about its job, read once after the claim."""

    job_id: str
    event_id: int
    format: str
    options: dict[str, Any]
    filename: str
    key: str
    content_type: str


def _plan(sessions: sessionmaker[Session], job_id: str) -> _Plan:
    with sessions() as db:
        job = db.get(ExportJob, job_id)
        assert job is not None
        event = db.get(Event, job.event_id)
        identifier = event.identifier if event else str(job.event_id)
        exporter = get_exporter(job.format)
        filename = encryption.stored_name(
            download_filename(identifier, job.format, exporter.extension, job.created_at),
            job.options)
        content_type = (encryption.SEALED_CONTENT_TYPE if encryption.recipients_of(job.options)
                        else exporter.content_type)
        return _Plan(job_id, job.event_id, job.format, dict(job.options), filename,
                     storage_key(job.event_id, job_id, filename), content_type)


def _write(run: _Run, storage: Storage, engine: Engine, plan: _Plan) -> PutResult:
    """Snapshot → exporter → storage writer (a multipart upload, aborted on any error)."""
    exporter = get_exporter(plan.format)()
    run.progress("snapshot", 0, 1)
    snapshot = read_snapshot(engine, plan.event_id)
    run.check()
    with storage.writer(plan.key, content_type=plan.content_type, filename=plan.filename,
                        metadata={"export_job": plan.job_id}) as out:
        with encryption.sealing(out, plan.options) as target:  # recipients: age stream
            exporter.write(snapshot, target, run.context(plan.options, storage))
        run.check_now()  # before publishing: leaving the block by raising aborts the upload
    assert out.result is not None
    return out.result


def _prove(run: _Run, storage: Storage, plan: _Plan, result: PutResult) -> dt.datetime:
    """Read the stored object back and check it (docs/DESIGN.md: succeeded only when proven);
    a failed check deletes the object and fails the job with the reason."""
    run.progress("verifying", 0, result.size, force=True)
    try:
        if encryption.recipients_of(plan.options):
            _prove_sealed(run, storage, plan, result)
        elif plan.format == "archive":
            with open_stored(storage, plan.key) as file:
                verify_archive(file, _counted(run, storage.open(plan.key), result.size),
                               size=result.size, sha256=result.sha256)
        else:
            size, digest = check_entries(_counted(run, storage.open(plan.key), result.size),
                                         [], {})
            if (size, digest) != (result.size, result.sha256):
                raise ArchiveInvalid("the stored object differs from what was written")
    except ArchiveInvalid as exc:
        _discard(storage, plan.key)
        raise ArchiveInvalid(f"the stored export failed its read-back check: {exc}") from None
    except BaseException:
        _discard(storage, plan.key)
        raise
    return run.clock()


def _prove_sealed(run: _Run, storage: Storage, plan: _Plan, result: PutResult) -> None:
    """An encrypted export, read back: an age file to as many recipients as asked, with
    the size and SHA-256 that were written. The plaintext zip was checked entry by entry
    as the archive writer produced it; only a key holder can check it again
    (``eventport verify FILE --identity KEY``)."""
    try:
        encryption.check_header(b"".join(storage.open(plan.key, start=0,
                                                      end=min(result.size, 64 * 1024))),
                                len(encryption.recipients_of(plan.options)))
    except ValueError as exc:
        raise ArchiveInvalid(str(exc)) from None
    size, digest = check_entries(_counted(run, storage.open(plan.key), result.size), [], {})
    if (size, digest) != (result.size, result.sha256):
        raise ArchiveInvalid("the stored object differs from what was written")


def _counted(run: _Run, chunks: Iterator[bytes], total: int) -> Iterator[bytes]:
    done = 0
    for chunk in chunks:
        done += len(chunk)
        run.progress("verifying", done, total)
        run.check()
        yield chunk


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
    attempt = _claim(sessions, job_id, clock, settings.job_stale_after)
    if attempt is None:
        return None
    run = _Run(job_id, attempt, sessions, clock, on_progress)
    plan: _Plan | None = None
    try:
        with run.keepalive():
            plan = _plan(sessions, job_id)
            if attempt > 1:
                _abort_leftover_uploads(storage, plan.key.rsplit("/", 1)[0] + "/")
            result = _write(run, storage, engine or sessions.kw["bind"], plan)
            verified_at = _prove(run, storage, plan, result)
            run.check_now()
    except LostOwnership:
        log.warning("export %s: taken over by another worker; stopping", job_id)
        return None
    except JobCancelled:
        _discard(storage, plan.key if plan else None)
        return run.finish(JobState.CANCELLED.value)
    except Exception as exc:
        log.exception("export %s failed", job_id)
        _discard(storage, plan.key if plan else None)  # in case the upload completed
        return _finish_failed(run, sessions, exc, notify)
    expires = verified_at + dt.timedelta(days=settings.export_max_age_days)
    outcome = run.finish(JobState.SUCCEEDED.value, storage_key=plan.key,
                         filename=plan.filename, content_type=plan.content_type,
                         size=result.size, sha256=result.sha256, verified_at=verified_at,
                         expires_at=expires)
    if outcome != JobState.SUCCEEDED.value:
        # Cancelled or taken over while the last bytes went out: no orphan object.
        with sessions() as db:
            current = db.get(ExportJob, job_id)
            if current is None or current.storage_key != plan.key:
                _discard(storage, plan.key)
    elif notify:
        _notify(sessions, job_id)
    return outcome


def _finish_failed(run: _Run, sessions: sessionmaker[Session], exc: BaseException,
                   notify: bool) -> str | None:
    # Storage errors say what an operator must fix (bucket, credentials); anything
    # else may carry internals (SQL, paths) that event organizers should not read.
    outcome = run.finish(JobState.FAILED.value, error=_failure_reason(exc, run.job_id)[:2000])
    if outcome == JobState.FAILED.value and notify:
        _notify(sessions, run.job_id)
    return outcome


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


def _discard(storage: Storage, key: str | None) -> None:
    if key is None:
        return
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
    """Exports to send to the broker again (see :func:`eventport.job_lifecycle.stale_jobs`)."""
    return lifecycle.stale_jobs(db, ExportJob, "export", now=now,
                                stale_after=stale_after or get_settings().job_stale_after)
