"""Small helpers shared by the export tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support.celery import wait_until


def start_export(client: TestClient, event_id: int, headers: dict[str, str],
                 **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/events/{event_id}/exports", json=body or {},
                           headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def wait_finished(client: TestClient, job_id: str, headers: dict[str, str],
                  timeout: float = 60.0) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job = client.get(f"/api/v1/exports/{job_id}", headers=headers).json()
        return job if job["state"] not in ("queued", "running") else None

    return wait_until(finished, timeout, message=f"export {job_id} to finish")


def download(client: TestClient, job_id: str, headers: dict[str, str]) -> bytes:
    response = client.get(f"/api/v1/exports/{job_id}/download", headers=headers,
                          follow_redirects=False)
    assert response.status_code == 302, response.text
    signed = client.get(response.headers["location"])  # no auth header: the link is the grant
    assert signed.status_code == 200, signed.text
    return signed.content
