"""Export benchmark: Eventport's streamed archive vs the seed system's naive pipeline.

    .venv/bin/python bench/export.py [--media-mb 800] [--scale4] [--keep]

1. Generates, in a temp dir (SQLite + local storage), an event with 2,000 sessions,
   1,500 speakers and ~800 MB of incompressible media (speaker photos, session slides
   and videos) — nothing is downloaded.
2. **Eventport**: a real ``eventport worker`` process on the embedded (filesystem)
   broker runs the export job: snapshot → streamed zip → storage. Wall time is from
   enqueue to the job row saying ``succeeded``; peak RSS is the worker's ``VmHWM``.
3. **Naive** (what Open Event did), in its own process for a fair RSS: JSON files and
   every media object (read whole into memory) copied into a temp dir,
   ``shutil.make_archive`` (DEFLATE on everything), upload to storage, delete the temp dir.
4. **tar**: ``tar cf`` of the same media bytes and JSON on the same disk — the floor for
   "moving these bytes once".
5. With ``--scale4``, a second event with 4x the media bytes is exported by a fresh
   worker to show the worker's RSS does not grow with the data.

Targets (issue 4): ≥ 15x faster than naive, within 2x of tar, worker peak RSS ≤ 200 MB
and about the same at 4x media. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SESSIONS, SPEAKERS = 2000, 1500


def rss_peak_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def setup_env(root: Path) -> dict[str, str]:
    env = {
        "EVENTPORT_DATABASE_URL": f"sqlite:///{root}/bench.db",
        "EVENTPORT_STORAGE_URL": f"file://{root}/storage",
        "EVENTPORT_DATA_DIR": str(root / "data"),
        "EVENTPORT_BROKER_URL": "filesystem://",
        "EVENTPORT_BROKER_QUEUE": f"bench-{os.getpid()}",
    }
    os.environ.update(env)
    return env


def generate(media_mb: int, name: str) -> tuple[int, int]:
    """Build the big event; returns (event id, media bytes). Media split: ~19% photos,
    ~21% slides, ~60% videos — the mix of a real conference with recordings."""
    from tests.support.eventgen import generate_event

    from eventport.accounts.service import create_user
    from eventport.db import session_scope
    from eventport.db.migrate import upgrade
    from eventport.storage import get_storage

    upgrade()
    total = media_mb * 1_000_000
    photo = int(total * 0.19 / SPEAKERS)
    slides_n = 200
    slides = int(total * 0.21 / slides_n)
    video_n = 40
    video = int(total * 0.60 / video_n)
    with session_scope() as db:
        from sqlalchemy import select

        from eventport.accounts.models import User

        owner = db.scalar(select(User).where(User.email == "bench@example.org")) or \
            create_user(db, "bench@example.org", "bench-password")
        generated = generate_event(db, get_storage(), owner, name=name, sessions=SESSIONS,
                                   speakers=SPEAKERS, photo_bytes=photo,
                                   video_files=video_n, video_bytes=video,
                                   slides_files=slides_n, slides_bytes=slides)
    return generated.event_id, generated.media_bytes


def run_eventport(root: Path, env: dict[str, str], event_id: int,
                  options: dict | None = None) -> dict[str, float]:
    from tests.support.celery import start_worker

    from eventport.db import session_scope
    from eventport.events.models import Event
    from eventport.exports import service
    from eventport.jobs import enqueue_export

    worker = start_worker(env, root / f"worker-{event_id}.log", concurrency=2)
    try:
        idle = rss_peak_mb(worker.process.pid)
        with session_scope() as db:
            job, _ = service.request_export(db, db.get(Event, event_id), None, "archive",
                                            options)
            job_id = job.id
        start = time.perf_counter()
        enqueue_export(job_id)
        while True:
            with session_scope() as db:
                job = service.get_job(db, job_id)
                if job.state not in ("queued", "running"):
                    break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        peak = rss_peak_mb(worker.process.pid)
        assert job.state == "succeeded", (job.state, job.error, worker.log())
        inner = (job.finished_at - job.started_at).total_seconds()  # type: ignore[operator]
        return {"wall": wall, "job": inner, "size": job.size or 0, "rss": peak,
                "rss_idle": idle}
    finally:
        worker.stop()


NAIVE_CHILD = r"""
import json, os, shutil, sys, tempfile, time
from pathlib import Path
from eventport.db import get_engine
from eventport.exports.snapshot import read_snapshot
from eventport.storage import get_storage

