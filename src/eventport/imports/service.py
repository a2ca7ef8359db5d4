"""Import jobs, top to bottom: upload → job row → (worker) read → stage media → one
transaction → publish media.

1. :func:`create_import_job` streams the upload into storage under
   ``imports/<job>/upload`` with a hard size limit (413 beyond it, nothing left behind)
   and records an :class:`ImportJob`. The caller commits, then enqueues (jobs layer).
2. A worker calls :func:`run_import`. It claims the job with one conditional UPDATE
   (as exports do), so a redelivered message never runs it twice.
3. The upload is read *in place* from storage (:mod:`eventport.imports.source`), through
   :class:`~eventport.imports.safezip.SafeZip` and a reader, into a validated
   :class:`~eventport.imports.eventdata.EventData`; every relation is checked before any write.
4. Each media file is streamed out of the zip to ``imports/<job>/media/…`` while its
   size, SHA-256 (against the manifest) and content type (sniffed from the bytes, must
   suit the slot) are checked. A dry run does the same checks and discards the bytes.
5. One transaction creates the event (the importing user its owner) and every row
   through :mod:`eventport.events.service` — the same rules as the API — remapping ids,
   and records the event and the list of media to publish on the job in that same
   transaction. Any error: rollback, staged objects deleted, the job says what was wrong.
6. After the commit, staged media are copied to their final keys and the staging area
   is deleted. A worker that dies here leaves the job ``running`` with its event and
   publish list; the next attempt (stale-job recovery) finishes publishing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from eventport import job_lifecycle as lifecycle
from eventport.accounts import service as accounts
from eventport.accounts.models import User
from eventport.accounts.permissions import Permission
from eventport.config import get_settings
from eventport.db import get_sessionmaker
from eventport.db.base import utcnow
from eventport.db.paging import MAX_PER_PAGE, paginate
from eventport.errors import Conflict, EventportError, InvalidInput
from eventport.events import service as events
from eventport.events.models import Event
from eventport.imports import importer, kept, warning_kinds
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData
from eventport.imports.importer import MODES, Staged
from eventport.imports.models import ImportJob
from eventport.imports.readers import (
    check_container,
    check_format,
    probe_upload,
    read_upload,
    sniff_container,
)
from eventport.imports.safezip import SafeZip, ZipLimits
from eventport.imports.source import open_stored
from eventport.imports.staging import SNIFF_BYTES, publish, stage_media, staging_prefix
from eventport.imports.zones import check_timezone
from eventport.job_lifecycle import Clock, JobState, LostOwnership, new_job_id
from eventport.storage import Storage, StorageError, get_storage
from eventport.streams import chunks_of, limited, read_head

log = logging.getLogger(__name__)
#: Ranged reads of the 409 probe: a few small pieces of the upload, never whole chunks.
PROBE_WINDOW = 64 * 1024



# ------------------------------------------------------------------------- requesting


def create_import_job(
    db: Session,
    storage: Storage,
    user: User,
    upload: Iterable[bytes] | BinaryIO,
    filename: str,
    *,
    format: str | None = None,
    dry_run: bool = False,
    max_bytes: int | None = None,
    mode: str = "create",
    event_id: int | None = None,
    timezone: str | None = None,
) -> ImportJob:
    """Store the upload under the job's staging key and record the job (caller commits).
    ``timezone``: the IANA zone of a source that names none (:mod:`.zones`)."""
    check_format(format)
    check_mode(db, user, mode, event_id)
    check_timezone(timezone)
    limit = max_bytes or get_settings().import_max_bytes
    chunks = chunks_of(upload)
    head = read_head(chunks, SNIFF_BYTES)
    if not head:
        raise InvalidInput("the uploaded file is empty")
    check_container(format, sniff_container(head))
    options: dict[str, Any] = {"event_id": event_id} if mode == "update" else {}
    if timezone:
        options["timezone"] = timezone
    job = ImportJob(id=new_job_id(), format=format, dry_run=dry_run, requested_by_id=user.id,
                    mode=mode, options=options,
                    original_filename=(filename or "upload")[:255],
                    state=JobState.QUEUED.value, progress_stage="queued", warnings=[],
                    result={})
    key = f"{staging_prefix(job.id)}upload"
    result = storage.put_stream(key, limited(head, chunks, limit, "import file"),
                                metadata={"import_job": job.id})
    job.staging_key, job.upload_size = key, result.size
    db.add(job)
    try:
        db.flush()
    except Exception:
        storage.delete(key)
        raise
    return job


def refuse_known_source(db: Session, storage: Storage, user: User, job: ImportJob) -> None:
    """``create``: answer 409 at once, before the job is queued, when the source's event
    is already on this server, reading only what the format's probe needs (an archive's
    manifest.json and event.json, never its media). The refused job is recorded as
    failed and its upload deleted. A file the probe cannot read goes on to the worker,
    which reads all of it and says precisely what is wrong; a race between two uploads
    of one source is caught there too (the job-side check stays as the backstop)."""
    if job.mode != "create" or not job.staging_key:
        return
    try:
        with open_stored(storage, job.staging_key, PROBE_WINDOW, PROBE_WINDOW) as source:
            uuid = probe_upload(source, job.format)
    except (ImportRefused, StorageError):
        return
    job.options = {**(job.options or {}), "event_uuid": uuid}
    found = db.scalar(select(Event).where(Event.uuid == uuid))
    if found is None:
        db.commit()
        return
    conflict = importer.existing_event_conflict(db, user, found)
    job.state = job.progress_stage = JobState.FAILED.value
    job.error, job.finished_at = conflict.detail, utcnow()
    db.commit()
    discard_upload(job, storage)
    raise conflict


def check_mode(db: Session, user: User, mode: str, event_id: int | None) -> None:
    """``update`` names an event the caller may edit; the other modes name none."""
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of: {', '.join(MODES)}")
    if mode != "update":
        if event_id is not None:
            raise InvalidInput(f"event_id is only for mode=update, not mode={mode}")
        return
    if event_id is None:
        raise InvalidInput("mode=update needs the event_id of the event to update")
    accounts.require(db, user, event_id, Permission.IMPORT_UPDATE)  # the role matrix
    events.get_event(db, event_id)


_FLAG = TypeAdapter(bool)


def form_flag(name: str, value: str | None) -> bool:
    """A yes/no form field (``true``/``false``, ``1``/``0``, ``on``/``off``…); absent is no.

    ``dry_run`` arrives as a form field from HTML forms and curl ``-F``: ignoring it
    would import for real what the caller asked only to check.
    """
    if value is None or value == "":
        return False
    try:
        return _FLAG.validate_python(value)
    except ValidationError:
        raise InvalidInput(f"{name} must be true or false, not {value[:20]!r}") from None


def set_late_options(db: Session, job: ImportJob, format: str | None,
                     timezone: str | None, dry_run: str | None = None) -> None:
    """``format`` / ``timezone`` / ``dry_run`` fields sent after the file: still honoured,
    checked the same way (the job is not queued yet).

    The job is already stored; a bad late field fails it (and drops its upload) so no
    sweep ever runs an import the client was told was refused.
    """
    try:
        check_format(format)
        check_timezone(timezone)
        job.dry_run = job.dry_run or form_flag("dry_run", dry_run)
    except EventportError as exc:
        job.state = job.progress_stage = JobState.FAILED
        job.error = exc.detail
        db.commit()
        discard_upload(job)
        raise
    if format:
        job.format = format
    if timezone:
        job.options = {**(job.options or {}), "timezone": timezone}
    db.commit()


def get_job(db: Session, job_id: str, user: User | None) -> ImportJob:
    """Only the requester (or an admin) sees a job; everyone else gets a 404.
    ``user=None`` is the operator (CLI)."""
    def may_see(job: ImportJob) -> bool:
        return user is not None and (user.is_admin or job.requested_by_id == user.id)

    return lifecycle.visible_job(db, ImportJob, job_id, "import",  # type: ignore[no-any-return]
                                 may_see if user is not None else None)


def apply(db: Session, storage: Storage, user: User, job_id: str) -> ImportJob:
    """The queued import of what dry run ``job_id`` checked, from its kept upload (404
    for a caller who may not see it; an update needs the right to edit its target now)."""
    dry = get_job(db, job_id, user)
    if dry.mode == "update":
        check_mode(db, user, "update", _target_id(dry))
    return kept.apply_dry_run(db, storage, user, dry)


def job_summary(job: ImportJob) -> dict[str, Any]:
    result = {k: v for k, v in (job.result or {}).items()
              if k not in ("publish", "discard", "applied_as")}
    return {
        **lifecycle.summary(job),
        "format": job.format,
        "dry_run": job.dry_run,
        "mode": job.mode,
        "plan": (job.result or {}).get("plan"),
        "event_id": job.event_id if job.event_id is not None else _target_id(job),
        "result": result,
        "original_filename": job.original_filename,
        "upload_size": job.upload_size,
        "warning_groups": warning_kinds.group(list(job.warnings or [])),
        "timezone": (job.options or {}).get("timezone"),
        "upload_kept_until": lifecycle.iso(kept.kept_until(job)),
        "applied_as": (job.result or {}).get("applied_as"),
        "applied_from": (job.options or {}).get("applied_from"),
    }


# ---------------------------------------------------------------------------- running


class _Run(lifecycle.JobAttempt):
    """One attempt at one import; stops at once when another worker took the job over."""

    model = ImportJob
    noun = "import"

    def heartbeat(self) -> None:
        super().heartbeat()
        if self.lost:
            raise LostOwnership(f"import {self.job_id} was taken over by another worker")


def _claim(sessions: sessionmaker[Session], job_id: str, clock: Clock,
           stale_after: int) -> int | None:
    return lifecycle.claim(sessions, ImportJob, job_id, clock, stale_after)


def discard_upload(job: ImportJob, storage: Storage | None = None) -> None:
    """Drop a refused job's staging area (its upload) from storage."""
    _cleanup(storage or get_storage(), job.id, job.staging_key)


