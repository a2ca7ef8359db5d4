"""Starting a worker and beat (``eventport worker`` / ``eventport beat`` / embedded).

The default pool is **threads**, not Celery's prefork:

* an export spends its time in storage I/O, zlib and SHA-256, which release the GIL,
  so threads use both cores without a process per slot (less memory);
* no ``fork`` after the object-store client exists (LIBRARIES.md: obstore clients can
  hang in forked children) and no SQLAlchemy pool shared across a fork;
* cancellation is cooperative (the job row's flag), so prefork's ``terminate`` is not
  needed.

``--pool prefork`` still works: each child then drops the engine and storage clients it
inherited (:func:`_fresh_clients_after_fork`) before its first task.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init

from eventport.config import get_settings
from eventport.jobs.celery_app import beat_schedule_path, get_celery


@worker_process_init.connect
def _fresh_clients_after_fork(**_: Any) -> None:
    from eventport import db
    from eventport.storage import reset_storage_cache

    db.get_engine().dispose(close=False)
    db.reset_caches()
    reset_storage_cache()


def worker_argv(*, concurrency: int, pool: str, beat: bool, loglevel: str,
                hostname: str | None = None) -> list[str]:
    settings = get_settings()
    argv = [
        "worker",
        "--queues", settings.broker_queue,
        "--pool", pool,
        "--concurrency", str(concurrency),
        "--loglevel", loglevel,
        "--without-mingle",
        "--without-gossip",
    ]
    if hostname:
        argv += ["--hostname", hostname]
    if beat:
        argv += ["--beat", "--schedule", str(beat_schedule_path(settings))]
    return argv


def run_worker(*, concurrency: int = 2, pool: str = "threads", beat: bool = False,
               loglevel: str = "INFO", hostname: str | None = None) -> None:
    """Block running a worker on the configured broker and queue."""
    app = get_celery()
    app.loader.import_default_modules()
    app.worker_main(worker_argv(concurrency=concurrency, pool=pool, beat=beat,
                                loglevel=loglevel, hostname=hostname))


def run_beat(loglevel: str = "INFO") -> None:
    """Block running the scheduler (exactly one per deployment)."""
    settings = get_settings()
    get_celery().start(["beat", "--schedule", str(beat_schedule_path(settings)),
                        "--loglevel", loglevel])
