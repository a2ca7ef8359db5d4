"""Retention with a controllable clock: keep-last-N per event+format, max age, pinned."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy.orm import Session

from eventport.cli import main
from eventport.exports.models import ExportJob
from eventport.exports.retention import RetentionPolicy, sweep
from eventport.storage import get_storage
from tests.exports.conftest import DemoEvent

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _finished(db: Session, event_id: int, days: int, format: str = "archive",
              pinned: bool = False) -> ExportJob:
    """A succeeded job finished ``days`` after T0, with its file in storage."""
    job = ExportJob(event_id=event_id, format=format, options={}, options_key="{}",
                    state="succeeded", warnings=[], pinned=pinned,
                    created_at=T0 + dt.timedelta(days=days),
                    finished_at=T0 + dt.timedelta(days=days, minutes=5))
    db.add(job)
    db.flush()
    job.storage_key = f"events/{event_id}/exports/{job.id}/x.zip"
    job.size = get_storage().put_stream(job.storage_key, [b"zip" * 10]).size
    db.commit()
    return job


def _states(db: Session, jobs: list[ExportJob]) -> list[str]:
    db.expire_all()
    return [db.get(ExportJob, j.id).state for j in jobs]  # type: ignore[union-attr]


def test_keep_last_n_per_event_and_format(db: Session, demo_event: DemoEvent) -> None:
    archives = [_finished(db, demo_event.id, day) for day in range(5)]
    icals = [_finished(db, demo_event.id, day, "ical") for day in range(2)]
    keys = [j.storage_key for j in archives]
    policy = RetentionPolicy(keep_last=2, max_age=dt.timedelta(days=365),
                             clock=lambda: T0 + dt.timedelta(days=10))
    report = sweep(db, get_storage(), policy)
    assert sorted(report.expired) == sorted(j.id for j in archives[:3])
    assert _states(db, archives) == ["expired"] * 3 + ["succeeded"] * 2
    assert _states(db, icals) == ["succeeded"] * 2
    storage = get_storage()
    assert [storage.exists(k) for k in keys] == [False] * 3 + [True] * 2  # type: ignore[arg-type]
    expired = db.get(ExportJob, archives[0].id)
    assert expired.storage_key is None and expired.expires_at == T0 + dt.timedelta(days=10)


def test_max_age_and_pinned(db: Session, demo_event: DemoEvent) -> None:
    old = _finished(db, demo_event.id, 0)
    old_pinned = _finished(db, demo_event.id, 1, pinned=True)
    recent = _finished(db, demo_event.id, 25)
    clock_now = [T0 + dt.timedelta(days=20)]
    policy = RetentionPolicy(keep_last=5, max_age=dt.timedelta(days=30),
                             clock=lambda: clock_now[0])
    assert sweep(db, get_storage(), policy).expired == []
    clock_now[0] = T0 + dt.timedelta(days=31)  # the clock moves on
    assert sweep(db, get_storage(), policy).expired == [old.id]
    clock_now[0] = T0 + dt.timedelta(days=400)
    assert sweep(db, get_storage(), policy).expired == [recent.id]
    assert _states(db, [old, old_pinned, recent]) == ["expired", "succeeded", "expired"]


def test_pinned_exports_do_not_take_a_place(db: Session, demo_event: DemoEvent) -> None:
    pinned = [_finished(db, demo_event.id, d, pinned=True) for d in (5, 6)]
    plain = [_finished(db, demo_event.id, d) for d in (1, 2)]
    policy = RetentionPolicy(keep_last=1, max_age=dt.timedelta(days=99),
                             clock=lambda: T0 + dt.timedelta(days=7))
    assert sweep(db, get_storage(), policy).expired == [plain[0].id]
    assert _states(db, pinned + plain) == ["succeeded", "succeeded", "expired", "succeeded"]


def test_cleanup_command_dry_run_then_real(db: Session, demo_event: DemoEvent,
                                          monkeypatch) -> None:
    monkeypatch.setenv("EVENTPORT_EXPORT_KEEP_LAST", "1")
    from eventport.config import get_settings

    get_settings.cache_clear()
    now = dt.datetime.now(dt.UTC)
    jobs = [_finished(db, demo_event.id, (now - T0).days - n) for n in (3, 2, 1)]
    runner = CliRunner()
    dry = runner.invoke(main, ["cleanup", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would expire 2 exports" in dry.output
    assert _states(db, jobs) == ["succeeded"] * 3
    real = runner.invoke(main, ["cleanup"])
    assert real.exit_code == 0, real.output
    assert "expired 2 exports" in real.output
    assert _states(db, jobs) == ["expired", "expired", "succeeded"]


def test_pin_and_delete_through_the_api(client, db: Session, demo_event: DemoEvent) -> None:
    job = _finished(db, demo_event.id, 0)
    headers = demo_event.headers
    pinned = client.patch(f"/api/v1/exports/{job.id}", json={"pinned": True}, headers=headers)
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    assert pinned.json()["expires_at"] is None
    unpinned = client.patch(f"/api/v1/exports/{job.id}", json={"pinned": False},
                            headers=headers).json()
    assert unpinned["expires_at"].startswith("2026-01-31")  # finished + 30 days
    key = job.storage_key
    assert client.delete(f"/api/v1/exports/{job.id}", headers=headers).status_code == 204
    assert not get_storage().exists(key)  # type: ignore[arg-type]
    gone = client.get(f"/api/v1/exports/{job.id}", headers=headers).json()
    assert gone["state"] == "expired" and gone["download_url"] is None
    download = client.get(f"/api/v1/exports/{job.id}/download", headers=headers,
                          follow_redirects=False)
    assert download.status_code == 409