def _cleanup(storage: Storage, job_id: str, key: str | None = None) -> None:
    """Delete the job's staging area — and its upload, which an applied dry run's job
    references where the dry run stored it (:mod:`eventport.imports.kept`)."""
    try:
        storage.delete_prefix(staging_prefix(job_id))
        if key and not key.startswith(staging_prefix(job_id)):
            storage.delete(key)
    except StorageError:
        log.warning("import %s: could not delete its staging area", job_id, exc_info=True)


def _user_message(exc: BaseException) -> str:
    if isinstance(exc, EventportError):
        return exc.detail
    if isinstance(exc, StorageError):
        return f"storage error: {exc}"
    return f"internal error ({type(exc).__name__}); the import was rolled back"


def run_import(
    job_id: str,
    *,
    storage: Storage | None = None,
    sessions: sessionmaker[Session] | None = None,
    clock: Clock = utcnow,
    on_progress: Callable[[str, int, int], None] | None = None,
    limits: ZipLimits | None = None,
) -> str | None:
    """Run one import job to its end; what the Celery task calls. Idempotent.

    Returns the final state, or None when this call did not run the job (finished,
    running elsewhere, unknown). A failed import is recorded on the job, never raised.
    """
    settings = get_settings()
    storage = storage or get_storage()
    sessions = sessions or get_sessionmaker()
    attempt = _claim(sessions, job_id, clock, settings.job_stale_after)
    if attempt is None:
        return None
    with sessions() as db:
        job = db.get(ImportJob, job_id)
        assert job is not None
        view = _JobView(job.staging_key, job.format, job.dry_run, job.mode or "create",
                        job.requested_by_id, job.event_id, _target_id(job),
                        (job.options or {}).get("timezone"))
        previous = dict(job.result or {})
    run = _Run(job_id, attempt, sessions, clock, on_progress)
    stop_beating = run.start_keepalive()  # a long step (one big transaction) is not death
    try:
        if view.event_id is not None and previous.get("publish") is not None:
            # A worker died after the commit: only the publishing is left to do.
            publish(run.progress, storage,
                    [tuple(p) for p in previous["publish"]])  # type: ignore[misc]
            events.discard_objects(storage, list(previous.get("discard") or []))
            _cleanup(storage, job_id, view.key)
            result = {k: v for k, v in previous.items() if k not in ("publish", "discard")}
            run.finish(state=JobState.SUCCEEDED.value, progress_stage="done", result=result)
            return JobState.SUCCEEDED.value
        if attempt > lifecycle.MAX_ATTEMPTS:
            raise ImportRefused(f"the worker running this import stopped {attempt - 1} times")
        if view.key is None:
            raise ImportRefused("the job has no uploaded file")
        storage.delete_prefix(f"{staging_prefix(job_id)}media/")  # an earlier attempt's
        return _run_fresh(run, storage, view, limits)
    except LostOwnership:
        log.warning("import %s: taken over by another worker; stopping", job_id)
        return None
    except Exception as exc:
        if not isinstance(exc, EventportError):
            log.exception("import %s failed", job_id)
        _cleanup(storage, job_id, view.key)
        run.finish(state=JobState.FAILED.value, progress_stage="failed",
                error=_user_message(exc)[:2000])
        return JobState.FAILED.value
    finally:
        stop_beating()


