"""The embedded worker: ``eventport serve`` runs a worker + beat beside the web server.

It is a **child process** (``eventport worker --beat``), not threads in the web process:

* Celery's worker and beat install signal handlers and expect the main thread, as does
  uvicorn; two such runtimes in one process fight over SIGINT/SIGTERM;
* an export that exhausts memory or crashes the interpreter takes down a worker that
  restarts with the next ``serve``, not the web server organizers are using;
* it is the exact command the scaled mode runs, so both modes share one code path.

The broker is the filesystem transport under ``<data_dir>/broker``: queued jobs are files
that survive a restart; a job that was running when ``serve`` stopped is picked up
again by the stale-heartbeat sweep. On Linux the child is told to die with its parent
(``PR_SET_PDEATHSIG``) so a killed ``serve`` leaves no orphan worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator

log = logging.getLogger(__name__)
STOP_TIMEOUT = 15.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def worker_command(concurrency: int = 2) -> list[str]:
    return [sys.executable, "-m", "eventport.cli", "worker", "--beat",
            "--concurrency", str(concurrency)]


@contextlib.contextmanager
def embedded_worker(concurrency: int = 2) -> Iterator[subprocess.Popen[bytes]]:
    """Run a worker with beat for the duration of the block; stop it cleanly after."""
    process = subprocess.Popen(
        worker_command(concurrency),
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    log.info("embedded worker started (pid %s)", process.pid)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown: finish or hand back tasks
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # The unfinished job keeps its message (acks_late) and is resumed later.
                process.kill()
                process.wait()
