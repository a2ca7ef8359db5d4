"""Applying a dry run from its kept upload: ``POST /api/v1/imports/{job_id}/apply``.

The main flow runs on a real Celery worker; the refusals and the expiry use the service
synchronously (the same code the task runs) and move the job's clock back in the
database, because waiting a day is not a test.
"""

from __future__ import annotations

import datetime as dt

import pyrage
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.imports.models import ImportJob
from eventport.leftovers import sweep_leftovers
from eventport.storage import Storage, get_storage
from tests.imports.archives import make_archive
from tests.imports.conftest import run
from tests.imports.test_api import headers_for, wait
from tests.imports.test_known_source import post, token_for
from tests.support.celery import Worker, celery_worker, celery_worker_env, worker_pool  # noqa: F401


def keys_of(storage: Storage, job_id: str) -> list[str]:
    return [info.key for info in storage.list(f"imports/{job_id}/")]


def test_apply_imports_the_kept_upload(client: TestClient, db: Session,
                                       celery_worker: Worker) -> None:  # noqa: F811
    owner = headers_for(client, db, "owner@example.org")
    stranger = headers_for(client, db, "stranger@example.org")
    dry = post(client, owner, "a.zip", make_archive(), "?dry_run=true")
    assert dry.status_code == 202, dry.text
    dry_id = dry.json()["id"]
    checked = wait(client, f"/api/v1/imports/{dry_id}", owner, celery_worker)
    assert checked["state"] == "succeeded", checked
    assert checked["upload_kept_until"] is not None and checked["applied_as"] is None
    storage = get_storage()
    assert keys_of(storage, dry_id) == [f"imports/{dry_id}/upload"]

    assert client.post(f"/api/v1/imports/{dry_id}/apply", headers=stranger).status_code == 404
    applied = client.post(f"/api/v1/imports/{dry_id}/apply", headers=owner)
    assert applied.status_code == 202, applied.text
    job = applied.json()
    assert applied.headers["Location"] == f"/api/v1/imports/{job['id']}"
    assert job["id"] != dry_id and job["applied_from"] == dry_id and not job["dry_run"]
    assert job["format"] is None and job["upload_size"] == checked["upload_size"]
    assert keys_of(storage, job["id"]) == []  # referenced where it is: nothing copied
    done = wait(client, applied.headers["Location"], owner, celery_worker)
    assert done["state"] == "succeeded", (done, celery_worker.log())
    event = client.get(f"/api/v1/events/{done['event_id']}", headers=owner).json()
    assert event["name"] == "Hand made"
    assert keys_of(storage, dry_id) == keys_of(storage, job["id"]) == []  # cleaned up

    after = client.get(f"/api/v1/imports/{dry_id}", headers=owner).json()
    assert after["applied_as"] == job["id"] and after["upload_kept_until"] is None
    again = client.post(f"/api/v1/imports/{dry_id}/apply", headers=owner)
    assert again.status_code == 409 and "already applied" in again.json()["detail"]
    assert again.headers["content-type"] == "application/problem+json"
    real = client.post(f"/api/v1/imports/{job['id']}/apply", headers=owner)
    assert real.status_code == 409 and "not a dry run" in real.json()["detail"]


def test_apply_refuses_failed_and_expired_dry_runs(client: TestClient, db: Session,
                                                   storage: Storage, owner: User) -> None:
    headers = token_for(client, owner)
    broken = make_archive(tamper={"media/documents/sessions/11-hello-slides.pdf": b"%PDF-x"})
    failed = run(db, storage, owner, broken, dry_run=True)
    assert failed.state == "failed"
    refused = client.post(f"/api/v1/imports/{failed.id}/apply", headers=headers)
    assert refused.status_code == 409 and "is failed" in refused.json()["detail"]
    assert keys_of(storage, failed.id) == []

    old = run(db, storage, owner, make_archive(), dry_run=True)
    assert old.state == "succeeded" and keys_of(storage, old.id) == [old.staging_key]
    age(db, old.id, hours=25)
    expired = client.post(f"/api/v1/imports/{old.id}/apply", headers=headers)
    assert expired.status_code == 409, expired.text
    assert "no longer kept" in expired.json()["detail"]
    assert keys_of(storage, old.id) == []  # deleted on the spot
    assert client.get(f"/api/v1/imports/{old.id}", headers=headers).json()[
        "upload_kept_until"] is None


def age(db: Session, job_id: str, *, hours: float) -> None:
    """Move a finished job's end back in time."""
    finished = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    db.execute(update(ImportJob).where(ImportJob.id == job_id).values(finished_at=finished))
    db.commit()
    db.expire_all()


