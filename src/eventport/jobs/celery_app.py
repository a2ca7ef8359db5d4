"""The Celery application, built from the settings; the same code in both modes.

* Embedded (default ``EVENTPORT_BROKER_URL=filesystem://``): kombu's filesystem
  transport under ``<data_dir>/broker`` — no server to install, messages are files, so
  queued jobs survive a restart of ``eventport serve``. It supports revoke, unlike the
  SQLAlchemy transport.
* Scaled: ``redis://…`` or ``amqp://…``; N × ``eventport worker``, one ``eventport beat``.

Celery's result backend is not used (``task_ignore_result``): the job row is the source
of truth. Tasks are sent by name, so a producer (the web process) needs only this module,
not the task code. Every message goes to one queue, ``EVENTPORT_BROKER_QUEUE`` — unique
queue names let deployments or parallel test runs share one Redis or RabbitMQ.

Reliability settings follow Celery's advice: ``acks_late`` + ``reject_on_worker_lost``
and a prefetch of one, so a message is removed only after its task finished; and because
a broker gives an unacked message back only after its visibility timeout (Redis: an
hour), beat also runs :data:`REQUEUE_TASK`, which re-sends jobs whose heartbeat stopped.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from celery import Celery

from eventport.config import Settings, get_settings

EXPORT_TASK = "eventport.exports.run"
RETENTION_TASK = "eventport.exports.retention_sweep"
REQUEUE_TASK = "eventport.jobs.requeue_stale"
IMPORT_REQUEUE_TASK = "eventport.imports.requeue_stale"
WEBHOOK_TASK = "eventport.webhooks.deliver"
SCHEDULER_TASK = "eventport.backups.tick"

#: Task modules every worker loads.
TASK_MODULES = ("eventport.jobs.export_tasks", "eventport.jobs.import_tasks",
                "eventport.jobs.schedule_tasks")

#: How often beat runs the retention sweep (seconds).
RETENTION_EVERY = 3600.0


def broker_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).resolve() / "broker"


def beat_schedule_path(settings: Settings) -> Path:
    """Beat's state file (last run times), in the data dir, which is created if needed."""
    folder = Path(settings.data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"celerybeat-{settings.broker_queue}"


def _transport_options(settings: Settings) -> dict[str, Any]:
    if not settings.broker_url.startswith("filesystem://"):
        return {}
    root = broker_dir(settings)
    messages, control = root / "queue", root / "control"
    for folder in (messages, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(messages),
        "data_folder_out": str(messages),
        "control_folder": str(control),
        "store_processed": False,
        # A listdir ten times a second: jobs start within 0.1 s (default: 1 s).
        "polling_interval": 0.1,
        "processed_folder": str(root / "processed"),
    }


def _beat_schedule(settings: Settings) -> dict[str, Any]:
    queue = settings.broker_queue
    every = max(2.0, settings.job_stale_after / 3)
    requeue = {"schedule": every, "options": {"queue": queue, "expires": every}}
    schedule: dict[str, Any] = {
        "requeue-stale-jobs": {"task": REQUEUE_TASK, **requeue},
        "requeue-stale-imports": {"task": IMPORT_REQUEUE_TASK, **requeue},
        "export-retention": {
            "task": RETENTION_TASK,
            "schedule": RETENTION_EVERY,
            "options": {"queue": queue},
        },
        # Backups due and webhook retries; a tick that could not run in time is dropped
        # (the next one catches up: the scheduler computes from "now", not per tick).
        "scheduler-tick": {
            "task": SCHEDULER_TASK,
            "schedule": settings.scheduler_tick_seconds,
            "options": {"queue": queue, "expires": settings.scheduler_tick_seconds},
        },
    }
    return schedule


def build_app(settings: Settings) -> Celery:
    queue = settings.broker_queue
    app = Celery("eventport", broker=settings.broker_url, include=list(TASK_MODULES))
    app.conf.update(
        broker_transport_options=_transport_options(settings),
        broker_connection_retry_on_startup=True,
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=queue,
        task_default_exchange=queue,
        task_default_routing_key=queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        # Separate control exchanges per queue: pings and revokes stay in one deployment.
        control_exchange=f"{queue}.control",
        timezone="UTC",
        beat_schedule=_beat_schedule(settings),
        beat_schedule_filename=str(beat_schedule_path(settings)),
    )
    return app


@functools.cache
def _cached(settings_key: tuple[str, str, str, int, float]) -> Celery:
    return build_app(get_settings())


def get_celery() -> Celery:
    """This process's Celery app for the current settings (rebuilt when they change)."""
    s = get_settings()
    return _cached((s.broker_url, s.broker_queue, str(s.data_dir), s.job_stale_after,
                    s.scheduler_tick_seconds))


def enqueue_export(job_id: str) -> None:
    """Send the export job to the workers (by task name; job ids only, never objects)."""
    get_celery().send_task(EXPORT_TASK, args=[job_id], queue=get_settings().broker_queue)


def enqueue_webhook(delivery_id: str, countdown: float = 0.0) -> None:
    """Send a webhook delivery attempt to the workers, after ``countdown`` seconds."""
    get_celery().send_task(WEBHOOK_TASK, args=[delivery_id], queue=get_settings().broker_queue,
                           countdown=countdown or None)


def check_broker() -> str:
    """Health check: can this process reach the broker?"""
    settings = get_settings()
    if settings.broker_url.startswith("filesystem://"):
        folder = Path(_transport_options(settings)["data_folder_in"])
        probe = folder / ".health"
        probe.write_bytes(b"ok")
        probe.unlink()
        return "ok"
    with get_celery().connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
    return "ok"


def __getattr__(name: str) -> Any:
    """``celery -A eventport.jobs.celery_app`` finds ``app`` (built on first access)."""
    if name in ("app", "celery"):
        return get_celery()
    raise AttributeError(name)
