"""Thin Celery tasks over the export services: ids in, the service does the work.

``acks_late`` + ``reject_on_worker_lost``: a message leaves the queue only when its task
finished, so a worker killed mid-export leaves the message to be delivered again. The
service claims jobs atomically, which makes every task safe to run twice.
"""

from __future__ import annotations

import logging

from celery import shared_task

from eventport.exports import service
from eventport.exports.registry import exporters
from eventport.jobs.celery_app import EXPORT_TASK, REQUEUE_TASK, RETENTION_TASK
from eventport.webhooks.announce import export_finished

log = logging.getLogger(__name__)

# Load every format when the worker starts, not during the first export.
exporters()


@shared_task(name=EXPORT_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_export_task(job_id: str) -> str | None:
    state = service.run_export(job_id)
    if state is not None:
        export_finished(job_id)
    return state


@shared_task(name=RETENTION_TASK, ignore_result=True)
def retention_sweep_task() -> int:
    from eventport.db import session_scope
    from eventport.exports.retention import sweep
    from eventport.storage import get_storage

    with session_scope() as db:
        report = sweep(db, get_storage())
    if report.expired or report.failed:
        log.info("retention: expired %d export(s), %d failed", len(report.expired),
                 len(report.failed))
    return len(report.expired)


@shared_task(name=REQUEUE_TASK, ignore_result=True)
def requeue_stale_task() -> list[str]:
    """Re-send jobs whose worker died (stale heartbeat) or whose message was lost."""
    from eventport.db import session_scope
    from eventport.jobs.celery_app import enqueue_export

    with session_scope() as db:
        job_ids = service.stale_jobs(db)
    for job_id in job_ids:
        log.warning("export %s: worker lost or message missing; queuing it again", job_id)
        enqueue_export(job_id)
    return job_ids