def _run_fresh(run: _Run, storage: Storage, job: _JobView, limits: ZipLimits | None) -> str:
    run.progress("reading", 0, 1, force=True)
    zone = job.zone
    if zone is None and job.mode == "update":  # the event's own zone, as the page says
        with run.sessions() as db:
            zone = _target(db, job).timezone
    source: IO[bytes] = open_stored(storage, str(job.key))
    zf: SafeZip | None = None
    try:
        data, zf = read_upload(source, job.format, limits, zone)
        run.progress("reading", 1, 1)
        if job.mode == "copy":
            importer.give_fresh_uuids(data)
        skip: set[str] = set()
        if job.mode == "update" and zf is not None:
            with run.sessions() as db:
                skip = importer.unchanged_media(db, _target(db, job).id, data)
        # stage_media makes what it staged durable before it returns: before the commit
        staged = (stage_media(run.job_id, run.progress, storage, zf, data, job.dry_run,
                              skip) if zf is not None else {})
    finally:
        if zf is not None:
            zf.close()
        source.close()
    result: dict[str, Any] = {"format": data.format, "counts": data.counts(), "mode": job.mode,
                              "media_bytes": sum(s.size for s in staged.values() if s.key)}
    warnings = list(data.warnings)
    if job.dry_run:
        return _finish_dry_run(run, storage, job, data, staged, result, warnings)
    written = _save(run, job, data, staged, result, warnings)
    _publish_written(run, storage, job, written)
    _cleanup(storage, run.job_id, job.key)
    run.finish(state=JobState.SUCCEEDED.value, progress_stage="done", result=result,
               warnings=warnings)
    return JobState.SUCCEEDED.value


