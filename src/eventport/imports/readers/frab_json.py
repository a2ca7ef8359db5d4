"""Reader of frab's and pretalx's ``schedule.json`` (c3voc's JSON schema), leniently.

Real files do not all pass the schema (pretalx has written two rooms with one guid,
``null`` where strings belong, persons with ``public_name`` instead of ``name``), so the
reader takes what it can use and says what it left out. The JSON is parsed into the
same :class:`~eventport.imports.readers.frab.Conference` as ``schedule.xml``; the
mapping to an event and the identity rules are theirs in common.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import Any

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

FILE = "schedule.json"


def _name(value: Any) -> str:
    """A room or track: a string, or (schedule2) an object with a name or slug."""
    if isinstance(value, dict):
        return _str(value.get("name") or value.get("slug"))
    return _str(value)


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value) if isinstance(
        value, int | float) and not isinstance(value, bool) else ""


def _person(raw: Any) -> Person:
    raw = raw if isinstance(raw, dict) else {}
    return Person(name=_str(raw.get("public_name") or raw.get("name")),
                  id=_str(raw.get("id") or raw.get("code")), guid=_str(raw.get("guid")),
                  biography=_str(raw.get("biography")))


def _links(raw: dict[str, Any]) -> list[tuple[str, str]]:
    links = []
    for entry in [*(raw.get("links") or []), *(raw.get("attachments") or [])]:
        if isinstance(entry, dict):
            links.append((_str(entry.get("url") or entry.get("href")), _str(entry.get("title"))))
    return links


def _times(raw: dict[str, Any], tz: zoneinfo.ZoneInfo
           ) -> tuple[dt.datetime | None, dt.timedelta | None]:
    """``date`` + ``duration`` (schema 1) or ``start`` + ``end`` (schedule2)."""
    start = parse_datetime(_str(raw.get("date"))) or parse_datetime(_str(raw.get("start")))
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=tz)
    length = duration(_str(raw.get("duration")))
    end = parse_datetime(_str(raw.get("end")))
    if length is None and start is not None and end is not None:
        length = (end if end.tzinfo else end.replace(tzinfo=tz)) - start
    return start, length


def _talk(raw: dict[str, Any], room: str, index: int, tz: zoneinfo.ZoneInfo) -> Talk:
    title = _str(raw.get("title"))
    start, length = _times(raw, tz)
    return Talk(
        where=f"{FILE} event {_str(raw.get('id')) or index} ({title or 'untitled'})",
        id=_str(raw.get("id") or raw.get("code")), guid=_str(raw.get("guid")), title=title,
        start=start, duration=length, room=_name(raw.get("room")) or room,
        values={"subtitle": _str(raw.get("subtitle"))[:500],
                "short_abstract": _str(raw.get("abstract")),
                "long_abstract": _str(raw.get("description")),
                "language": _str(raw.get("language"))[:35]},
        track=_name(raw.get("track")), type=_str(raw.get("type")),
        persons=[_person(p) for p in raw.get("persons") or raw.get("participants") or []],
        links=_links(raw),
    )


def _talks(schedule: dict[str, Any], conference: dict[str, Any]
           ) -> list[tuple[dict[str, Any], str]]:
    """Talks under days/rooms (schema 1) and in the flat ``events`` list (schedule2)."""
    found: list[tuple[dict[str, Any], str]] = [
        (talk, "") for talk in schedule.get("events") or [] if isinstance(talk, dict)]
    for day in conference.get("days") or []:
        rooms = day.get("rooms") if isinstance(day, dict) else None
        for room, talks in (rooms or {}).items():
            found.extend((talk, room) for talk in talks or [] if isinstance(talk, dict))
    return found


def _schedule(content: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{FILE} is not valid JSON: {exc}") from None
    schedule = document.get("schedule") if isinstance(document, dict) else None
    conference = schedule.get("conference") if isinstance(schedule, dict) else None
    if not isinstance(schedule, dict) or not isinstance(conference, dict):
        raise ImportRefused(f"not a frab {FILE}: there is no schedule.conference object")
    return schedule, conference


def probe_frab_json(content: bytes) -> str:
    """The event uuid the reader would derive (from the conference's acronym or title)."""
    _, conference = _schedule(content)
    return event_uuid(_str(conference.get("acronym")), _str(conference.get("title")))


def read_frab_json(content: bytes, zone: str | None = None) -> EventData:
    """``zone``: the zone of bare local times when the file names none."""
    schedule, conference = _schedule(content)
    warnings: list[str] = []
    talks = _talks(schedule, conference)
    stamps = [_str(talk.get("date") or talk.get("start")) for talk, _ in talks]
    tz_name = pick_zone(_str(conference.get("time_zone_name")), zone, stamps, FILE, warnings)
    tz = zoneinfo.ZoneInfo(tz_name)
    rooms = [r for r in conference.get("rooms") or [] if isinstance(r, dict)]
    conf = Conference(
        file=FILE, title=_str(conference.get("title")), acronym=_str(conference.get("acronym")),
        tz_name=tz_name, start=parse_date(_str(conference.get("start"))),
        end=parse_date(_str(conference.get("end"))),
        values={"external_url": _str(conference.get("url") or conference.get("base_url"))},
        room_guids={_str(r.get("name")): _str(r.get("guid")) for r in rooms if r.get("guid")},
        rooms=[_str(r.get("name")) for r in rooms if _str(r.get("name"))],
        warnings=warnings,
    )
    conf.talks = [_talk(talk, room, index, tz) for index, (talk, room) in
                  enumerate(talks, start=1)]
    return to_event_data(conf, "frab-json")
