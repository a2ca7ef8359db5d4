"""Thin Celery tasks for webhook deliveries and the backup scheduler.

* :data:`WEBHOOK_TASK` makes one attempt at one delivery (claimed atomically by the
  service, so a duplicate message is harmless); retries come back as countdown messages
  or through the sweep.
* :data:`SCHEDULER_TASK` runs every ``EVENTPORT_SCHEDULER_TICK_SECONDS`` from beat: due
  backups (exactly once per due run, however many beats run it), their retention and
  failure reports, then webhook deliveries that are due (or whose worker died).
"""

from __future__ import annotations

import logging

from celery import shared_task

from eventport.jobs.celery_app import (
    SCHEDULER_TASK,
    WEBHOOK_TASK,
    enqueue_export,
    enqueue_webhook,
)

log = logging.getLogger(__name__)


@shared_task(name=WEBHOOK_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook_task(delivery_id: str) -> str | None:
    from eventport.webhooks.delivery import deliver

    return deliver(delivery_id)


@shared_task(name=SCHEDULER_TASK, ignore_result=True)
def scheduler_tick_task() -> dict[str, int]:
    from eventport.backups.service import run_due
    from eventport.db import session_scope
    from eventport.storage import get_storage
    from eventport.webhooks.delivery import due

    report = run_due(storage=get_storage(), enqueue=enqueue_export)
    if report.created:
        log.info("backups: started %s", ", ".join(report.created))
    with session_scope() as db:
        deliveries = due(db)
    for delivery_id in deliveries:
        enqueue_webhook(delivery_id, 0.0)
    return {"created": len(report.created), "expired": len(report.expired),
            "deliveries": len(deliveries)}