def _finish_dry_run(run: _Run, storage: Storage, job: _JobView, data: EventData,
                    staged: dict[str, Staged], result: dict[str, Any], warnings: list[str]
                    ) -> str:
    """Record the plan; keep the upload (``EVENTPORT_IMPORT_DRY_RUN_KEEP_HOURS``) so the
    dry run can be applied without a second upload (:mod:`eventport.imports.kept`)."""
    with run.sessions() as db:
        result["plan"] = _plan(db, job, data, staged).as_dict()
    keep = get_settings().import_dry_run_keep_hours > 0
    if keep:
        storage.delete_prefix(f"{staging_prefix(run.job_id)}media/")
    else:
        _cleanup(storage, run.job_id, job.key)
    state = run.finish(state=JobState.SUCCEEDED.value, progress_stage="done", result=result,
                       warnings=warnings, **({} if keep else {"staging_key": None}))
    if keep and state != JobState.SUCCEEDED.value:
        _cleanup(storage, run.job_id, job.key)  # cancelled meanwhile, or no longer ours
    return state or JobState.SUCCEEDED.value


@dataclass(frozen=True)
class _JobView:
    """What a worker needs of the job row, read once."""

    key: str | None
    format: str | None
    dry_run: bool
    mode: str
    owner_id: int | None
    event_id: int | None  # set by the commit that wrote the rows
    target_id: int | None  # mode=update: the event to update
    zone: str | None = None  # the timezone option: for a source that names none


def _target_id(job: ImportJob) -> int | None:
    value = (job.options or {}).get("event_id")
    return value if isinstance(value, int) else None


def _target(db: Session, job: _JobView) -> Event:
    event = db.get(Event, job.target_id) if job.target_id is not None else None
    if event is None:
        raise ImportRefused("the event to update no longer exists")
    return event


def _plan(db: Session, job: _JobView, data: EventData, staged: dict[str, Staged]
          ) -> importer.Plan:
    """The plan, after the checks that refuse an import before anything is written."""
    if job.mode == "update":
        event = _target(db, job)
        taken = importer.uuid_taken_elsewhere(db, event.id, data)
    else:
        if job.mode == "create":  # the backstop of the request's probe (a race, the CLI)
            owner = db.get(User, job.owner_id) if job.owner_id is not None else None
            importer.refuse_existing(db, data, owner)
        taken = importer.uuid_taken_elsewhere(db, None, data)
    if taken:
        raise Conflict(f"{taken} belongs to another event on this server (uuids are unique "
                       "per server); import with mode=copy to give everything new uuids")
    if job.mode == "update":
        return importer.plan(db, event, data, staged)
    return importer.creation_plan(data)


