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
  job finished more than a day ago, are deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.db.base import utcnow
from eventport.imports.models import ImportJob
from eventport.job_lifecycle import ACTIVE_STATES
from eventport.storage import Storage, StorageError

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
    jobs = {job_id: (state, finished) for job_id, state, finished in db.execute(
        select(ImportJob.id, ImportJob.state, ImportJob.finished_at)
        .where(ImportJob.id.in_(ids)))} if ids else {}
    for info in staged:
        job_id = info.key.split("/")[1] if info.key.count("/") >= 2 else ""
        state, finished = jobs.get(job_id, (None, None))
        old = info.last_modified is None or info.last_modified < now - grace
        done = (state is not None and state not in ACTIVE_STATES
                and (finished is None or finished < now - dt.timedelta(days=1)))
        if (state is None and old) or done:
            try:
                storage.delete(info.key)
                report.objects_deleted.append(info.key)
            except StorageError as exc:
                report.failed.append(f"{info.key}: {exc}")
