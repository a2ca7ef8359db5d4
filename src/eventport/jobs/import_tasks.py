"""Thin Celery tasks over the import service: a job id in, the service does the work.

Same reliability settings as the export tasks (``acks_late`` + ``reject_on_worker_lost``,
claimed atomically by the service, so a redelivery is harmless). ``IMPORT_REQUEUE_TASK``
re-sends import jobs whose worker died; beat runs it beside the export one.
"""

from __future__ import annotations

import logging

from celery import shared_task

from eventport.config import get_settings
from eventport.jobs.celery_app import IMPORT_REQUEUE_TASK

log = logging.getLogger(__name__)

IMPORT_TASK = "eventport.imports.run"


@shared_task(name=IMPORT_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_event(job_id: str) -> str | None:
    from eventport.imports.service import run_import
    from eventport.webhooks.announce import import_finished

    state = run_import(job_id)
    if state is not None:
        import_finished(job_id)
    return state


def enqueue_import(job_id: str) -> None:
    """Send the job to the workers by task name (call after the job row is committed)."""
    from eventport.jobs.celery_app import get_celery

    get_celery().send_task(IMPORT_TASK, args=[job_id], queue=get_settings().broker_queue)


@shared_task(name=IMPORT_REQUEUE_TASK, ignore_result=True)
def requeue_stale_imports() -> list[str]:
    from eventport.db import session_scope
    from eventport.imports.service import stale_jobs

    with session_scope() as db:
        job_ids = stale_jobs(db)
    for job_id in job_ids:
        log.warning("import %s: worker lost or message missing; queuing it again", job_id)
        enqueue_import(job_id)
    return job_ids
