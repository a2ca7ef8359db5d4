"""Edge cases on hand-made snapshots (no database: exporters are pure, and this is fast)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import Any

import icalendar
import pytest
from lxml import etree

from eventport.exports.formats.schedule import conference_acronym, parse_states, stable_number
from eventport.exports.registry import get_exporter
from eventport.exports.snapshot import EventSnapshot
from tests.formats.conftest import Recorder
from tests.formats.validators import (
    assert_valid_schedule_json,
    assert_valid_schedule_xml,
    assert_valid_xcal,
)


def snapshot(tz: str = "UTC", identifier: str = "ab", days: int = 2,
             sessions: list[dict[str, Any]] | None = None,
             start: tuple[int, ...] = (2024, 9, 7, 9)) -> EventSnapshot:
    zone = zoneinfo.ZoneInfo(tz)
    first = dt.datetime(*start, tzinfo=zone)  # type: ignore[misc]
    event = {"id": 1, "identifier": identifier, "name": "Edge", "timezone": tz,
             "starts_at": first.isoformat(),
             "ends_at": (first + dt.timedelta(days=days - 1, hours=8)).isoformat(),
             "external_url": "", "logo_url": ""}
    docs = []
    for index, extra in enumerate(sessions or [], 1):
        docs.append({"id": index, "uuid": f"00000000-0000-4000-8000-{index:012d}",
                     "title": f"Session {index}", "state": "accepted",
                     "microlocation_id": 1, "speaker_ids": [], **extra})
    return EventSnapshot(event=event, documents={
        "microlocations": [{"id": 1, "name": "Hall", "position": 0}],
        "tracks": [], "session_types": [], "speakers": [], "sessions": docs})


def render_all(snap: EventSnapshot) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    recorder = Recorder()
    out = {identifier: get_exporter(identifier)().render(snap, recorder.ctx())
           for identifier in ("ical", "xcal", "pentabarf", "frab-json")}
    return out, recorder.warnings


def assert_all_valid(out: dict[str, bytes]) -> None:
    assert_valid_schedule_xml(out["pentabarf"])
    assert_valid_schedule_json(out["frab-json"])
    assert_valid_xcal(out["xcal"])
    icalendar.Calendar.from_ical(out["ical"])


def test_event_without_sessions_is_still_a_valid_schedule() -> None:
    out, warnings = render_all(snapshot(days=3))
    assert_all_valid(out)
    assert warnings == []
    assert len(etree.fromstring(out["pentabarf"]).findall("day")) == 3
    assert icalendar.Calendar.from_ical(out["ical"]).walk("VEVENT") == []


def test_utc_event_is_written_in_utc_without_vtimezone() -> None:
    out, _ = render_all(snapshot(sessions=[{"starts_at": "2024-09-07T10:00:00+00:00",
                                            "ends_at": "2024-09-07T10:30:00+00:00"}]))
    assert_all_valid(out)
    assert b"DTSTART:20240907T100000Z" in out["ical"]
    assert b"VTIMEZONE" not in out["ical"]


def test_midnight_skipping_zone_and_odd_names() -> None:
    """Santiago skips 00:00 on 2024-09-08; an emoji-only title; a short identifier."""
    sessions = [
        {"title": "🎉🎉", "starts_at": "2024-09-08T01:00:00-03:00",
         "ends_at": "2024-09-08T02:30:00-03:00"},
        {"title": "Bad\x00control\x0bchars", "uuid": "not-a-uuid",
         "starts_at": "2024-09-07T23:00:00-04:00", "ends_at": "2024-09-08T01:00:00-03:00"},
    ]
    out, _ = render_all(snapshot("America/Santiago", sessions=sessions, days=3))
    assert_all_valid(out)
    root = etree.fromstring(out["pentabarf"])
    day2 = root.findall("day")[1]
    assert day2.get("start") == "2024-09-08T01:00:00-03:00"
    events = {e.get("id"): e for e in root.iter("event")}
    first = str(stable_number("00000000-0000-4000-8000-000000000001"))  # ids come from uuids
    assert events[first].findtext("slug") == f"ab__-{first}-session"
    assert events["2"].findtext("title") == "Badcontrolchars"
    assert events["2"].findtext("duration") == "01:00"  # 23:00-04 to 01:00-03 is one hour
    assert conference_acronym("ab") == "ab__"


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "Etc/GMT+1", "America/Argentina/Buenos_Aires"])
def test_zones_without_dst_or_with_unusual_names(tz: str) -> None:
    zone = zoneinfo.ZoneInfo(tz)
    start = dt.datetime(2024, 9, 7, 10, tzinfo=zone)
    out, _ = render_all(snapshot(tz, sessions=[{
        "starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(hours=1)).isoformat()}]))
    assert_all_valid(out)
    entry = icalendar.Calendar.from_ical(out["ical"]).walk("VEVENT")[0]
    assert entry.decoded("dtstart").astimezone(dt.UTC) == start.astimezone(dt.UTC)
    conference = json.loads(out["frab-json"])["schedule"]["conference"]
    assert ("time_zone_name" in conference) == (tz != "Etc/GMT+1")


def test_bad_times_are_warned_and_left_out() -> None:
    out, warnings = render_all(snapshot(sessions=[
        {"starts_at": "2024-09-07T10:00:00+00:00", "ends_at": "2024-09-07T09:00:00+00:00"},
        {"starts_at": "2024-09-07T10:00:00+00:00"},  # no end, no session type
        {"starts_at": "2024-09-07T10:00:00+00:00", "ends_at": "2024-09-07T11:00:00+00:00",
         "microlocation_id": 99},
    ]))
    assert_all_valid(out)
    reasons = {w["session_id"]: w["reason"] for w in warnings if w["type"] ==
               "unscheduled_session"}
    assert reasons == {1: "ends before it starts", 2: "no end time", 3: "no room"}


def test_states_option_parsing() -> None:
    assert parse_states({"states": "Accepted, draft"}) == {"accepted", "draft"}
    assert parse_states({}) == {"accepted", "confirmed"}
    with pytest.raises(ValueError):
        parse_states({"states": 3})


def test_exporters_normalize_their_options() -> None:
    csv_exporter = get_exporter("sessions-csv")
    assert csv_exporter.normalize_options(  # type: ignore[attr-defined]
        {"states": "confirmed,accepted", "bom": True}) == {
        "states": ["accepted", "confirmed"], "bom": True}
    assert csv_exporter.normalize_options({"bom": False}) == {}  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        csv_exporter.normalize_options({"bom": "yes"})  # type: ignore[attr-defined]
    ical = get_exporter("ical")
    assert ical.normalize_options({"bom": True}) == {}  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        ical.normalize_options({"states": ["nope"]})  # type: ignore[attr-defined]
