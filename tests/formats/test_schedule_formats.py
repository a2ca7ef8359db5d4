"""Every schedule format of the test festival, judged by schemas and parsed back.

Each test runs on SQLite and PostgreSQL (the ``db`` fixture): the snapshot is read from
the database, so time zones and ordering come back the way production sees them.
"""

from __future__ import annotations

import datetime as dt
import json

import icalendar
import pytest
from lxml import etree

from eventport.exports.formats.xcal import XCAL_NS
from eventport.exports.registry import exporters, get_exporter
from eventport.exports.snapshot import EventSnapshot
from tests.formats.conftest import (
    ARABIC,
    SCHEDULED,
    SPECIAL,
    UNSCHEDULED,
    Festival,
    Recorder,
)
from tests.formats.validators import (
    assert_valid_schedule_json,
    assert_valid_schedule_xml,
    assert_valid_xcal,
)

UTC = dt.UTC
SCHEDULE_FORMATS = ("ical", "xcal", "pentabarf", "frab-json")


def render(snapshot: EventSnapshot, identifier: str, **kwargs: object) -> tuple[bytes, Recorder]:
    recorder = Recorder(**kwargs)  # type: ignore[arg-type]
    return get_exporter(identifier)().render(snapshot, recorder.ctx()), recorder


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize("identifier", SCHEDULE_FORMATS)
def test_schedule_formats_leave_out_unscheduled_and_private(
        snapshot: EventSnapshot, festival: Festival, identifier: str) -> None:
    data, recorder = render(snapshot, identifier)
    assert sorted(w["session_id"] for w in recorder.warnings) == sorted(
        festival.ids[k] for k in UNSCHEDULED)  # warnings name the database id
    assert {w["type"] for w in recorder.warnings} == {"unscheduled_session"}
    text = data.decode("utf-8")
    for email in festival.emails:
        assert email not in text
    for private in ("+49 30 123456", "secret organizer note", "Draft idea", "Rejected"):
        assert private not in text
    # Deterministic: the archive's SHA-256 depends on the data only.
    assert render(snapshot, identifier)[0] == data


def test_pentabarf_is_valid_and_right(snapshot: EventSnapshot, festival: Festival) -> None:
    data, _ = render(snapshot, "pentabarf")
    assert_valid_schedule_xml(data)
    root = etree.fromstring(data)
    events = root.findall("day/room/event")
    assert sorted(int(e.get("id")) for e in events) == sorted(
        festival.numbers[k] for k in SCHEDULED)
    days = root.findall("day")
    assert [d.get("date") for d in days] == ["2024-10-26", "2024-10-27", "2024-10-28"]
    # The DST day lasts 25 hours: midnight CEST to midnight CET.
    assert (days[1].get("start"), days[1].get("end")) == (
        "2024-10-27T00:00:00+02:00", "2024-10-28T00:00:00+01:00")
    # Day 1 ends with the session that runs past midnight.
    assert days[0].get("end") == "2024-10-27T00:30:00+02:00"
    by_id = {int(e.get("id")): e for e in events}
    dst = by_id[festival.numbers["dst"]]
    assert (dst.findtext("date"), dst.findtext("start"), dst.findtext("duration")) == (
        "2024-10-27T01:30:00+02:00", "01:30", "02:00")
    midnight = by_id[festival.numbers["midnight"]]
    assert midnight.getparent().getparent().get("date") == "2024-10-26"
    assert midnight.findtext("duration") == "01:00"
    rtl = by_id[festival.numbers["rtl"]]
    assert (rtl.findtext("title"), rtl.findtext("duration"), rtl.findtext("type")) == (
        ARABIC, "02:00", "Workshop")
    assert rtl.getparent().get("name") == ARABIC
    opening = by_id[festival.numbers["opening"]]
    assert opening.findtext("title") == f"Opening {SPECIAL}"
    assert opening.findtext("description") == "Line one\nLine two; with, commas"
    assert [p.text for p in opening.findall("persons/person")] == [
        "Ada Lovelace", "Grace <Hopper>"]
    assert opening.find("links/link").get("href") == "https://slides.example.org/opening.pdf"
    # Overlapping sessions in one room are both there.
    room = opening.getparent()
    assert festival.numbers["overlap"] in [int(e.get("id")) for e in room.findall("event")]
    # Every room with sessions on every day; the room without sessions nowhere.
    assert all(len(d.findall("room")) == 2 for d in days)
    assert root.findtext("conference/acronym") == "fete_2024"
    assert root.findtext("conference/time_zone_name") == "Europe/Berlin"


def test_frab_json_is_valid_and_agrees_with_xml(snapshot: EventSnapshot,
                                                festival: Festival) -> None:
    data, _ = render(snapshot, "frab-json")
    assert_valid_schedule_json(data)
    conference = json.loads(data)["schedule"]["conference"]
    events = [e for day in conference["days"] for room in day["rooms"].values() for e in room]
    assert sorted(e["id"] for e in events) == sorted(festival.numbers[k] for k in SCHEDULED)
    dst = next(e for e in events if e["id"] == festival.numbers["dst"])
    assert (dst["date"], dst["end"], dst["duration"]) == (
        "2024-10-27T01:30:00+02:00", "2024-10-27T02:30:00+01:00", "02:00")
    assert conference["daysCount"] == 3
    assert conference["days"][1]["day_end"] == "2024-10-28T00:00:00+01:00"
    opening = next(e for e in events if e["id"] == festival.numbers["opening"])
    assert opening["title"] == f"Opening {SPECIAL}"
    assert [p["name"] for p in opening["persons"]] == ["Ada Lovelace", "Grace <Hopper>"]
    assert opening["url"] == "https://fete.example.org/"
    # The same schedule version and GUIDs as the XML.
    xml = etree.fromstring(render(snapshot, "pentabarf")[0])
    assert json.loads(data)["schedule"]["version"] == xml.findtext("version")
    assert {e["guid"] for e in events} == {e.get("guid") for e in xml.iter("event")}


