"""A test festival built with the ORM: everything a schedule export can trip over.

Three days in Europe/Berlin around the end of summer time (Sunday 2024-10-27, 03:00 CEST
becomes 02:00 CET), XML-special and non-ASCII text (emoji, Arabic), overlapping sessions,
a session across midnight, one across the DST change, sessions without room or time,
sessions in states a schedule must not show, and a speaker with several sessions.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session

from eventport.events.models import (
    Event,
    Microlocation,
    ProgramSession,
    SessionType,
    Speaker,
    Track,
)
from eventport.exports.formats.schedule import stable_number
from eventport.exports.registry import ExportContext
from eventport.exports.snapshot import EventSnapshot, take_snapshot
from tests.sample_data import DATA as DATA

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
SPECIAL = "<&>\"' 🎉"
ARABIC = "مرحبا بالعالم"


def berlin(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


@dataclass
class Festival:
    event: Event
    ids: dict[str, int] = field(default_factory=dict)  # database ids (the CSVs show them)
    #: the ids schedule formats show: derived from the uuid, the same on every server
    numbers: dict[str, int] = field(default_factory=dict)
    emails: tuple[str, ...] = ("ada@example.org", "grace@example.net", "mo@example.com")


@dataclass
class Recorder:
    """An ExportContext that keeps what the exporter reported."""

    public_only: bool = False
    options: dict = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)

    def ctx(self) -> ExportContext:
        return ExportContext(options=self.options, warn=self.warnings.append,
                             public_only=self.public_only)


def build_festival(db: Session, *, identifier: str = "fete-2024", state: str = "published",
                   privacy: str = "public") -> Festival:
    event = Event(
        identifier=identifier, name=f"Fête {SPECIAL}", description="Three days, one DST change",
        starts_at=berlin(2024, 10, 26, 9), ends_at=berlin(2024, 10, 28, 18),
        timezone="Europe/Berlin", state=state, privacy=privacy,
        external_url="https://fete.example.org/", contact_email="orga@example.org",
    )
    db.add(event)
    db.flush()
    rooms = [
        Microlocation(event_id=event.id, name=f"Saal <1> & Co {SPECIAL}", position=0,
                      latitude=52.5, longitude=13.4),
        Microlocation(event_id=event.id, name=ARABIC, position=1),
        Microlocation(event_id=event.id, name="Empty room", position=2),
    ]
    tracks = [Track(event_id=event.id, name="Security & Privacy", color="#aa0000"),
              Track(event_id=event.id, name="🎉 Fun", color="#00aa00")]
    talk = SessionType(event_id=event.id, name="Talk", length=30)
    workshop = SessionType(event_id=event.id, name="Workshop", length=120)
    db.add_all([*rooms, *tracks, talk, workshop])
    db.flush()
    ada = Speaker(event_id=event.id, name="Ada Lovelace", email="ada@example.org",
                  mobile="+49 30 123456", short_biography="Mathematician & poet",
                  photo_url="https://img.example.org/ada.jpg")
    grace = Speaker(event_id=event.id, name="Grace <Hopper>", email="grace@example.net")
    mo = Speaker(event_id=event.id, name="محمد", email="mo@example.com")
    lonely = Speaker(event_id=event.id, name="Draft Only", email="draft@example.org")
    db.add_all([ada, grace, mo, lonely])
    db.flush()

    def session(key: str, **values: object) -> ProgramSession:
        values.setdefault("state", "accepted")
        row = ProgramSession(event_id=event.id, **values)
        db.add(row)
        db.flush()
        festival.ids[key] = row.id
        festival.numbers[key] = stable_number(row.uuid)
        return row

    festival = Festival(event)
    session("opening", title=f"Opening {SPECIAL}", subtitle="Welcome!",
            short_abstract="Short & sweet", long_abstract="Line one\nLine two; with, commas",
            starts_at=berlin(2024, 10, 26, 10), ends_at=berlin(2024, 10, 26, 10, 30),
            microlocation_id=rooms[0].id, track_id=tracks[0].id, session_type_id=talk.id,
            language="en", speakers=[ada, grace], state="confirmed",
            slides_url="https://slides.example.org/opening.pdf")
    session("overlap", title="Overlapping talk", starts_at=berlin(2024, 10, 26, 10, 15),
            ends_at=berlin(2024, 10, 26, 11), microlocation_id=rooms[0].id,
            track_id=tracks[1].id, speakers=[ada])
    session("midnight", title="Across midnight", starts_at=berlin(2024, 10, 26, 23, 30),
            ends_at=berlin(2024, 10, 27, 0, 30), microlocation_id=rooms[1].id,
            speakers=[grace])
    # 01:30 CEST (+02:00) to 02:30 CET (+01:00), the second 02:30 of the night: 2 hours.
    session("dst", title="Clocks go back", starts_at=berlin(2024, 10, 27, 1, 30),
            ends_at=berlin(2024, 10, 27, 2, 30, fold=1), microlocation_id=rooms[1].id,
            track_id=tracks[0].id)
    session("after_dst", title="Morning after", starts_at=berlin(2024, 10, 27, 10),
            ends_at=berlin(2024, 10, 27, 11), microlocation_id=rooms[0].id)
    session("rtl", title=ARABIC, short_abstract=f"{ARABIC} {SPECIAL}",
            starts_at=berlin(2024, 10, 28, 14), microlocation_id=rooms[1].id,
            session_type_id=workshop.id, speakers=[mo], language="ar")  # end from type
    session("formula", title='=HYPERLINK("http://evil.example/")', short_abstract="+1 call",
            comments="secret organizer note", starts_at=berlin(2024, 10, 28, 9),
            ends_at=berlin(2024, 10, 28, 9, 45), microlocation_id=rooms[0].id,
            speakers=[ada], state="confirmed")
    session("no_room", title="Nowhere", starts_at=berlin(2024, 10, 26, 12),
            ends_at=berlin(2024, 10, 26, 13))
    session("no_time", title="Sometime", microlocation_id=rooms[0].id, state="confirmed")
    session("draft", title="Draft idea", starts_at=berlin(2024, 10, 26, 15),
            ends_at=berlin(2024, 10, 26, 16), microlocation_id=rooms[0].id, state="draft",
            speakers=[lonely], comments="not yet")
    session("rejected", title="Rejected", starts_at=berlin(2024, 10, 26, 15),
            ends_at=berlin(2024, 10, 26, 16), microlocation_id=rooms[1].id,
            state="rejected", speakers=[mo])
    db.commit()
    return festival


@pytest.fixture
def festival(db: Session) -> Festival:
    return build_festival(db)


@pytest.fixture
def snapshot(db: Session, festival: Festival) -> EventSnapshot:
    return take_snapshot(db, festival.event.id)


#: Sessions a schedule shows, and those it must report as unscheduled.
SCHEDULED = ("opening", "overlap", "midnight", "dst", "after_dst", "rtl", "formula")
UNSCHEDULED = ("no_room", "no_time")
