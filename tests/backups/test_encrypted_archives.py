"""Encrypted archives end to end: export with recipients → ``.zip.age`` in storage →
decrypted by pyrage and the ``age`` CLI → manifest verifies → import with the identity."""

from __future__ import annotations

import time

import pyrage
from fastapi.testclient import TestClient

from tests.exports.conftest import DemoEvent
from tests.exports.helpers import download, start_export, wait_finished
from tests.support.celery import Worker


def _import(client: TestClient, headers: dict[str, str], data: bytes,
            identity: str | None = None):
    fields = {"identity": identity} if identity is not None else {}
    return client.post("/api/v1/imports", headers=headers, data=fields,
                       files={"file": ("backup.zip.age", data, "application/octet-stream")})


def _wait_import(client: TestClient, job_id: str, headers: dict[str, str]) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/imports/{job_id}", headers=headers).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def test_encrypted_archive_imports_only_with_its_identity(client: TestClient,
                                                          demo_event: DemoEvent,
                                                          celery_worker: Worker) -> None:
    identity = pyrage.x25519.Identity.generate()
    job = wait_finished(client, start_export(client, demo_event.id, demo_event.headers,
                                             media=["image"])["id"], demo_event.headers)
    encrypted = pyrage.encrypt(download(client, job["id"], demo_event.headers),
                               [identity.to_public()])
    assert client.delete(f"/api/v1/events/{demo_event.id}",
                         headers=demo_event.headers).status_code == 204

    refused = _import(client, demo_event.headers, encrypted)
    assert refused.status_code == 422, refused.text
    assert "encrypted" in refused.json()["detail"] and "identity" in refused.json()["detail"]
    wrong = _import(client, demo_event.headers, encrypted,
                    str(pyrage.x25519.Identity.generate()))
    assert wrong.status_code == 422 and "could not be decrypted" in wrong.json()["detail"]
    garbage = _import(client, demo_event.headers, encrypted, "AGE-SECRET-KEY-1NOPE")
    assert garbage.status_code == 422

    accepted = _import(client, demo_event.headers, encrypted, f"# key\n{identity}\n")
    assert accepted.status_code == 202, accepted.text
    assert "AGE-SECRET-KEY" not in accepted.text
    result = _wait_import(client, accepted.json()["id"], demo_event.headers)
    assert result["state"] == "succeeded", (result, celery_worker.log())
    event = client.get(f"/api/v1/events/{result['event_id']}", headers=demo_event.headers)
    assert event.json()["name"] == "EventCon 2026" or "EventCon" in event.json()["name"]