def test_ical_parses_back_with_dst_and_escaping(snapshot: EventSnapshot,
                                                festival: Festival) -> None:
    data, _ = render(snapshot, "ical")
    calendar = icalendar.Calendar.from_ical(data)
    entries = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    uids = {doc["id"]: doc["uuid"] for doc in snapshot.documents["sessions"]}
    assert set(entries) == {uids[festival.ids[k]] for k in SCHEDULED}
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]

    dst = entries[uids[festival.ids["dst"]]]
    start, end = dst.decoded("dtstart"), dst.decoded("dtend")
    assert start.astimezone(UTC) == utc(2024, 10, 26, 23, 30)
    assert end.astimezone(UTC) == utc(2024, 10, 27, 1, 30)  # the *second* 02:30
    assert end - start == dt.timedelta(hours=2) or (
        end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(hours=2))
    raw = data.decode("utf-8").replace("\r\n ", "")  # unfold
    assert "DTSTART;TZID=Europe/Berlin:20241027T013000" in raw
    assert "DTEND:20241027T013000Z" in raw  # ambiguous local time written in UTC

    after = entries[uids[festival.ids["after_dst"]]]
    assert after.decoded("dtstart").astimezone(UTC) == utc(2024, 10, 27, 9)  # CET now

    opening = entries[uids[festival.ids["opening"]]]
    assert str(opening["summary"]) == f"Opening {SPECIAL}"
    assert str(opening["location"]) == f"Saal <1> & Co {SPECIAL}"
    assert "Line two\\; with\\, commas" in raw
    assert "Line one\nLine two; with, commas" in str(opening["description"])
    assert "Speakers: Ada Lovelace, Grace <Hopper>" in str(opening["description"])
    assert [str(c) for c in opening["categories"].cats] == ["Security & Privacy"]
    assert str(opening["url"]) == "https://fete.example.org/"
    assert opening.decoded("geo") is not None
    assert str(entries[uids[festival.ids["rtl"]]]["summary"]) == ARABIC
    assert "ATTENDEE" not in raw and "ORGANIZER" not in raw


def test_xcal_is_valid_and_matches_ical(snapshot: EventSnapshot, festival: Festival) -> None:
    data, _ = render(snapshot, "xcal")
    assert_valid_xcal(data)
    ns = {"x": XCAL_NS}
    root = etree.fromstring(data)
    events = root.findall("x:vcalendar/x:components/x:vevent", ns)
    assert len(events) == len(SCHEDULED)
    uids = {doc["id"]: doc["uuid"] for doc in snapshot.documents["sessions"]}
    by_uid = {e.findtext("x:properties/x:uid/x:text", namespaces=ns): e for e in events}
    dst = by_uid[uids[festival.ids["dst"]]]
    assert dst.findtext("x:properties/x:dtstart/x:parameters/x:tzid/x:text",
                        namespaces=ns) == "Europe/Berlin"
    assert dst.findtext("x:properties/x:dtstart/x:date-time",
                        namespaces=ns) == "2024-10-27T01:30:00"
    assert dst.findtext("x:properties/x:dtend/x:date-time",
                        namespaces=ns) == "2024-10-27T01:30:00Z"
    opening = by_uid[uids[festival.ids["opening"]]]
    assert opening.findtext("x:properties/x:summary/x:text",
                            namespaces=ns) == f"Opening {SPECIAL}"
    assert opening.findtext("x:properties/x:geo/x:latitude", namespaces=ns) == "52.5"
    assert root.find("x:vcalendar/x:components/x:vtimezone", ns) is not None


def test_states_option_widens_an_organizers_schedule(snapshot: EventSnapshot,
                                                     festival: Festival) -> None:
    data, _ = render(snapshot, "frab-json", options={"states": ["accepted", "draft"]})
    assert_valid_schedule_json(data)
    ids = {e["id"] for day in json.loads(data)["schedule"]["conference"]["days"]
           for room in day["rooms"].values() for e in room}
    assert festival.numbers["draft"] in ids and festival.numbers["opening"] not in ids  # confirmed
    # A public feed never shows more than accepted/confirmed, whatever it is asked.
    public, _ = render(snapshot, "frab-json", options={"states": ["draft"]}, public_only=True)
    assert json.loads(public)["schedule"]["conference"]["rooms"] == []


def test_registry_lists_every_format() -> None:
    described = {cls.identifier: cls.describe() for cls in exporters().values()}
    expected = {"ical": ("ics", "text/calendar", True),
                "xcal": ("xcs", "application/calendar+xml", True),
                "pentabarf": ("xml", "application/xml", True),
                "frab-json": ("json", "application/json", True),
                "sessions-csv": ("csv", "text/csv", False),
                "speakers-csv": ("csv", "text/csv", False)}
    for identifier, (extension, content_type, public) in expected.items():
        entry = described[identifier]
        assert (entry["extension"], entry["content_type"], entry["public"]) == (
            extension, content_type, public)
