"""Import jobs, top to bottom: upload → job row → (worker) read → stage media → one
transaction → publish media.

1. :func:`create_import_job` streams the upload into storage under
   ``imports/<job>/upload`` with a hard size limit (413 beyond it, nothing left behind)
   and records an :class:`ImportJob`. The caller commits, then enqueues (jobs layer).
2. A worker calls :func:`run_import`. It claims the job with one conditional UPDATE
   (as exports do), so a redelivered message never runs it twice.
3. The upload is read *in place* from storage (:mod:`eventport.imports.source`), through
   :class:`~eventport.imports.safezip.SafeZip` and a reader, into a validated
   :class:`~eventport.imports.model.EventData`; every relation is checked before any write.
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
import hashlib
import itertools
import logging
import posixpath
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from eventport import job_lifecycle as lifecycle
from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.db import get_sessionmaker
from eventport.db.base import utcnow
from eventport.errors import EventportError, InvalidInput
from eventport.events import service as events
from eventport.events.media import sniff
from eventport.events.models import Event, MediaFile
from eventport.events.resources import ACCEPTED_TYPES, KIND_DIRS, PROGRAM, RESOURCES, slugify
from eventport.imports.errors import ImportRefused
from eventport.imports.model import EventData, ItemData, MediaRef
from eventport.imports.models import ImportJob
from eventport.imports.readers import check_format, read_upload, sniff_container
from eventport.imports.safezip import SafeZip, ZipLimits
from eventport.imports.source import open_stored
from eventport.job_lifecycle import Clock, JobState, LostOwnership, new_job_id
from eventport.storage import Storage, StorageError, get_storage
from eventport.streams import chunks_of, limited, read_head

log = logging.getLogger(__name__)

PUBLISH_THREADS = 4
SNIFF_BYTES = 8192


def staging_prefix(job_id: str) -> str:
    return f"imports/{job_id}/"


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
) -> ImportJob:
    """Store the upload under the job's staging key and record the job (caller commits)."""
    check_format(format)
    limit = max_bytes or get_settings().import_max_bytes
    chunks = chunks_of(upload)
    head = read_head(chunks, SNIFF_BYTES)
    if not head:
        raise InvalidInput("the uploaded file is empty")
    container = sniff_container(head)
    wrong = format is not None and (format == "frab-xml") != (container == "xml")
    if container is None or wrong:
        expected = {"frab-xml": "an XML file", None: "a zip or XML file"}.get(format, "a zip")
        raise ImportRefused(f"the upload is not {expected}")
    job = ImportJob(id=new_job_id(), format=format, dry_run=dry_run, requested_by_id=user.id,
                    original_filename=(filename or "upload")[:255], options={},
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


def get_job(db: Session, job_id: str, user: User | None) -> ImportJob:
    """Only the requester (or an admin) sees a job; everyone else gets a 404.
    ``user=None`` is the operator (CLI)."""
    def may_see(job: ImportJob) -> bool:
        return user is not None and (user.is_admin or job.requested_by_id == user.id)

    return lifecycle.visible_job(db, ImportJob, job_id, "import",  # type: ignore[no-any-return]
                                 may_see if user is not None else None)


def job_summary(job: ImportJob) -> dict[str, Any]:
    result = {k: v for k, v in (job.result or {}).items() if k != "publish"}
    return {
        **lifecycle.summary(job),
        "format": job.format,
        "dry_run": job.dry_run,
        "event_id": job.event_id,
        "result": result,
        "original_filename": job.original_filename,
        "upload_size": job.upload_size,
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


@dataclass
class _Staged:
    ref: MediaRef
    key: str  # under imports/<job>/media/
    content_type: str
    size: int
    sha256: str


def _stage_media(run: _Run, storage: Storage, zf: SafeZip, data: EventData, dry_run: bool
                 ) -> dict[str, _Staged]:
    """Copy every media file out of the zip, checking bytes, hash and type on the way."""
    refs = data.media()
    total = sum(zf.info(ref.path).file_size for ref in refs)
    done = 0
    staged: dict[str, _Staged] = {}
    run.progress("media", 0, total, force=True)
    for number, ref in enumerate(refs, start=1):
        digest = hashlib.sha256()
        state: dict[str, Any] = {"size": 0, "type": None}

        def checked(ref: MediaRef = ref, digest: Any = digest, state: dict[str, Any] = state
                    ) -> Iterator[bytes]:
            nonlocal done
            pending = b""  # held back until the first bytes tell the content type
            for chunk in zf.iter_bytes(ref.path):
                digest.update(chunk)
                state["size"] += len(chunk)
                done += len(chunk)
                if state["type"] is None:
                    pending += chunk
                    if len(pending) < SNIFF_BYTES:
                        continue
                    state["type"] = _check_type(ref, pending[:SNIFF_BYTES])
                    chunk, pending = pending, b""
                run.progress("media", done, total)
                yield chunk
            if state["type"] is None:
                state["type"] = _check_type(ref, pending)
                yield pending

        key = f"{staging_prefix(run.job_id)}media/{number:06d}"
        chunks = checked()
        first = next(chunks, b"")  # the generator yields only once the type is known
        if dry_run:
            for _ in chunks:
                pass
        else:
            storage.put_stream(key, itertools.chain([first], chunks),
                               content_type=state["type"] or "application/octet-stream",
                               metadata={"import_job": run.job_id})
        size, sha = state["size"], digest.hexdigest()
        if (ref.size is not None and size != ref.size) or (ref.sha256 and sha != ref.sha256):
            raise ImportRefused(f"{ref.path} does not match manifest.json (size or SHA-256 "
                                "differs); the archive was altered or damaged")
        staged[ref.path] = _Staged(ref, key, state["type"], size, sha)
    return staged


def _check_type(ref: MediaRef, head: bytes) -> str:
    content_type = sniff(head) if head else None
    accepted = ACCEPTED_TYPES[ref.kind]
    if content_type not in accepted:
        raise ImportRefused(
            f"{ref.where}: {ref.path} holds {content_type or 'data of an unknown type'}, "
            f"not an accepted {ref.kind.value} ({', '.join(accepted)})")
    return content_type  # type: ignore[return-value]


def _final_key(event_id: int, ref: MediaRef, number: int) -> str:
    stem, ext = posixpath.splitext(posixpath.basename(ref.path))
    ext = ext[1:].lower() if ext[1:].isalnum() and len(ext) <= 9 else "bin"
    return (f"events/{event_id}/media/{KIND_DIRS[ref.kind]}/"
            f"{secrets.token_hex(8)}-{number}-{slugify(stem, 40)}.{ext}")


def _write(db: Session, owner: User, data: EventData, staged: dict[str, _Staged],
           keep_identifier: bool) -> tuple[Event, list[tuple[str, str]]]:
    """Create the event and all rows (caller commits); returns the media to publish."""
    values = dict(data.event.values)
    values["identifier"] = data.identifier if keep_identifier else None
    event = events.create_event(db, owner, values)
    publish: list[tuple[str, str]] = []

    def attach(row: Any, item: ItemData) -> None:
        for slot_name, ref in item.media.items():
            stage = staged[ref.path]
            key = _final_key(event.id, ref, len(publish) + 1)
            media = MediaFile(event_id=event.id, kind=ref.kind.value, storage_key=key,
                              content_type=stage.content_type, size=stage.size,
                              sha256=stage.sha256,
                              original_filename=posixpath.basename(ref.path)[:255])
            db.add(media)
            db.flush()
            setattr(row, slot_name, media)
            publish.append((stage.key, key))

    attach(event, data.event)
    ids: dict[str, dict[int, int]] = {}
    for resource in PROGRAM:
        mapping = ids.setdefault(resource.name, {})
        for item in data.items[resource.name]:
            row_values = dict(item.values)
            for attr, target in resource.references.items():
                if row_values.get(attr) is not None:
                    row_values[attr] = ids[target][row_values[attr]]
            if "speaker_ids" in row_values:
                row_values["speaker_ids"] = [ids["speakers"][s]
                                             for s in row_values["speaker_ids"]]
            try:
                row = events.create_item(db, RESOURCES[resource.name], event, row_values)
            except EventportError as exc:
                raise ImportRefused(f"{item.where}: {exc.detail}") from None
            if item.uuid:
                row.uuid = item.uuid
            attach(row, item)
            mapping[item.source_id] = row.id
    db.flush()
    return event, publish


def _publish(run: _Run, storage: Storage, publish: list[tuple[str, str]]) -> None:
    """Move staged media to their final keys (idempotent: a retry skips what moved).

    A move is a rename on local disk and a server-side copy on object stores: no media
    byte passes through the worker a second time.
    """
    run.progress("publishing", 0, len(publish), force=True)

    def copy(pair: tuple[str, str]) -> None:
        source, target = pair
        if not storage.exists(target):
            storage.move(source, target)

    # Server-side copies are latency-bound: a few in flight hide the round trips.
    with ThreadPoolExecutor(max_workers=PUBLISH_THREADS) as pool:
        for done, _ in enumerate(pool.map(copy, publish), start=1):
            run.progress("publishing", done, len(publish))


def discard_upload(job: ImportJob, storage: Storage | None = None) -> None:
    """Drop a refused job's staging area (its upload) from storage."""
    _cleanup(storage or get_storage(), job.id)


def _cleanup(storage: Storage, job_id: str) -> None:
    try:
        storage.delete_prefix(staging_prefix(job_id))
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
        fmt, dry_run, key = job.format, job.dry_run, job.staging_key
        owner_id, event_id = job.requested_by_id, job.event_id
        previous = dict(job.result or {})
    run = _Run(job_id, attempt, sessions, clock, on_progress)
    try:
        if event_id is not None and previous.get("publish") is not None:
            # A worker died after the commit: only the publishing is left to do.
            _publish(run, storage, [tuple(p) for p in previous["publish"]])  # type: ignore[misc]
            _cleanup(storage, job_id)
            result = {k: v for k, v in previous.items() if k != "publish"}
            run.finish(state=JobState.SUCCEEDED.value, progress_stage="done", result=result)
            return JobState.SUCCEEDED.value
        if attempt > lifecycle.MAX_ATTEMPTS:
            raise ImportRefused(f"the worker running this import stopped {attempt - 1} times")
        if key is None:
            raise ImportRefused("the job has no uploaded file")
        storage.delete_prefix(f"{staging_prefix(job_id)}media/")  # an earlier attempt's
        return _run_fresh(run, storage, key, fmt, dry_run, owner_id, limits)
    except LostOwnership:
        log.warning("import %s: taken over by another worker; stopping", job_id)
        return None
    except Exception as exc:
        if not isinstance(exc, EventportError):
            log.exception("import %s failed", job_id)
        _cleanup(storage, job_id)
        run.finish(state=JobState.FAILED.value, progress_stage="failed",
                error=_user_message(exc)[:2000])
        return JobState.FAILED.value


def _run_fresh(run: _Run, storage: Storage, key: str, fmt: str | None, dry_run: bool,
               owner_id: int | None, limits: ZipLimits | None) -> str:
    run.progress("reading", 0, 1, force=True)
    source: IO[bytes] = open_stored(storage, key)
    zf: SafeZip | None = None
    try:
        data, zf = read_upload(source, fmt, limits)
        run.progress("reading", 1, 1)
        staged = (_stage_media(run, storage, zf, data, dry_run) if zf is not None else {})
    finally:
        if zf is not None:
            zf.close()
        source.close()
    counts = data.counts()
    result: dict[str, Any] = {"format": data.format, "counts": counts,
                              "media_bytes": sum(s.size for s in staged.values())}
    warnings = list(data.warnings)
    if dry_run:
        _cleanup(storage, run.job_id)
        run.finish(state=JobState.SUCCEEDED.value, progress_stage="done", result=result,
                warnings=warnings)
        return JobState.SUCCEEDED.value

    run.progress("saving", 0, sum(counts.values()), force=True)
    keep = bool(data.identifier)
    with run.sessions() as check:
        if keep and check.scalar(select(Event.id).where(Event.identifier == data.identifier)):
            keep = False
    if data.identifier and not keep:
        warnings.append(f"identifier {data.identifier!r} is already used on this server; "
                        "the event got a new one")
    for retry in (False, True):
        with run.sessions() as db:
            owner = db.get(User, owner_id) if owner_id is not None else None
            if owner is None:
                raise ImportRefused("the user who requested this import no longer exists")
            try:
                event, publish = _write(db, owner, data, staged, keep)
                result["event_identifier"] = event.identifier
                # The job learns its event in the same transaction that creates it.
                done = db.execute(
                    update(ImportJob)
                    .where(ImportJob.id == run.job_id, ImportJob.attempts == run.attempt,
                           ImportJob.state == JobState.RUNNING.value)
                    .values(event_id=event.id, progress_stage="publishing",
                            heartbeat_at=run.clock(), warnings=warnings,
                            result={**result, "publish": [list(p) for p in publish]})
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    db.rollback()
                    raise LostOwnership(run.job_id)
                db.commit()
                break
            except IntegrityError:
                db.rollback()
                if retry or not keep:
                    raise
                # Another import took the identifier between our check and our insert.
                keep = False
                warnings.append(f"identifier {data.identifier!r} was taken meanwhile; the "
                                "event got a new one")
    try:
        _publish(run, storage, publish)
    except LostOwnership:
        raise
    except Exception as exc:
        # Rows are committed but media could not be made live: undo the event rather
        # than leave one with holes, and say why.
        log.exception("import %s: publishing media failed", run.job_id)
        with run.sessions() as db:
            event_row = db.get(Event, event.id)
            keys = events.delete_event(db, event_row) if event_row else []
            db.commit()
        events.discard_objects(storage, keys)
        raise ImportRefused(f"media could not be stored ({_user_message(exc)}); nothing "
                            "was imported") from None
    _cleanup(storage, run.job_id)
    run.finish(state=JobState.SUCCEEDED.value, progress_stage="done", result=result,
            warnings=warnings)
    return JobState.SUCCEEDED.value


# ------------------------------------------------------------------- stale recovery


def stale_jobs(db: Session, *, now: dt.datetime | None = None,
               stale_after: int | None = None) -> list[str]:
    """Import jobs to send again (see :func:`eventport.job_lifecycle.stale_jobs`); one
    whose rows are committed (it knows its event) only has publishing left and is
    resumed whatever its attempt count."""
    return lifecycle.stale_jobs(db, ImportJob, "import", now=now,
                                stale_after=stale_after or get_settings().job_stale_after,
                                resumable=ImportJob.event_id.is_not(None))


def jobs_of(db: Session, user: User, limit: int = 20) -> list[ImportJob]:
    """The user's own imports, newest first (the Import page's history)."""
    return list(db.scalars(select(ImportJob).where(ImportJob.requested_by_id == user.id)
                           .order_by(ImportJob.created_at.desc(), ImportJob.id).limit(limit)))