def _record(db: Session, run: _Run, event: Event, result: dict[str, Any],
            warnings: list[str], written: importer.Written) -> None:
    """The job learns its event and publish list in the transaction that writes them."""
    done = db.execute(
        update(ImportJob)
        .where(ImportJob.id == run.job_id, ImportJob.attempts == run.attempt,
               ImportJob.state == JobState.RUNNING.value)
        .values(event_id=event.id, progress_stage="publishing", heartbeat_at=run.clock(),
                warnings=warnings,
                result={**result, "publish": [list(p) for p in written.publish],
                        "discard": written.discard})
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise LostOwnership(run.job_id)


def _save(run: _Run, job: _JobView, data: EventData, staged: dict[str, Staged],
          result: dict[str, Any], warnings: list[str]) -> importer.Written:
    """One transaction: the plan, the rows, the job's record of them."""
    run.progress("saving", 0, sum(data.counts().values()), force=True)
    keep = bool(data.identifier)
    for retry in (False, True):
        with run.sessions() as db:
            owner = db.get(User, job.owner_id) if job.owner_id is not None else None
            if owner is None:
                raise ImportRefused("the user who requested this import no longer exists")
            the_plan = _plan(db, job, data, staged)
            result["plan"] = the_plan.as_dict()
            try:
                if job.mode == "update":
                    written = importer.apply(db, _target(db, job), data, staged, the_plan,
                                             warnings)
                else:
                    keep = keep and _identifier_free(db, data, warnings)
                    written = importer.create(db, owner, data, staged, keep)
                result["event_identifier"] = written.event.identifier
                _record(db, run, written.event, result, warnings, written)
                db.commit()
                return written
            except IntegrityError:
                db.rollback()
                if retry or not keep:
                    raise
                # Another import took the identifier between our check and our insert.
                keep = False
                warnings.append(f"identifier {data.identifier!r} was taken meanwhile; the "
                                "event got a new one")
    raise AssertionError("unreachable")  # pragma: no cover


def _identifier_free(db: Session, data: EventData, warnings: list[str]) -> bool:
    if db.scalar(select(Event.id).where(Event.identifier == data.identifier)):
        warnings.append(f"identifier {data.identifier!r} is already used on this server; "
                        "the event got a new one")
        return False
    return True


def _publish_written(run: _Run, storage: Storage, job: _JobView,
                     written: importer.Written) -> None:
    try:
        publish(run.progress, storage, written.publish)
    except LostOwnership:
        raise
    except Exception as exc:
        log.exception("import %s: publishing media failed", run.job_id)
        if job.mode == "update":
            raise ImportRefused(f"media could not be stored ({_user_message(exc)}); the "
                                "event's data was updated but some of its media are "
                                "missing: import again to complete it") from None
        # Rows are committed but media could not be made live: undo the event rather
        # than leave one with holes, and say why.
        with run.sessions() as db:
            event_row = db.get(Event, written.event.id)
            keys = events.delete_event(db, event_row) if event_row else []
            db.commit()
        events.discard_objects(storage, keys)
        raise ImportRefused(f"media could not be stored ({_user_message(exc)}); nothing "
                            "was imported") from None
    events.discard_objects(storage, written.discard)


# ------------------------------------------------------------------- stale recovery


def stale_jobs(db: Session, *, now: dt.datetime | None = None,
               stale_after: int | None = None) -> list[str]:
    """Import jobs to send again (see :func:`eventport.job_lifecycle.stale_jobs`); one
    whose rows are committed (it knows its event) only has publishing left and is
    resumed whatever its attempt count."""
    return lifecycle.stale_jobs(db, ImportJob, "import", now=now,
                                stale_after=stale_after or get_settings().job_stale_after,
                                resumable=ImportJob.event_id.is_not(None))


def list_jobs(db: Session, user: User, page: int = 1, per_page: int = MAX_PER_PAGE
              ) -> tuple[list[ImportJob], int]:
    """One page of the user's own imports, newest first, and the total: an import belongs
    to whoever uploaded it (it may have created no event yet, or failed)."""
    query = (select(ImportJob).where(ImportJob.requested_by_id == user.id)
             .order_by(ImportJob.created_at.desc(), ImportJob.id))
    return paginate(db, query, page, per_page)


def jobs_of(db: Session, user: User, limit: int = 20) -> list[ImportJob]:
    """The user's latest imports (the Import page's history)."""
    return list_jobs(db, user, 1, limit)[0]
