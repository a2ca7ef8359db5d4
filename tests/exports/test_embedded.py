"""The embedded mode: ``eventport serve`` starts a worker + beat child on the filesystem
broker. Jobs queued while no worker runs are files on disk and run once one starts."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from eventport.jobs.embedded import embedded_worker
from tests.exports.conftest import DemoEvent
from tests.exports.helpers import start_export, wait_finished


def test_jobs_queued_while_stopped_run_when_the_embedded_worker_starts(
        client: TestClient, demo_event: DemoEvent) -> None:
    job = start_export(client, demo_event.id, demo_event.headers, media=["image"])
    time.sleep(0.5)
    assert client.get(f"/api/v1/exports/{job['id']}", headers=demo_event.headers
                      ).json()["state"] == "queued"
    with embedded_worker(concurrency=1) as process:
        finished = wait_finished(client, job["id"], demo_event.headers, timeout=60)
        assert finished["state"] == "succeeded", finished
        assert client.get("/api/v1/health").json()["broker"] == "ok"
    assert process.returncode is not None  # stopped with the block
