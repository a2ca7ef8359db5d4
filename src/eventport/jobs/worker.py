"""Starting a worker and beat (``eventport worker`` / ``eventport beat`` / embedded).

The default pool is **threads**, not Celery's prefork:

* an export spends its time in storage I/O, zlib and SHA-256, which release the GIL,
  so threads use both cores without a process per slot (less memory);
* no ``fork`` after the object-store client exists (measured: obstore clients can
  hang in forked children) and no SQLAlchemy pool shared across a fork;
* cancellation is cooperative (the job row's flag), so prefork's ``terminate`` is not
  needed.

``--pool prefork`` still works: each child then drops the engine and storage clients it
inherited (:func:`_fresh_clients_after_fork`) before its first task.
"""

from __future__ import annotations

import ctypes
import logging
import os
from typing import Any

from celery.signals import worker_process_init

from eventport.config import get_settings
from eventport.jobs.celery_app import beat_schedule_path, get_celery

log = logging.getLogger(__name__)


def _survive_redis_restart() -> None:
    """Issue 12 D3 (celery 5.7.0 / kombu 5.7.0 / redis 8): after a Redis restart the worker
    acks or restores the running task's message on the *old* channel, whose connection is
    gone, and dies with "Unrecoverable error: AttributeError('NoneType' object has no
    attribute 'hostname')". Skipping that bookkeeping is safe here: the message stays in
    Redis's unacked set and comes back after the visibility timeout, and the job row —
    not the message — says whether the job is done (a claim of a finished job is a no-op).
    """
    from kombu.transport import redis as kombu_redis

    def guarded(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            connection = getattr(self.channel, "connection", None)
            if connection is None or getattr(connection, "client", None) is None:
                log.warning("broker connection was reset; leaving message bookkeeping "
                            "(%s) to the redelivery", method.__name__)
                return None
            return method(self, *args, **kwargs)
        call.__name__ = method.__name__
        return call

    qos = kombu_redis.QoS
    if not getattr(qos, "_eventport_guarded", False):
        for name in ("ack", "reject", "restore_unacked", "restore_by_tag"):
            setattr(qos, name, guarded(getattr(qos, name)))
        qos._eventport_guarded = True  # type: ignore[attr-defined]


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


#: glibc's M_ARENA_MAX (mallopt); its default lets each thread get a malloc arena.
_M_ARENA_MAX = -8
#: Malloc arenas a worker keeps; set before its threads start.
WORKER_MALLOC_ARENAS = 2


def _fewer_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (the programmatic MALLOC_ARENA_MAX): with one arena per
    thread, the chunks an export's threads free stay mapped in arenas that never shrink.
    Measured with ``bench/concurrency.py`` (4 exports on 2 workers × 2 threads): peak
    RSS 191/195 MB → 180/179 MB, the same MB/s. A no-op off glibc; an operator's own
    MALLOC_ARENA_MAX wins."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, WORKER_MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


def run_worker(*, concurrency: int = 2, pool: str = "threads", beat: bool = False,
               loglevel: str = "INFO", hostname: str | None = None) -> None:
    """Block running a worker on the configured broker and queue."""
    _fewer_malloc_arenas()
    app = get_celery()
    _survive_redis_restart()
    app.loader.import_default_modules()
    app.worker_main(worker_argv(concurrency=concurrency, pool=pool, beat=beat,
                                loglevel=loglevel, hostname=hostname))


def run_beat(loglevel: str = "INFO") -> None:
    """Block running the scheduler (exactly one per deployment)."""
    settings = get_settings()
    get_celery().start(["beat", "--schedule", str(beat_schedule_path(settings)),
                        "--loglevel", loglevel])