def test_sweep_deletes_expired_kept_uploads_only(db: Session, storage: Storage, owner: User,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTPORT_IMPORT_DRY_RUN_KEEP_HOURS", "48")
    get_settings.cache_clear()
    fresh, day_old, expired = (run(db, storage, owner, make_archive(), dry_run=True)
                               for _ in range(3))
    age(db, day_old.id, hours=30)  # past a day, within 48 h: still kept
    age(db, expired.id, hours=49)
    report = sweep_leftovers(db, storage)
    assert report.kept_expired == [expired.id]
    assert report.objects_deleted == [f"imports/{expired.id}/upload"]
    db.expire_all()
    assert db.get(ImportJob, expired.id).staging_key is None  # type: ignore[union-attr]
    assert keys_of(storage, fresh.id) and keys_of(storage, day_old.id)


def test_sweep_spares_the_upload_an_applied_job_reads(client: TestClient, db: Session,
                                                     storage: Storage, owner: User) -> None:
    """The applying job reads the upload in the dry run's staging area; a sweep while it
    waits (the dry run finished over a day ago) must not take it away."""
    dry = run(db, storage, owner, make_archive(), dry_run=True)
    applied = client.post(f"/api/v1/imports/{dry.id}/apply", headers=token_for(client, owner))
    assert applied.status_code == 202, applied.text
    age(db, dry.id, hours=30)
    assert sweep_leftovers(db, storage).objects_deleted == []
    from eventport.imports.service import run_import

    assert run_import(applied.json()["id"], storage=storage) == "succeeded"
    assert keys_of(storage, dry.id) == []


def test_encrypted_dry_run_applies_without_the_key(client: TestClient, db: Session,
                                                   storage: Storage, owner: User) -> None:
    """The kept upload is the decrypted archive: the key is sent once, with the upload."""
    from eventport.imports.service import run_import

    identity = pyrage.x25519.Identity.generate()
    sealed = pyrage.encrypt(make_archive(), [identity.to_public()])
    headers = token_for(client, owner)
    dry = post(client, headers, "a.zip.age", sealed, "?dry_run=true",
               fields={"identity": str(identity)})
    assert dry.status_code == 202, dry.text
    assert run_import(dry.json()["id"], storage=storage) == "succeeded"
    applied = client.post(f"/api/v1/imports/{dry.json()['id']}/apply", headers=headers)
    assert applied.status_code == 202, applied.text
    assert run_import(applied.json()["id"], storage=storage) == "succeeded"
    job = client.get(applied.headers["Location"], headers=headers).json()
    assert job["state"] == "succeeded" and job["event_id"], job


def test_cli_dry_run_keeps_nothing(db: Session, storage: Storage, owner: User,
                                   tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from eventport.cli import main

    source = tmp_path / "a.zip"
    source.write_bytes(make_archive())
    result = CliRunner().invoke(main, ["import", str(source), "--owner", owner.email,
                                       "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: would create" in result.output
    job = db.query(ImportJob).one()
    assert job.staging_key is None and [i.key for i in storage.list("imports/")] == []


def test_two_applies_racing_make_one_job(db: Session, storage: Storage, owner: User,
                                         sessions) -> None:  # type: ignore[no-untyped-def]
    """Two requests apply the same dry run at once (separate sessions, as two web
    processes): one job, one 409 — the conditional UPDATE hands the upload over once."""
    import threading

    from eventport.errors import Conflict
    from eventport.imports.service import apply

    dry = run(db, storage, owner, make_archive(), dry_run=True)
    barrier, outcomes = threading.Barrier(2), []

    def attempt() -> None:
        with sessions() as own:
            user = own.get(User, owner.id)
            barrier.wait()
            try:
                outcomes.append(apply(own, storage, user, dry.id).id)
            except Conflict as exc:
                outcomes.append(exc.detail)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    jobs = [o for o in outcomes if not o.startswith(("dry run", "import"))]
    assert len(outcomes) == 2 and len(jobs) == 1, outcomes
    assert db.query(ImportJob).filter(ImportJob.dry_run.is_(False)).count() == 1


def test_eventport_cleanup_deletes_expired_kept_uploads(db: Session, storage: Storage,
                                                        owner: User) -> None:
    from click.testing import CliRunner

    from eventport.cli import main

    kept, expired = (run(db, storage, owner, make_archive(), dry_run=True) for _ in range(2))
    age(db, expired.id, hours=25)  # the default keeps 24 h
    result = CliRunner().invoke(main, ["cleanup"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 orphan import object(s) (of which 1 expired dry-run upload(s))" in (
        result.output)
    assert keys_of(storage, expired.id) == [] and keys_of(storage, kept.id) == [
        kept.staging_key]


def test_update_dry_run_applies_to_its_event_while_the_role_lasts(
        client: TestClient, db: Session, storage: Storage, owner: User,
        full_event) -> None:  # type: ignore[no-untyped-def]
    """An update's dry run is applied to the same event; a co-organizer whose role was
    removed between the dry run and Apply may no longer apply it."""
    from eventport.accounts.models import EventRole, Role
    from eventport.accounts.service import grant_role, revoke_role
    from eventport.imports.service import run_import
    from tests.imports.conftest import export_archive

    archive = export_archive(db, storage, full_event.id)
    helper = headers_for(client, db, "helper@example.org")
    role = grant_role(db, full_event.id, "helper@example.org", Role.ORGANIZER)
    db.commit()
    query = f"?dry_run=true&mode=update&event_id={full_event.id}"
    for headers in (token_for(client, owner), helper):
        dry = post(client, headers, "a.zip", archive, query)
        assert dry.status_code == 202, dry.text
        assert run_import(dry.json()["id"], storage=storage) == "succeeded"
        if headers is helper:
            revoke_role(db, full_event.id, role.id)
            db.commit()
        applied = client.post(f"/api/v1/imports/{dry.json()['id']}/apply", headers=headers)
        if headers is helper:
            assert applied.status_code == 404, applied.text
            assert not db.query(EventRole).filter_by(user_id=role.user_id).count()
            continue
        assert applied.status_code == 202, applied.text
        assert applied.json()["mode"] == "update"
        assert applied.json()["event_id"] == full_event.id
        assert run_import(applied.json()["id"], storage=storage) == "succeeded"
        done = client.get(applied.headers["Location"], headers=headers).json()
        assert done["plan"]["changes"] == [] and done["event_id"] == full_event.id
