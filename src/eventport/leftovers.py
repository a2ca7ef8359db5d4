"""What interrupted writes leave behind in storage, and the sweep that removes it.

Every failure and cancel path aborts its own upload (the storage writers do). What no
path can clean up is what a *killed* process leaves: an open multipart upload of a web
process SIGKILLed mid media upload, or an import upload whose job row was never
committed. Beat runs :func:`sweep_leftovers` hourly (and ``eventport cleanup`` on demand):

* multipart uploads under Eventport's prefixes older than :data:`UPLOAD_MAX_AGE` are
  aborted (no upload Eventport starts takes a day; S3 only — Azure drops uncommitted
  blocks and GCS resumable sessions expire by themselves);
* objects under ``imports/<job>/`` whose job row does not exist, older than
  :data:`ORPHAN_GRACE` (the web process commits the row right after the upload), or whose
  job finished more than a day ago, are deleted — except a succeeded dry run's kept
  upload, deleted once ``EVENTPORT_IMPORT_DRY_RUN_KEEP_HOURS`` have passed (and the job
  told: its ``staging_key`` is cleared, so applying it says the upload expired). The
  upload of an active job is never deleted: the job that applies a dry run reads it
  where the dry run stored it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from eventport.db.base import utcnow
from eventport.imports import kept
from eventport.imports.models import ImportJob
from eventport.job_lifecycle import ACTIVE_STATES
from eventport.storage import ObjectInfo, Storage, StorageError

log = logging.getLogger(__name__)

#: Prefixes Eventport writes under (media and exports; import staging).
PREFIXES = ("events/", "imports/")
UPLOAD_MAX_AGE = dt.timedelta(days=1)
ORPHAN_GRACE = dt.timedelta(hours=1)


@dataclass
class LeftoversReport:
    uploads_aborted: int = 0
    objects_deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    kept_expired: list[str] = field(default_factory=list)  # dry runs whose upload expired


def sweep_leftovers(db: Session, storage: Storage, *, now: dt.datetime | None = None,
                    upload_max_age: dt.timedelta = UPLOAD_MAX_AGE,
                    orphan_grace: dt.timedelta = ORPHAN_GRACE) -> LeftoversReport:
    now = now or utcnow()
    report = LeftoversReport()
    abort = getattr(storage, "abort_incomplete_uploads", None)
    for prefix in PREFIXES:
        if abort is None:
            break
        try:
            report.uploads_aborted += abort(prefix, older_than=now - upload_max_age)
        except StorageError as exc:
            report.failed.append(f"uploads under {prefix}: {exc}")
    _sweep_staging(db, storage, now, orphan_grace, report)
    return report


def _sweep_staging(db: Session, storage: Storage, now: dt.datetime,
                   grace: dt.timedelta, report: LeftoversReport) -> None:
    try:
        staged = list(storage.list("imports/"))
    except StorageError as exc:
        report.failed.append(f"listing imports/: {exc}")
        return
    ids = {info.key.split("/")[1] for info in staged if info.key.count("/") >= 2}
    jobs = {job.id: job for job in db.scalars(
        select(ImportJob).where(ImportJob.id.in_(ids)))} if ids else {}
    in_use = set(db.scalars(select(ImportJob.staging_key).where(  # an applied dry run's
        ImportJob.state.in_(ACTIVE_STATES), ImportJob.staging_key.is_not(None))))
    for info in staged:
        job_id = info.key.split("/")[1] if info.key.count("/") >= 2 else ""
        job = jobs.get(job_id)
        if info.key in in_use or not _expired(info, job, now, grace):
            continue
        try:
            storage.delete(info.key)
            report.objects_deleted.append(info.key)
        except StorageError as exc:
            report.failed.append(f"{info.key}: {exc}")
            continue
        if job is not None and job.staging_key == info.key:  # a dry run's kept upload
            db.execute(update(ImportJob).where(ImportJob.id == job_id,
                                               ImportJob.staging_key == info.key)
                       .values(staging_key=None))
            report.kept_expired.append(job_id)
    db.commit()


def _expired(info: ObjectInfo, job: ImportJob | None, now: dt.datetime,
             grace: dt.timedelta) -> bool:
    """Whether a staged object is left over: its job row never came (after ``grace``), its
    job finished over a day ago — or it is a succeeded dry run's kept upload (which
    ``POST /imports/{id}/apply`` would import) past its keep time (:mod:`.imports.kept`)."""
    if job is None:
        return info.last_modified is None or info.last_modified < now - grace
    if job.state in ACTIVE_STATES:
        return False
    if kept.keeps_upload(job) and job.staging_key == info.key:
        return kept.kept_until(job, now) is None
    return job.finished_at is None or job.finished_at < now - dt.timedelta(days=1)
