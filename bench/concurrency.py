"""Concurrent exports benchmark: aggregate MB/s for 1, 2 and 4 exports at once.

    .venv/bin/python bench/concurrency.py [--media-mb 200] [--repeat 3] [--concurrency 2]

1. Generates four events (2,000 sessions, 1,500 speakers, ``--media-mb`` of
   incompressible media each) in a temp dir (SQLite + local storage).
2. Starts **two** ``eventport worker`` processes (threads pool, ``--concurrency`` each)
   on the embedded filesystem broker — the operator setup README.md describes.
3. For n = 1, 2, 4: requests exports of n different events at once and times from
   enqueue until every job has succeeded; aggregate MB/s = archive bytes / wall.
   Rounds are interleaved (1, 2, 4, 1, 2, 4, …) so a change in machine load hits every
   n alike; prints median and spread (min–max) per n, and each worker's peak RSS.

Target (issue 15): aggregate MB/s with 4 concurrent exports ≥ that of one alone;
each worker's RSS ≤ 200 MB. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import generate, rss_peak_mb, setup_env


def export_round(event_ids: list[int]) -> tuple[float, int]:
    """Export these events at once; (wall seconds, archive bytes)."""
    from eventport.db import session_scope
    from eventport.events.models import Event
    from eventport.exports import service
    from eventport.jobs import enqueue_export

    job_ids = []
    with session_scope() as db:
        for event_id in event_ids:
            job, _ = service.request_export(db, db.get(Event, event_id), None, "archive")
            job_ids.append(job.id)
    start = time.perf_counter()
    for job_id in job_ids:
        enqueue_export(job_id)
    pending = set(job_ids)
    size = 0
    while pending:
        time.sleep(0.05)
        with session_scope() as db:
            for job_id in list(pending):
                job = service.get_job(db, job_id)
                if job.state in ("queued", "running"):
                    continue
                assert job.state == "succeeded", (job.state, job.error)
                size += job.size or 0
                pending.discard(job_id)
    return time.perf_counter() - start, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--media-mb", type=int, default=200, help="media per event")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="threads per worker")
    parser.add_argument("--dir", default=None, help="where to put the temp dir")
    args = parser.parse_args()

    from tests.support.celery import start_worker

    root = Path(tempfile.mkdtemp(prefix="eventport-bench-conc-", dir=args.dir))
    env = setup_env(root)
    workers = []
    try:
        t = time.perf_counter()
        events = [generate(args.media_mb, f"Concurrent Conf {n}")[0] for n in range(4)]
        print(f"generated 4 events x {args.media_mb} MB media in "
              f"{time.perf_counter() - t:.0f}s")
        for n in (1, 2):
            workers.append(start_worker(
                env, root / f"worker-{n}.log", concurrency=args.concurrency,
                extra_args=("--hostname", f"bench{n}@%h")))
        results: dict[int, list[float]] = {1: [], 2: [], 4: []}
        for _ in range(args.repeat):
            for n in results:
                wall, size = export_round(events[:n])
                results[n].append(size / 1e6 / wall)
        print(f"\n2 workers x {args.concurrency} threads; {args.repeat} rounds each")
        print(f"{'exports at once':<17}{'median MB/s':>13}{'min':>8}{'max':>8}")
        for n, rates in results.items():
            print(f"{n:<17}{statistics.median(rates):>13.0f}{min(rates):>8.0f}"
                  f"{max(rates):>8.0f}")
        ratio = statistics.median(results[4]) / statistics.median(results[1])
        print(f"aggregate 4 / 1: {ratio:.2f} (target >= 1.0)")
        for n, worker in enumerate(workers, 1):
            print(f"worker {n} peak RSS: {rss_peak_mb(worker.process.pid):.0f} MB "
                  "(target <= 200 MB)")
    finally:
        for worker in workers:
            worker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
