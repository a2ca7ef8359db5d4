"""Benchmark: import a large Eventport archive; prints wall time and peak RSS.

    .venv/bin/python bench/import.py                      # bench/export.py's event (2,000
                                                           # sessions, 1,500 speakers, 800 MB)
    .venv/bin/python bench/import.py --small              # the older 400-session event
    .venv/bin/python bench/import.py --archive FILE.zip    # import an existing archive
    .venv/bin/python bench/import.py --repeat 3           # medians of 3 export/import pairs

Without ``--archive`` it creates the event in a scratch SQLite + local storage — by
default **the same event bench/export.py exports** (its generator) — exports it with the
real export job (request to ``succeeded``, read-back included: what an organizer waits
for) and imports the result in a fresh child process (upload into storage + the import
job), so the peak RSS printed is the import's own. Target (issue 15): import (upload +
job, as the issue measured it) ≤ 2× the export job. The child's wall time (Python start
and imports included) and the archive writer alone are printed beside it.

The import runs twice: ``mode=copy`` (a new event beside the original, every byte
staged and published), then ``mode=update`` of the original event with its own,
unchanged archive — which must plan zero changes and move no media (``media_bytes=0``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1024 * 1024


def configure(workdir: Path) -> None:
    os.environ["EVENTPORT_DATABASE_URL"] = f"sqlite:///{workdir / 'bench.db'}"
    os.environ["EVENTPORT_STORAGE_URL"] = f"file://{workdir / 'storage'}"
    os.environ["EVENTPORT_DATA_DIR"] = str(workdir / "data")
    os.environ["EVENTPORT_SECRET_KEY"] = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    (workdir / "storage").mkdir(parents=True, exist_ok=True)


def _blob(head: bytes, size: int, seed: int):
    """Incompressible bytes after a real magic header, streamed in 1 MB chunks."""
    yield head
    left = size - len(head)
    block = os.urandom(MB)
    while left > 0:
        n = min(MB, left)
        yield bytes((seed + i) % 256 for i in range(16)) + block[16:n]
        left -= n


def build_bench_event(size_mb: int) -> int:
    """bench/export.py's event: 2,000 sessions, 1,500 speakers, ``size_mb`` of media."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from export import generate

    return generate(size_mb, "Bench Conf")[0]


def settle() -> None:
    """Let the previous step's dirty pages reach the disk, so no step pays for another."""
    os.sync()
    time.sleep(2)


def export_event(workdir: Path, event_id: int) -> tuple[Path, float, int]:
    """Export with the real export job, in process: snapshot, streamed zip into storage,
    read-back verification, ``succeeded`` — what an organizer waits for, and the figure
    the import (upload + job) is compared with. (path of the stored archive, seconds,
    size); the archive writer alone, into a file, is timed too and printed."""
    from eventport.db import get_engine, session_scope
    from eventport.events.models import Event
    from eventport.exports import service
    from eventport.exports.registry import ExportContext, get_exporter
    from eventport.exports.snapshot import read_snapshot
    from eventport.storage import get_storage

    storage = get_storage()
    with session_scope() as db:
        job, _ = service.request_export(db, db.get(Event, event_id), None, "archive", None)
        job_id = job.id
    started = time.perf_counter()
    state = service.run_export(job_id, notify=False)
    export_seconds = time.perf_counter() - started
    with session_scope() as db:
        job = service.get_job(db, job_id)
        assert state == "succeeded", (state, job.error)
        path, size = Path(storage.local_path(str(job.storage_key))), int(job.size or 0)
    settle()
    started = time.perf_counter()
    with open(workdir / "writer-only.zip", "wb") as out:
        get_exporter("archive")().write(
            read_snapshot(get_engine(), event_id), out,
            ExportContext(options={}, open_media=lambda k: storage.open(k)))
        out.flush()
        os.fsync(out.fileno())
    (workdir / "writer-only.zip").unlink()
    print(f"archive writer alone (snapshot + zip into a file + fsync, no storage, no "
          f"read-back): {time.perf_counter() - started:.2f} s")
    return path, export_seconds, size


