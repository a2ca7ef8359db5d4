"""What the job layer calls when a job has finished: webhooks (``export.succeeded`` …)
and the audit entries of imports. Kept apart from the job services so they stay free
of webhook concerns; every call is best-effort and never changes a job's outcome."""

from __future__ import annotations

import logging

from eventport.audit.service import record
from eventport.db import session_scope
from eventport.webhooks.service import emit

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed")


def export_finished(job_id: str) -> None:
    """``export.succeeded`` / ``export.failed`` with the job, as the API shows it."""
    from eventport.exports.models import ExportJob
    from eventport.exports.service import job_summary

    try:
        with session_scope() as db:
            job = db.get(ExportJob, job_id)
            if job is None or job.state not in FINISHED:
                return
            emit(db, job.event_id, f"export.{job.state}", {"job": job_summary(job)})
    except Exception:
        log.warning("export %s: webhooks could not be queued", job_id, exc_info=True)


def import_finished(job_id: str) -> None:
    """``import.succeeded`` / ``import.failed`` on the event the import wrote (or was
    to update), plus its audit entry. Dry runs change nothing and announce nothing."""
    from eventport.accounts.models import User
    from eventport.imports.models import ImportJob
    from eventport.imports.service import job_summary

    try:
        with session_scope() as db:
            job = db.get(ImportJob, job_id)
            event_id = job.event_id if job else None
            if job is not None and event_id is None:  # a failed update: its target
                event_id = (job.options or {}).get("event_id")
            if job is None or job.state not in FINISHED or job.dry_run or not event_id:
                return
            actor = db.get(User, job.requested_by_id) if job.requested_by_id else None
            record(db, event_id, actor, f"import.{job.state}", f"import {job.id}",
                   {"format": job.format, "error": job.error})
            emit(db, event_id, f"import.{job.state}", {"job": job_summary(job)})
    except Exception:
        log.warning("import %s: webhooks could not be queued", job_id, exc_info=True)
