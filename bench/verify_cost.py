"""What read-back verification adds to an export (issue 12): the demo event plus one
large incompressible video, exported in-process on SQLite + local storage; prints the
time of each stage, so "verifying" can be compared with the rest.

    .venv/bin/python bench/verify_cost.py [--video-mb 300]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--video-mb", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="verify-cost-"))
    os.environ.update(EVENTPORT_DATABASE_URL=f"sqlite:///{work}/db.sqlite",
                      EVENTPORT_STORAGE_URL=f"file://{work}/storage",
                      EVENTPORT_DATA_DIR=str(work / "data"),
                      EVENTPORT_SECRET_KEY="bench-secret-0123456789-abcdefghijklmnopqrstuv")
    from sqlalchemy import select

    from eventport.accounts.models import User
    from eventport.db import get_sessionmaker
    from eventport.db.migrate import upgrade
    from eventport.events.demo import load_demo
    from eventport.events.models import Event, MediaFile, ProgramSession
    from eventport.exports import service
    from eventport.storage import get_storage

    upgrade()
    db = get_sessionmaker()()
    event = load_demo(db, get_storage())
    assert event is not None
    key = f"events/{event.id}/media/video/big.mp4"
    digest, size = hashlib.sha256(), args.video_mb * 1024 * 1024

    def video():
        for _ in range(args.video_mb):
            chunk = os.urandom(1024 * 1024)
            digest.update(chunk)
            yield chunk

    get_storage().put_stream(key, video(), content_type="video/mp4")
    talk = db.scalars(select(ProgramSession).where(ProgramSession.event_id == event.id)).first()
    talk.video = MediaFile(event_id=event.id, kind="video", storage_key=key,  # type: ignore[union-attr]
                           content_type="video/mp4", size=size, sha256=digest.hexdigest(),
                           original_filename="big.mp4")
    db.commit()
    job, _ = service.request_export(db, db.get(Event, event.id), db.scalars(select(User)).first(),
                                    "archive", None)
    marks: dict[str, float] = {}

    def on_progress(stage: str, done: int, total: int) -> None:
        marks.setdefault(stage, time.monotonic())

    started = time.monotonic()
    state = service.run_export(job.id, notify=False, on_progress=on_progress)
    ended = time.monotonic()
    db.expire_all()
    final = service.get_job(db, job.id)
    print(f"state {state}, archive {final.size / 1e6:.1f} MB, total {ended - started:.2f} s")
    stages = [*sorted(marks.items(), key=lambda kv: kv[1]), ("end", ended)]
    for (stage, at), (_, following) in itertools.pairwise(stages):
        print(f"  {stage:<15} {following - at:6.2f} s")


if __name__ == "__main__":
    main()
