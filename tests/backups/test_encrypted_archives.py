"""Encrypted archives end to end: export with recipients → ``.zip.age`` in storage →
decrypted by pyrage and the ``age`` CLI → manifest verifies → import with the identity."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

import pyrage
from click.testing import CliRunner
from fastapi.testclient import TestClient

from eventport.cli import main
from tests.exports.conftest import DemoEvent, verify_archive
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


def _decrypt_everywhere(data: bytes, alice, tmp_path: Path) -> bytes:
    """pyrage, the ``age`` CLI and ``eventport verify --identity`` all open it."""
    plain = pyrage.decrypt(data, [alice])
    sealed = tmp_path / "export.zip.age"
    sealed.write_bytes(data)
    key = tmp_path / "alice.txt"
    key.write_text(f"# created: test\n# public key: {alice.to_public()}\n{alice}\n")
    if shutil.which("age"):
        result = subprocess.run(["age", "-d", "-i", str(key), str(sealed)],
                                capture_output=True, check=True)
        assert result.stdout == plain
    ok = CliRunner().invoke(main, ["verify", str(sealed), "--identity", str(key)])
    assert ok.exit_code == 0 and "OK" in ok.output, ok.output
    other = tmp_path / "other.txt"
    other.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    refused = CliRunner().invoke(main, ["verify", str(sealed), "--identity", str(other)])
    assert refused.exit_code == 1 and "could not be decrypted" in refused.output
    assert CliRunner().invoke(main, ["verify", str(sealed)]).exit_code == 1
    return plain


def test_encrypted_export_decrypts_verifies_and_imports_with_its_identity(
        client: TestClient, demo_event: DemoEvent, celery_worker: Worker,
        tmp_path: Path) -> None:
    alice, bob = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    job = start_export(client, demo_event.id, demo_event.headers, media=["image"],
                       recipients=[str(alice.to_public()), str(bob.to_public())])
    job = wait_finished(client, job["id"], demo_event.headers)
    assert job["state"] == "succeeded", (job, celery_worker.log())
    assert job["filename"].endswith(".zip.age") and job["verified_at"]
    encrypted = download(client, job["id"], demo_event.headers)
    assert encrypted.startswith(b"age-encryption.org/v1\n")
    assert len(encrypted) == job["size"]
    assert hashlib.sha256(encrypted).hexdigest() == job["sha256"]
    assert b"@speakers.example" not in encrypted and b"manifest.json" not in encrypted
    plain = _decrypt_everywhere(encrypted, alice, tmp_path)
    assert pyrage.decrypt(encrypted, [bob]) == plain
    manifest = verify_archive(plain, tmp_path)
    assert manifest["counts"]["speakers"] == 24 and manifest["profile"] == "full"
    assert "recipients" not in manifest.get("options", {})  # keys are the job's business

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

    accepted = _import(client, demo_event.headers, encrypted, f"# key\n{alice}\n")
    assert accepted.status_code == 202, accepted.text
    assert "AGE-SECRET-KEY" not in accepted.text
    result = _wait_import(client, accepted.json()["id"], demo_event.headers)
    assert result["state"] == "succeeded", (result, celery_worker.log())
    event = client.get(f"/api/v1/events/{result['event_id']}", headers=demo_event.headers)
    assert event.status_code == 200


def test_bad_recipients_are_refused(client: TestClient, demo_event: DemoEvent) -> None:
    for bad in (["age1nope"], ["ssh-ed25519 AAAAC3Nza"], "age1", [""] * 30):
        response = client.post(f"/api/v1/events/{demo_event.id}/exports",
                               headers=demo_event.headers,
                               json={"format": "archive", "recipients": bad})
        assert response.status_code == 422, (bad, response.text)
