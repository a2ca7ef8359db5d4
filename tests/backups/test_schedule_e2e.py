"""A ``* * * * *`` policy through two real ``eventport beat`` processes and a real worker:
one verified scheduled export per minute, however many beats tick."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.exports.conftest import DemoEvent
from tests.exports.helpers import wait_finished
from tests.support.celery import Worker, wait_until


@pytest.fixture
def two_beats(start_broker_worker, tmp_path: Path) -> Iterator[Worker]:
    """A worker on Redis and two beats ticking every 2 s (each with its own state file)."""
    worker = start_broker_worker("redis")
    beats = []
    for n in range(2):
        env = {**os.environ, **worker.env, "EVENTPORT_DATA_DIR": str(tmp_path / f"beat{n}"),
               "EVENTPORT_SCHEDULER_TICK_SECONDS": "2"}
        log = open(tmp_path / f"beat{n}.log", "wb")
        beats.append(subprocess.Popen([sys.executable, "-m", "eventport.cli", "beat"],
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
        log.close()
    yield worker
    for beat in beats:
        beat.terminate()
        beat.wait(20)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_every_minute_policy_runs_once_per_tick(client: TestClient, demo_event: DemoEvent,
                                                two_beats: Worker) -> None:
    base = f"/api/v1/events/{demo_event.id}"
    policy = client.put(f"{base}/backup-policy", headers=demo_event.headers,
                        json={"cron": "* * * * *", "media": [], "keep_last": 1})
    assert policy.status_code == 200, policy.text

    def scheduled() -> list[dict]:
        page = client.get(f"{base}/exports", headers=demo_event.headers).json()
        jobs = page["items"] if isinstance(page, dict) else page
        return [j for j in jobs if j["trigger"] == "schedule"]

    first = wait_until(scheduled, 75, interval=0.5, message="a scheduled export")[0]
    job = wait_finished(client, first["id"], demo_event.headers)
    assert job["state"] == "succeeded", (job, two_beats.log())
    assert job.get("verified_at", "n/a") is not None
    # Both beats tick every 2 s and the job took about a second: without the claim,
    # later ticks of this minute would have made more jobs (the export's dedupe only
    # hides duplicates while the first job is still queued or running).
    time.sleep(6)
    per_minute = Counter(j["created_at"][:16] for j in scheduled())
    assert set(per_minute.values()) == {1}, per_minute
    result = client.get(f"{base}/backup-policy", headers=demo_event.headers).json()
    assert result["last_result"]["job_id"] == scheduled()[0]["id"]
