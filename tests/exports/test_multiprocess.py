"""The scaled deployment for real: ``eventport web`` + two ``eventport worker`` +
``eventport beat`` on PostgreSQL + Redis + S3 (moto server), ten exports of different
events in flight, one worker SIGKILLed mid-export. Every export must end ``succeeded``
with an archive that verifies, and no multipart upload may be left open.

Runs once (the PostgreSQL parametrization), marked ``slow``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from eventport.accounts.models import Role
from eventport.accounts.service import create_user, grant_role
from eventport.exports.models import ExportJob
from eventport.storage import get_storage
from tests.exports.conftest import verify_archive
from tests.storage.conftest import BUCKET, free_port, moto_server, wait_for_port  # noqa: F401
from tests.support.celery import REDIS_URL, fresh_db_caches, reachable, start_worker, wait_until
from tests.support.eventgen import generate_event

pytestmark = pytest.mark.slow

EVENTS = 10
PASSWORD = "correct horse battery"


def _proc(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "eventport.cli", *args],
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # the scaled setup
def test_ten_exports_survive_a_killed_worker(settings_env, database_url: str, moto_server,  # noqa: F811
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    if not reachable(REDIS_URL):
        pytest.skip("Redis is not running")
    import boto3

    prefix = f"mp-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        "EVENTPORT_DATABASE_URL": database_url,
        "EVENTPORT_STORAGE_URL": f"s3://{BUCKET}/{prefix}?endpoint_url={moto_server.endpoint}",
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "EVENTPORT_BROKER_URL": REDIS_URL,
        "EVENTPORT_BROKER_QUEUE": f"eventport-mp-{uuid.uuid4().hex[:10]}",
        "EVENTPORT_JOB_STALE_AFTER": "6",
        "EVENTPORT_SECRET_KEY": "multi-process-test-secret-0123456789-abcdefghijkl",
        "EVENTPORT_DATA_DIR": str(tmp_path / "data"),
        "EVENTPORT_BASE_URL": f"http://127.0.0.1:{port}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    fresh_db_caches()
    from eventport.db import get_sessionmaker

    db = get_sessionmaker()()
    owner = create_user(db, "mp-owner@example.org", PASSWORD)
    db.commit()
    event_ids = []
    for n in range(EVENTS):
        generated = generate_event(db, get_storage(), owner, name=f"Conf {n}", sessions=30,
                                   speakers=15, video_files=4, video_bytes=6 * 1024 * 1024)
        grant_role(db, generated.event_id, owner.email, Role.OWNER)
        event_ids.append(generated.event_id)
    db.commit()

    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        procs["web"] = _proc(["web", "--port", str(port)], env, tmp_path / "web.log")
        procs["beat"] = _proc(["beat"], env, tmp_path / "beat.log")
        w1 = start_worker(env, tmp_path / "w1.log", extra_args=("--hostname", "w1@%h"))
        w2 = start_worker(env, tmp_path / "w2.log", extra_args=("--hostname", "w2@%h"))
        procs["w1"], procs["w2"] = w1.process, w2.process
        wait_for_port(port, procs["web"])
        api = httpx.Client(base_url=env["EVENTPORT_BASE_URL"], timeout=30)
        token = api.post("/api/v1/auth/token",
                         json={"email": owner.email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        job_ids = []
        for event_id in event_ids:
            response = api.post(f"/api/v1/events/{event_id}/exports", headers=headers,
                                json={"format": "archive"})
            assert response.status_code == 202, response.text
            job_ids.append(response.json()["id"])

        def running() -> int:
            db.expire_all()
            jobs = db.scalars(select(ExportJob).where(ExportJob.id.in_(job_ids))).all()
            return sum(j.state == "running" and j.progress_stage == "media" for j in jobs) >= 3

        wait_until(running, 60, 0.05, "both workers to be mid-export")
        procs["w1"].send_signal(signal.SIGKILL)  # no warm shutdown, no abort, no ack

        def all_done() -> list[ExportJob] | None:
            db.expire_all()
            jobs = db.scalars(select(ExportJob).where(ExportJob.id.in_(job_ids))).all()
            return jobs if all(j.state not in ("queued", "running") for j in jobs) else None

        jobs = wait_until(all_done, 180, 0.5, "all exports to finish")
        assert [j.state for j in jobs] == ["succeeded"] * EVENTS, [
            (j.state, j.error) for j in jobs]
        assert max(j.attempts for j in jobs) >= 2, "no export was taken over from w1"

        for job in jobs:
            redirect = api.get(f"/api/v1/exports/{job.id}/download", headers=headers)
            assert redirect.status_code == 302, redirect.text
            data = httpx.get(redirect.headers["location"], timeout=60).content
            assert len(data) == job.size
            manifest = verify_archive(data, tmp_path)
            assert manifest["counts"]["media"] == 4

        s3 = boto3.client("s3", endpoint_url=moto_server.endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        open_uploads = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
        assert open_uploads == []
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        db.close()
