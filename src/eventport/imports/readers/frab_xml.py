"""Reader of frab/Pentabarf ``schedule.xml`` (frab, pretalx, Pentabarf and friends).

Both layouts are read: the current one (``day/room/event``) and the old Pentabarf one
(``day/event`` with a ``<room>`` child, e.g. FOSDEM 2007). The XML is parsed into the
:class:`~eventport.imports.readers.frab.Conference` the JSON reader also produces; the
mapping to an event (and the identity rules) is theirs in common.
Real files often stray from the schema, so the reader is lenient: what it cannot use
becomes a warning. The parser is defusedxml's: DTDs and entity declarations are refused
outright, so "billion laughs" and external-entity tricks never expand.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET  # only for the Element type and ParseError
import zoneinfo

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData
from eventport.imports.readers.frab import (
    Conference,
    Person,
    Talk,
    duration,
    event_uuid,
    parse_date,
    parse_datetime,
    pick_zone,
    to_event_data,
)


def parse_xml(data: bytes) -> ET.Element:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ImportRefused(f"schedule.xml declares a DTD or entities, which are refused "
                            f"({type(exc).__name__})") from None
    except ET.ParseError as exc:
        raise ImportRefused(f"schedule.xml is not well-formed XML: {exc}") from None
    return root  # type: ignore[no-any-return]


def _text(el: ET.Element | None, tag: str) -> str:
    if el is None:
        return ""
    child = el.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _start(event: ET.Element, day_date: dt.date | None, day_change: dt.timedelta,
           tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    starts = parse_datetime(_text(event, "date"))
    if starts is None and day_date is not None:
        start = duration(_text(event, "start"))
        if start is not None:
            on = day_date + (dt.timedelta(days=1) if start < day_change else dt.timedelta())
            starts = dt.datetime.combine(on, dt.time()) + start
    if starts is not None and starts.tzinfo is None:
        starts = starts.replace(tzinfo=tz)
    return starts


def _person(person: ET.Element) -> Person:
    return Person(name=(person.text or "").strip(), id=(person.get("id") or "").strip(),
                  guid=(person.get("guid") or "").strip())


def _talk(event: ET.Element, room: str, index: int, start: dt.datetime | None) -> Talk:
    title = _text(event, "title")
    return Talk(
        where=f"schedule.xml event {event.get('id') or index} ({title or 'untitled'})",
        id=(event.get("id") or "").strip(), guid=(event.get("guid") or "").strip(),
        title=title, start=start, duration=duration(_text(event, "duration")), room=room,
        values={"subtitle": _text(event, "subtitle")[:500],
                "short_abstract": _text(event, "abstract"),
                "long_abstract": _text(event, "description"),
                "language": _text(event, "language")[:35]},
        track=_text(event, "track"), type=_text(event, "type"),
        persons=[_person(p) for p in event.iter("person")],
        links=[((link.get("href") or "").strip(), link.text or "")
               for link in event.iter("link")],
    )


def _events(root: ET.Element) -> list[tuple[ET.Element, ET.Element, str]]:
    """(day, event, room name) in file order, for both layouts."""
    found: list[tuple[ET.Element, ET.Element, str]] = []
    for day in root.iter("day"):
        for child in day:
            if child.tag == "room":
                room = child.get("name", "").strip()
                found.extend((day, event, room) for event in child.iter("event"))
            elif child.tag == "event":
                found.append((day, child, _text(child, "room")))
    return found


def _schedule(content: bytes) -> ET.Element:
    root = parse_xml(content)
    if root.tag != "schedule":
        raise ImportRefused(f"not a frab schedule.xml: the root element is <{root.tag}>, "
                            "not <schedule>")
    return root


def probe_frab_xml(content: bytes) -> str:
    """The event uuid the reader would derive (from the conference's acronym or title)."""
    conference = _schedule(content).find("conference")
    return event_uuid(_text(conference, "acronym"), _text(conference, "title"))


def read_frab_xml(content: bytes, zone: str | None = None) -> EventData:
    """``zone``: the zone of bare local times when the file names none."""
    root = _schedule(content)
    warnings: list[str] = []
    conference = root.find("conference")
    stamps = [date.text or "" for date in root.iter("date")]
    stamps += [day.get("start", "") for day in root.iter("day")]
    tz_name = pick_zone(_text(conference, "time_zone_name"), zone, stamps, "schedule.xml",
                        warnings)
    tz = zoneinfo.ZoneInfo(tz_name)
    day_change = duration(_text(conference, "day_change")) or dt.timedelta(0)
    venue = ", ".join(part for part in (_text(conference, "venue"), _text(conference, "city"))
                      if part)
    conf = Conference(
        file="schedule.xml", title=_text(conference, "title"),
        acronym=_text(conference, "acronym"), tz_name=tz_name,
        start=parse_date(_text(conference, "start")), end=parse_date(_text(conference, "end")),
        values={"description": _text(conference, "subtitle"), "location_name": venue[:300],
                "external_url": _text(conference, "base_url")},
        warnings=warnings,
        room_guids={room.get("name", "").strip(): (room.get("guid") or "").strip()
                    for room in root.iter("room") if room.get("guid")},
        rooms=list(dict.fromkeys(name for room in root.iter("room")
                                 if (name := room.get("name", "").strip()))),
    )
    for index, (day, event, room) in enumerate(_events(root), start=1):
        start = _start(event, parse_date(day.get("date", "")), day_change, tz)
        conf.talks.append(_talk(event, room, index, start))
    return to_event_data(conf, "frab-xml")
