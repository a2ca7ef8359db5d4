"""A dry run's kept upload, and applying the dry run without uploading the file again.

A succeeded dry run keeps its upload (the plaintext, for an encrypted archive) for
``EVENTPORT_IMPORT_DRY_RUN_KEEP_HOURS``; :func:`apply_dry_run` turns it into a real import.

Applying makes a **new** job rather than re-running the dry run's: a finished job is
final everywhere else (stale recovery, webhooks, the history, the leftovers sweep all
rely on it), the dry run stays in the history as what was checked (plan, warnings), and
the new job has the lifecycle of any upload's (claim, heartbeats, attempts,
``import.succeeded``). It inherits mode, target, time zone and format (as requested:
detecting it again costs one look at the zip's directory).

The upload changes hands in one conditional UPDATE (the dry run's ``staging_key`` is
cleared only where it still holds the key), so two applies racing make one job and one
409. The object itself stays where it is: the new job *references* it (its
``staging_key`` points into the dry run's staging area) and deletes it when it ends, like
its own. Not moved, because a move is a server-side copy on object stores and S3 copies
one object of at most 5 GB in one request, while an import may be 8 GB; so applying is a
database operation only. The leftovers sweep never deletes an active job's upload.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.db.base import utcnow
from eventport.errors import Conflict
from eventport.events.models import Event
from eventport.imports import importer
from eventport.imports.models import ImportJob
from eventport.job_lifecycle import Clock, JobState, new_job_id
from eventport.storage import Storage, StorageError

log = logging.getLogger(__name__)


def keeps_upload(job: ImportJob) -> bool:
    """A succeeded dry run still holding its upload (expired or not)."""
    return bool(job.dry_run and job.state == JobState.SUCCEEDED.value and job.staging_key
                and job.finished_at is not None)


def kept_until(job: ImportJob, now: dt.datetime | None = None) -> dt.datetime | None:
    """Until when the dry run can be applied; None when it keeps no upload, or when the
    one it kept has expired (the sweep may not have deleted it yet)."""
    if not keeps_upload(job):
        return None
    assert job.finished_at is not None
    until = job.finished_at + dt.timedelta(hours=get_settings().import_dry_run_keep_hours)
    return until if until > (now or utcnow()) else None


def drop_kept_upload(db: Session, storage: Storage, job: ImportJob) -> None:
    """Delete the kept upload and say so on the job (the caller commits)."""
    key = job.staging_key
    if key:
        try:
            storage.delete(key)
        except StorageError:
            log.warning("import %s: could not delete its kept upload", job.id, exc_info=True)
            return
    job.staging_key = None


def _refusal(db: Session, storage: Storage, dry: ImportJob, now: dt.datetime) -> str | None:
    """Why ``dry`` cannot be applied, or None."""
    applied = (dry.result or {}).get("applied_as")
    if applied:
        return f"import {dry.id} was already applied: see import {applied}"
    if not dry.dry_run:
        return f"import {dry.id} is not a dry run"
    if dry.state != JobState.SUCCEEDED.value:
        return f"dry run {dry.id} is {dry.state}; only a succeeded dry run can be applied"
    if kept_until(dry, now) is None:
        if keeps_upload(dry):  # expired, not swept yet: delete it now
            drop_kept_upload(db, storage, dry)
            db.commit()
        return (f"the upload of dry run {dry.id} is no longer kept (dry runs keep theirs "
                f"{get_settings().import_dry_run_keep_hours:g} h); upload the file again")
    return None


def _still_free(db: Session, user: User, dry: ImportJob) -> None:
    """``create``: the event may have been made since the dry run (by another import)."""
    uuid = (dry.options or {}).get("event_uuid")
    if dry.mode == "create" and uuid:
        found = db.scalar(select(Event).where(Event.uuid == uuid))
        if found is not None:
            raise importer.existing_event_conflict(db, user, found)


def _successor(dry: ImportJob, user: User) -> ImportJob:
    options: dict[str, Any] = {**(dry.options or {}), "applied_from": dry.id}
    job = ImportJob(id=new_job_id(), format=dry.format,
                    dry_run=False, requested_by_id=user.id, mode=dry.mode, options=options,
                    original_filename=dry.original_filename, upload_size=dry.upload_size,
                    state=JobState.QUEUED.value, progress_stage="queued", warnings=[],
                    result={})
    job.staging_key = dry.staging_key  # referenced, not moved (see above)
    return job


def apply_dry_run(db: Session, storage: Storage, user: User, dry: ImportJob, *,
                  clock: Clock = utcnow) -> ImportJob:
    """The queued import job that imports what ``dry`` checked (committed; the caller
    sends it). :class:`Conflict` when ``dry`` is not a succeeded dry run, was applied, or
    its upload is no longer kept. The caller has checked that ``user`` may see ``dry``
    and, for an update, still may update the target."""
    reason = _refusal(db, storage, dry, clock())
    if reason:
        raise Conflict(reason)
    _still_free(db, user, dry)
    old_key, job = dry.staging_key, _successor(dry, user)
    if not storage.exists(str(old_key)):
        drop_kept_upload(db, storage, dry)
        db.commit()
        raise Conflict(f"the upload of dry run {dry.id} is gone; upload the file again")
    taken = db.execute(
        update(ImportJob)
        .where(ImportJob.id == dry.id, ImportJob.staging_key == old_key,
               ImportJob.state == JobState.SUCCEEDED.value)
        .values(staging_key=None, result={**(dry.result or {}), "applied_as": job.id}))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise Conflict(f"dry run {dry.id} was applied (or expired) meanwhile")
    db.add(job)
    db.commit()
    return job