event_id = int(sys.argv[1])
start = time.perf_counter()
storage = get_storage()
snapshot = read_snapshot(get_engine(), event_id)
work = Path(tempfile.mkdtemp(prefix="naive-", dir=os.environ["BENCH_TMP"]))
folder = work / "export"
folder.mkdir()
(folder / "event.json").write_text(json.dumps(snapshot.event, indent=1))
for name, docs in snapshot.documents.items():
    (folder / f"{name}.json").write_text(json.dumps(docs, indent=1))
for media in snapshot.media:
    target = folder / media.path
    target.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(storage.open(media.storage_key))   # read whole, as the seed did
    target.write_bytes(data)
    del data
archive = shutil.make_archive(str(work / "event"), "zip", folder)
with open(archive, "rb") as fh:
    result = storage.put_stream(f"events/{event_id}/exports/naive/event.zip", fh)
shutil.rmtree(work)
wall = time.perf_counter() - start
status = Path("/proc/self/status").read_text()
hwm = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")) / 1024
print(json.dumps({"wall": wall, "size": result.size, "rss": hwm}))
"""


def run_naive(root: Path, env: dict[str, str], event_id: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", NAIVE_CHILD, str(event_id)],
                         env={**os.environ, **env, "BENCH_TMP": str(root)},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_tar(root: Path) -> dict[str, float]:
    """tar of the stored media + DB-sized JSON stand-in, onto the same disk."""
    target = root / "plain.tar"
    start = time.perf_counter()
    subprocess.run(["tar", "cf", str(target), "-C", str(root / "storage"), "events"],
                   check=True)
    os.sync()
    wall = time.perf_counter() - start
    size = target.stat().st_size
    target.unlink()
    return {"wall": wall, "size": size}


def mbps(size: float, seconds: float) -> float:
    return size / 1e6 / seconds if seconds else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--media-mb", type=int, default=800)
    parser.add_argument("--scale4", action="store_true", help="also export 4x the media")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--dir", default=None, help="where to put the temp dir")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="eventport-bench-", dir=args.dir))
    env = setup_env(root)
    try:
        t = time.perf_counter()
        event_id, media_bytes = generate(args.media_mb, "Bench Conf")
        print(f"generated event {event_id}: {SESSIONS} sessions, {SPEAKERS} speakers, "
              f"{media_bytes / 1e6:.0f} MB media in {time.perf_counter() - t:.1f}s")
        os.sync()
        tar = run_tar(root)
        ours = run_eventport(root, env, event_id)
        naive = run_naive(root, env, event_id)
        print()
        print(f"{'pipeline':<22}{'wall s':>9}{'MB/s':>9}{'archive MB':>12}{'peak RSS MB':>13}")
        print(f"{'eventport (worker)':<22}{ours['wall']:>9.2f}"
              f"{mbps(ours['size'], ours['wall']):>9.0f}"
              f"{ours['size'] / 1e6:>12.0f}{ours['rss']:>13.0f}")
        print(f"{'naive (seed system)':<22}{naive['wall']:>9.2f}"
              f"{mbps(naive['size'], naive['wall']):>9.0f}{naive['size'] / 1e6:>12.0f}"
              f"{naive['rss']:>13.0f}")
        print(f"{'tar cf (same bytes)':<22}{tar['wall']:>9.2f}"
              f"{mbps(tar['size'], tar['wall']):>9.0f}"
              f"{tar['size'] / 1e6:>12.0f}{'-':>13}")
        print()
        print(f"eventport job time (claim to done): {ours['job']:.2f}s; "
              f"worker RSS idle {ours['rss_idle']:.0f} MB")
        print(f"speed-up vs naive: {naive['wall'] / ours['wall']:.1f}x (target >= 15x); "
              f"vs tar: {ours['wall'] / tar['wall']:.2f}x tar time (target <= 2x); "
              f"peak worker RSS {ours['rss']:.0f} MB (target <= 200 MB)")
        if args.scale4:
            t = time.perf_counter()
            big_id, big_bytes = generate(args.media_mb * 4, "Bench Conf 4x")
            print(f"\ngenerated 4x event {big_id}: {big_bytes / 1e6:.0f} MB media in "
                  f"{time.perf_counter() - t:.1f}s")
            big = run_eventport(root, env, big_id)
            print(f"4x media: eventport wall {big['wall']:.2f}s, "
                  f"{mbps(big['size'], big['wall']):.0f} MB/s, archive "
                  f"{big['size'] / 1e6:.0f} MB, peak worker RSS {big['rss']:.0f} MB "
                  f"(1x: {ours['rss']:.0f} MB)")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