def build_small_event(size_mb: int) -> int:
    from eventport.accounts.service import create_user
    from eventport.db import session_scope
    from eventport.db.migrate import upgrade
    from eventport.events import service as events
    from eventport.events.models import MediaFile
    from eventport.events.resources import EVENT, RESOURCES
    from eventport.storage import get_storage

    upgrade()
    storage = get_storage()
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    pdf = b"%PDF-1.4\n"
    mp3 = b"ID3\x03\x00\x00\x00\x00\x00\x00"
    with session_scope() as db:
        owner = create_user(db, "bench@example.org", "bench-password")
        event = events.create_event(db, owner, EVENT.fields.model_validate({
            "name": "Bench Conf", "starts_at": "2026-06-01T09:00:00",
            "ends_at": "2026-06-03T18:00:00", "timezone": "Europe/Berlin"}).model_dump())
        room = events.create_item(db, RESOURCES["microlocations"], event, {"name": "Hall"})
        counter = 0

        def attach(row, slot: str, kind: str, head: bytes, size: int, ext: str) -> None:
            nonlocal counter
            counter += 1
            key = f"events/{event.id}/media/bench/{counter:06d}.{ext}"
            result = storage.put_stream(key, _blob(head, size, counter))
            media = MediaFile(event_id=event.id, kind=kind, storage_key=key,
                              content_type={"jpg": "image/jpeg", "mp4": "video/mp4",
                                            "pdf": "application/pdf",
                                            "mp3": "audio/mpeg"}[ext],
                              size=result.size, sha256=result.sha256,
                              original_filename=f"f.{ext}")
            db.add(media)
            db.flush()
            setattr(row, slot, media)

        speakers = []
        for n in range(300):
            speaker = events.create_item(db, RESOURCES["speakers"], event,
                                         {"name": f"Speaker {n}"})
            attach(speaker, "photo", "image", jpeg, 200 * 1024, "jpg")
            speakers.append(speaker.id)
        sessions = 400
        budget = size_mb * MB - 300 * 200 * 1024
        per_session = max(budget // sessions, 3 * 1024)
        for n in range(sessions):
            talk = events.create_item(db, RESOURCES["sessions"], event, {
                "title": f"Talk {n}", "microlocation_id": room.id,
                "speaker_ids": [speakers[n % 300]]})
            attach(talk, "slides", "document", pdf, per_session // 8, "pdf")
            attach(talk, "audio", "audio", mp3, per_session // 8, "mp3")
            attach(talk, "video", "video", mp4, per_session * 3 // 4, "mp4")
        return int(event.id)


def _target(db, archive: Path) -> int:
    """The event the archive came from (found by the uuid its manifest names)."""
    import json
    import zipfile

    from sqlalchemy import select

    from eventport.events.models import Event

    with zipfile.ZipFile(archive) as zf:
        uuid = json.loads(zf.read("manifest.json"))["event"]["uuid"]
    return int(db.scalar(select(Event.id).where(Event.uuid == uuid)))


def import_only(archive: Path, mode: str) -> None:
    """Child process: upload into storage, then run the import; print figures."""
    from sqlalchemy import select

    from eventport.accounts.models import User
    from eventport.db import session_scope
    from eventport.db.migrate import upgrade
    from eventport.imports import service
    from eventport.storage import get_storage

    upgrade()
    storage = get_storage()
    with session_scope() as db:
        user = db.scalar(select(User).where(User.email == "bench@example.org"))
        if user is None:
            from eventport.accounts.service import create_user

            user = create_user(db, "bench@example.org", "bench-password")
        started = time.perf_counter()
        target = _target(db, archive) if mode == "update" else None
        with open(archive, "rb") as upload:
            job = service.create_import_job(db, storage, user, upload, archive.name,
                                            mode=mode, event_id=target)
        job_id = job.id
    upload_seconds = time.perf_counter() - started
    started = time.perf_counter()
    stages: list[tuple[str, float]] = []

    def on_progress(stage: str, done: int, total: int) -> None:
        if not stages or stages[-1][0] != stage:
            stages.append((stage, time.perf_counter() - started))

    state = service.run_import(job_id, storage=storage, on_progress=on_progress)
    import_seconds = time.perf_counter() - started
    ends = [at for _, at in stages[1:]] + [import_seconds]
    print("job stages: " + ", ".join(f"{name} {end - at:.2f} s"
                                     for (name, at), end in zip(stages, ends)))
    with session_scope() as db:
        job = db.get(service.ImportJob, job_id)
        assert job is not None
        error, result = job.error, dict(job.result or {})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    changes = len((result.get("plan") or {}).get("changes") or [])
    print(f"mode={mode} upload_seconds={upload_seconds:.2f} import_seconds={import_seconds:.2f} "
          f"state={state} peak_rss_mb={peak} error={error} media_bytes_moved="
          f"{result.get('media_bytes')} planned_changes={changes} counts={result.get('counts')}")


def run_child(archive: Path, mode: str) -> float | None:
    """One import in a fresh process; prints its figures; upload + job seconds."""
    started = time.perf_counter()
    child = subprocess.run([sys.executable, __file__, "--import-only", str(archive),
                            "--mode", mode], env=os.environ.copy(), capture_output=True,
                           text=True)
    wall = time.perf_counter() - started
    sys.stdout.write(child.stdout)
    sys.stderr.write(child.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"{mode}: child process wall time (Python start, migrations check, upload, "
          f"job): {wall:.2f} s; peak RSS: {peak} MB")
    figures = dict(re.findall(r"(upload_seconds|import_seconds)=([0-9.]+)", child.stdout))
    if len(figures) != 2:
        return None
    return float(figures["upload_seconds"]) + float(figures["import_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, help="import this archive instead of building one")
    parser.add_argument("--size-mb", type=int, default=800)
    parser.add_argument("--small", action="store_true",
                        help="the older 300-speaker/400-session event instead")
    parser.add_argument("--repeat", type=int, default=1,
                        help="export job, then copy import, this many times; medians")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--import-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="copy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.import_only:
        import_only(args.import_only, args.mode)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="eventport-bench-import-"))
    configure(workdir)
    if args.archive:
        run_child(args.archive.resolve(), "copy")
        print(f"workdir: {workdir} (delete it when done)")
        return
    if args.small:
        event_id = build_small_event(args.size_mb)
    else:
        from eventport.db.migrate import upgrade

        upgrade()
        event_id = build_bench_event(args.size_mb)
    exports, imports = [], []
    for _ in range(args.repeat):
        settle()
        archive, export_seconds, size = export_event(workdir, event_id)
        print(f"archive={archive} size_mb={size / MB:.0f} export job (request to succeeded, "
              f"read-back included) export_seconds={export_seconds:.2f}")
        settle()
        took = run_child(archive, "copy")
        if took is not None:
            exports.append(export_seconds)
            imports.append(took)
            print(f"import (upload + job) {took:.2f} s / export job {export_seconds:.2f} s "
                  f"= {took / export_seconds:.2f}")
    if imports:
        ratios = [i / e for i, e in zip(imports, exports)]
        print(f"\nmedian of {len(ratios)}: import (upload + job) "
              f"{statistics.median(imports):.2f} s, export job "
              f"{statistics.median(exports):.2f} s, ratio {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target <= 2)")
    settle()
    run_child(archive, "update")
    print(f"workdir: {workdir} (delete it when done)")


if __name__ == "__main__":
    main()
