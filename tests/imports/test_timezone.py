"""The ``timezone`` option: the zone of a source that names none; a named zone wins.

FOSDEM 2007's Pentabarf schedule.xml has bare local times and no zone: with
Europe/Brussels its first talk (AIGLX, 25 Feb 2007, 15:00 local, CET) lands at 14:00 UTC.
"""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.cli import main
from eventport.events.models import Event, ProgramSession
from eventport.imports.models import ImportJob
from eventport.imports.service import run_import
from eventport.storage import Storage
from tests.imports.conftest import SCHEDULES, run
from tests.imports.test_known_source import post, staged, token_for
from tests.imports.test_source_identity import frab

FOSDEM = SCHEDULES / "fosdem-2007-schedule.xml"
AIGLX_UTC = dt.datetime(2007, 2, 25, 14, 0, tzinfo=dt.UTC)


def aiglx(db: Session, event_id: int) -> dt.datetime:
    db.expire_all()
    starts = db.scalar(select(ProgramSession.starts_at).where(
        ProgramSession.event_id == event_id, ProgramSession.title == "AIGLX"))
    assert starts is not None
    return starts.astimezone(dt.UTC)


def test_fosdem_2007_in_brussels_through_the_api(client: TestClient, db: Session,
                                                 storage: Storage, owner: User) -> None:
    headers = token_for(client, owner)
    accepted = post(client, headers, "schedule.xml", FOSDEM.read_bytes(),
                    "?timezone=Europe/Brussels")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["timezone"] == "Europe/Brussels"
    assert run_import(accepted.json()["id"], storage=storage) == "succeeded"
    job = client.get(accepted.headers["Location"], headers=headers).json()
    assert aiglx(db, job["event_id"]) == AIGLX_UTC
    event = client.get(f"/api/v1/events/{job['event_id']}", headers=headers).json()
    assert event["timezone"] == "Europe/Brussels"
    assert not [w for w in job["warnings"] if "time zone" in w]  # asked for, not guessed


def test_without_the_option_bare_times_are_utc_and_said_so(db: Session, storage: Storage,
                                                           owner: User) -> None:
    job = run(db, storage, owner, FOSDEM.read_bytes(), mode="copy")
    assert job.state == "succeeded", job.error
    assert aiglx(db, job.event_id) == AIGLX_UTC + dt.timedelta(hours=1)  # type: ignore[arg-type]
    assert "schedule.xml names no time zone; times are read as UTC" in job.warnings


def test_a_zone_the_source_names_wins(db: Session, storage: Storage, owner: User) -> None:
    from eventport.imports import service

    job = service.create_import_job(db, storage, owner, [frab([["1:Ada"]])], "s.xml",
                                    timezone="Europe/Brussels")
    db.commit()
    assert run_import(job.id, storage=storage) == "succeeded"
    db.expire_all()
    done = db.get(ImportJob, job.id)
    assert done is not None and done.event_id is not None
    assert ("schedule.xml names its time zone, Europe/Berlin; it wins over Europe/Brussels"
            in done.warnings)
    assert db.get(Event, done.event_id).timezone == "Europe/Berlin"  # type: ignore[union-attr]


def test_unknown_zone_is_a_422_and_nothing_is_kept(client: TestClient, db: Session,
                                                   storage: Storage, owner: User) -> None:
    headers = token_for(client, owner)
    xml = FOSDEM.read_bytes()
    for query, fields in (("?timezone=Mars/Olympus", None), ("", {"timezone": "CET+1"}),
                          ("?timezone=../../etc/passwd", None)):
        refused = post(client, headers, "schedule.xml", xml, query, fields)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "unknown time zone" in refused.json()["detail"]
    late = client.post("/api/v1/imports", headers=headers,
                       files=[("file", ("s.xml", xml, "application/xml")),
                              ("timezone", (None, "Nowhere/Atlantis"))])
    assert late.status_code == 422 and "unknown time zone" in late.json()["detail"]
    assert staged(storage) == []


def test_cli_timezone(db: Session, storage: Storage, owner: User) -> None:
    bad = CliRunner().invoke(main, ["import", str(FOSDEM), "--owner", owner.email,
                                    "--timezone", "Europe/Bruxelles"])
    assert bad.exit_code != 0 and "unknown time zone" in bad.output
    good = CliRunner().invoke(main, ["import", str(FOSDEM), "--owner", owner.email,
                                     "--timezone", "Europe/Brussels"])
    assert good.exit_code == 0, good.output
    assert "50 warnings of 2 kinds: Invalid slides_url values, left out × 49" in good.output
    event_id = db.scalar(select(Event.id).where(Event.name == "FOSDEM 2007"))
    assert event_id is not None and aiglx(db, event_id) == AIGLX_UTC
