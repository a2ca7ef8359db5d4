"""Reader of frab's and pretalx's ``schedule.json`` (c3voc's JSON schema), leniently.

Real files do not all pass the schema (pretalx has written two rooms with one guid,
``null`` where strings belong, persons with ``public_name`` instead of ``name``), so the
reader takes what it can use and says what it left out. The JSON is parsed into the
same :class:`~eventport.imports.readers.frab.Conference` as ``schedule.xml``; the
mapping to an event and the identity rules are theirs in common.
"""

from __future__ import annotations

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
    known_zone,
    parse_date,
    parse_datetime,
    to_event_data,
    zone_from_offsets,
)

FILE = "schedule.json"


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


def _talk(raw: dict[str, Any], room: str, index: int, tz: zoneinfo.ZoneInfo) -> Talk:
    title = _str(raw.get("title"))
    start = parse_datetime(_str(raw.get("date")))
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=tz)
    return Talk(
        where=f"{FILE} event {_str(raw.get('id')) or index} ({title or 'untitled'})",
        id=_str(raw.get("id")), guid=_str(raw.get("guid")), title=title, start=start,
        duration=duration(_str(raw.get("duration"))), room=_str(raw.get("room")) or room,
        values={"subtitle": _str(raw.get("subtitle"))[:500],
                "short_abstract": _str(raw.get("abstract")),
                "long_abstract": _str(raw.get("description")),
                "language": _str(raw.get("language"))[:35]},
        track=_str(raw.get("track")), type=_str(raw.get("type")),
        persons=[_person(p) for p in raw.get("persons") or []], links=_links(raw),
    )


def _talks(conference: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found: list[tuple[dict[str, Any], str]] = []
    for day in conference.get("days") or []:
        rooms = day.get("rooms") if isinstance(day, dict) else None
        for room, talks in (rooms or {}).items():
            found.extend((talk, room) for talk in talks or [] if isinstance(talk, dict))
    return found


def _conference(content: bytes) -> dict[str, Any]:
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{FILE} is not valid JSON: {exc}") from None
    conference = (document.get("schedule") or {}).get("conference") if isinstance(
        document, dict) else None
    if not isinstance(conference, dict):
        raise ImportRefused(f"not a frab {FILE}: there is no schedule.conference object")
    return conference


def read_frab_json(content: bytes) -> EventData:
    conference = _conference(content)
    warnings: list[str] = []
    talks = _talks(conference)
    stamps = [_str(talk.get("date")) for talk, _ in talks]
    tz_name = (known_zone(_str(conference.get("time_zone_name")), FILE, warnings)
               or zone_from_offsets(stamps, FILE, warnings))
    tz = zoneinfo.ZoneInfo(tz_name)
    rooms = [r for r in conference.get("rooms") or [] if isinstance(r, dict)]
    conf = Conference(
        file=FILE, title=_str(conference.get("title")), acronym=_str(conference.get("acronym")),
        tz_name=tz_name, start=parse_date(_str(conference.get("start"))),
        end=parse_date(_str(conference.get("end"))),
        values={"external_url": _str(conference.get("url") or conference.get("base_url"))},
        room_guids={_str(r.get("name")): _str(r.get("guid")) for r in rooms if r.get("guid")},
        warnings=warnings,
    )
    conf.talks = [_talk(talk, room, index, tz) for index, (talk, room) in
                  enumerate(talks, start=1)]
    return to_event_data(conf, "frab-json")
