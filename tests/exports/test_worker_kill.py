"""A real worker SIGKILLed mid-export on S3 (moto), N times in a row (issue 12): the stale
sweep sends the job again, the next attempt aborts the upload the dead worker left open,
and the job ends ``succeeded`` with an archive read back complete — or, past
:data:`~eventport.job_lifecycle.MAX_ATTEMPTS` deaths, ``failed``; never half-published.

``EVENTPORT_FAULTS_KILLS`` (default 1; bench/faults.py uses 2) sets N.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.events.models import MediaFile, ProgramSession
from eventport.exports import service
from eventport.jobs.export_tasks import requeue_stale_task
from eventport.storage import get_storage
from tests.exports.conftest import DemoEvent
from tests.support.celery import Worker, start_worker, wait_until
from tests.support.cloud import Cloud, serve_storage
from tests.support.redis import OwnRedis

KILLS = int(os.environ.get("EVENTPORT_FAULTS_KILLS", "1"))
STALE_AFTER = 6  # > the 4 s heartbeat: a live job never looks stale


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL, as in the scaled deployment where workers die."""
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def s3_storage(settings_env: None, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """S3 for everything, before the demo event stores its media (list it first)."""
    yield from serve_storage("s3", tmp_path / "s3", monkeypatch, "wk")


def _add_video(db: Session, event_id: int) -> None:
    video = os.urandom(48 * 1024 * 1024)
    key = f"events/{event_id}/media/video/long.mp4"
    get_storage().put_stream(key, [video], content_type="video/mp4")
    talk = db.scalars(select(ProgramSession).where(ProgramSession.event_id == event_id)).first()
    assert talk is not None
    talk.video = MediaFile(event_id=event_id, kind="video", storage_key=key,
                           content_type="video/mp4", size=len(video),
                           sha256=hashlib.sha256(video).hexdigest(), original_filename="l.mp4")
    db.commit()


def _job(db: Session, job_id: str) -> service.ExportJob:
    db.expire_all()
    return service.get_job(db, job_id)


def test_a_worker_killed_mid_export_is_taken_over(
        s3_storage: Cloud, client: TestClient, db: Session, demo_event: DemoEvent,
        own_redis: OwnRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_video(db, demo_event.id)
    env = {name: os.environ[name] for name in (
        "EVENTPORT_DATABASE_URL", "EVENTPORT_STORAGE_URL", "EVENTPORT_SECRET_KEY")}
    env |= {"EVENTPORT_DATA_DIR": str(tmp_path / "worker-data"),
            "EVENTPORT_BROKER_URL": own_redis.url,
            "EVENTPORT_BROKER_QUEUE": f"wk-{uuid.uuid4().hex[:8]}",
            "EVENTPORT_JOB_STALE_AFTER": str(STALE_AFTER)}
    worker = start_worker(env, tmp_path / "w0.log", concurrency=1)
    worker.apply(monkeypatch)
    job_id = client.post(f"/api/v1/events/{demo_event.id}/exports", json={"format": "archive"},
                         headers=demo_event.headers).json()["id"]
    open_at_kill, taken_over = [], []
    try:
        for kill in range(KILLS):
            _wait_for_the_upload(db, s3_storage, job_id, worker)
            worker.process.send_signal(signal.SIGKILL)
            worker.process.wait(10)
            killed = time.monotonic()
            open_at_kill.append(len(s3_storage.open_uploads(_prefix()) or []))
            worker = start_worker(env, tmp_path / f"w{kill + 1}.log", concurrency=1)
            attempts = _job(db, job_id).attempts
            wait_until(lambda: _requeued(db, job_id, attempts), 60, 0.5, "the take-over")
            taken_over.append(time.monotonic() - killed)
        final = wait_until(lambda: _job(db, job_id) if _job(db, job_id).state not in (
            "queued", "running") else None, 120, 0.5, "the export to end")
    finally:
        worker.stop()
    _check(db, s3_storage, final, open_at_kill, taken_over)


def _wait_for_the_upload(db: Session, s3: Cloud, job_id: str, worker: Worker) -> None:
    """Until the archive's multipart upload is open; a job that ended first, or never
    started, fails the test with its state and the worker's log (what a flake needs)."""
    deadline = time.monotonic() + 60
    while not s3.open_uploads(_prefix()):
        job = _job(db, job_id)
        if job.state not in ("queued", "running") or time.monotonic() > deadline:
            pytest.fail(f"no open upload seen; the job is {job.state} (attempts "
                        f"{job.attempts}, stage {job.progress_stage}, error {job.error})\n"
                        f"worker log:\n{worker.log()[-4000:]}")
        time.sleep(0.02)


def _requeued(db: Session, job_id: str, attempts: int) -> bool:
    """What beat's requeue-stale task does, run here as soon as it has work."""
    requeue_stale_task()
    return _job(db, job_id).attempts > attempts


def _prefix() -> str:
    return os.environ["EVENTPORT_STORAGE_URL"].split("?", 1)[0].split("/", 3)[3]


def _check(db: Session, s3: Cloud, job: service.ExportJob, open_at_kill: list[int],
           taken_over: list[float]) -> None:
    assert job.state == "succeeded", job.error
    assert job.attempts == KILLS + 1 and job.verified_at is not None
    data = b"".join(get_storage().open(job.storage_key))  # type: ignore[arg-type]
    assert hashlib.sha256(data).hexdigest() == job.sha256 and len(data) == job.size
    exports = list(get_storage().list(f"events/{job.event_id}/exports/"))
    assert [info.key for info in exports] == [job.storage_key]
    assert s3.open_uploads(_prefix()) == []
    print(f"FAULT | s3: worker SIGKILLed mid-export ×{KILLS} | succeeded on attempt "
          f"{job.attempts} | read back complete (sha256 ok), one object | "
          f"{open_at_kill} at the kills, 0 after | taken over "
          f"{', '.join(f'{t:.1f}s' for t in taken_over)} after each kill "
          f"(stale after {STALE_AFTER}s)")
