"""Reader of frab/Pentabarf ``schedule.xml`` (frab, pretalx, Pentabarf and friends).

Both layouts are read: the current one (``day/room/event``) and the old Pentabarf one
(``day/event`` with a ``<room>`` child, e.g. FOSDEM 2007). Rooms, tracks and session
types are found by name, persons by their ``id`` attribute (by name when it is absent).
Real files often stray from the schema, so the reader is lenient: what it cannot use
becomes a warning. The parser is defusedxml's: DTDs and entity declarations are refused
outright, so "billion laughs" and external-entity tricks never expand.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET  # only for the Element type and ParseError
import zoneinfo
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from eventport.events.models import SessionState
from eventport.events.resources import EVENT, RESOURCES
from eventport.imports.errors import ImportRefused
from eventport.imports.model import EventData, ItemData, validate_fields

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")
_IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


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


def _duration(value: str) -> dt.timedelta | None:
    parts = value.strip().split(":")
    if not value.strip() or not all(p.isdigit() for p in parts) or len(parts) not in (2, 3):
        return None
    numbers = [int(p) for p in parts]
    return dt.timedelta(hours=numbers[0], minutes=numbers[1],
                        seconds=numbers[2] if len(numbers) == 3 else 0)


def _parse_datetime(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _timezone(conference: ET.Element | None, root: ET.Element, warnings: list[str]) -> str:
    name = _text(conference, "time_zone_name")
    if name:
        try:
            zoneinfo.ZoneInfo(name)
            return name
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            warnings.append(f"schedule.xml: unknown time zone {name!r}")
    stamps = [date.text or "" for date in root.iter("date")]
    stamps += [day.get("start", "") for day in root.iter("day")]
    for stamp in stamps:
        parsed = _parse_datetime(stamp)
        offset = parsed.utcoffset() if parsed else None
        if offset is not None:
            hours, rest = divmod(int(offset.total_seconds()), 3600)
            if rest == 0:
                # Etc/GMT zones have inverted signs: Etc/GMT-2 is UTC+02:00.
                zone = "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"
                warnings.append(f"schedule.xml names no time zone; using {zone} from the "
                                "times' UTC offset")
                return zone
    warnings.append("schedule.xml names no time zone; times are read as UTC")
    return "UTC"


def read_frab_xml(content: bytes) -> EventData:
    root = parse_xml(content)
    if root.tag != "schedule":
        raise ImportRefused(f"not a frab schedule.xml: the root element is <{root.tag}>, "
                            "not <schedule>")
    warnings: list[str] = []
    conference = root.find("conference")
    tz_name = _timezone(conference, root, warnings)
    tz = zoneinfo.ZoneInfo(tz_name)
    day_change = _duration(_text(conference, "day_change")) or dt.timedelta(0)

    rooms: dict[str, ItemData] = {}
    tracks: dict[str, ItemData] = {}
    types: dict[str, ItemData] = {}
    persons: dict[tuple[str, str], ItemData] = {}
    sessions: list[ItemData] = []
    skipped_links = 0

    def named(table: dict[str, ItemData], resource: str, name: str, values: dict[str, Any]
              ) -> int | None:
        if not name:
            return None
        if name not in table:
            where = f"schedule.xml {resource.rstrip('s')} {name!r}"
            table[name] = ItemData(len(table) + 1, where, validate_fields(
                RESOURCES[resource], {"name": name[:200], **values}, where, warnings))
        return table[name].source_id

    def person_id(person: ET.Element) -> int | None:
        name = (person.text or "").strip()
        if not name:
            return None
        # By name, not by id: old Pentabarf files (FOSDEM 2007) number each *appearance*
        # (244 ids for 204 people). Two namesakes in one schedule would merge; that is
        # the lesser evil against one speaker becoming dozens.
        key = ("name", " ".join(name.split()).casefold())
        if key not in persons:
            where = f"schedule.xml person {name!r}"
            persons[key] = ItemData(len(persons) + 1, where, validate_fields(
                RESOURCES["speakers"], {"name": name[:200]}, where, warnings))
        return persons[key].source_id

    used_ids: set[int] = set()
    for day_index, day in enumerate(root.iter("day"), start=1):
        day_date = _parse_date(day.get("date", ""))
        pairs: list[tuple[ET.Element, str]] = []
        for child in day:
            if child.tag == "room":
                room = child.get("name", "").strip()
                pairs.extend((event, room) for event in child.iter("event"))
            elif child.tag == "event":
                pairs.append((child, _text(child, "room")))
        for event, room_name in pairs:
            index = len(sessions) + 1
            title = _text(event, "title")
            where = f"schedule.xml event {event.get('id') or index} ({title or 'untitled'})"
            raw_id = (event.get("id") or "").strip()
            source_id = int(raw_id) if raw_id.isdigit() else 0
            if not raw_id.isdigit() or source_id in used_ids:
                source_id = max(used_ids, default=0) + 1
            used_ids.add(source_id)
            starts = _parse_datetime(_text(event, "date"))
            if starts is None and day_date is not None:
                start = _duration(_text(event, "start"))
                if start is not None:
                    on = day_date + (dt.timedelta(days=1) if start < day_change else dt.timedelta())
                    starts = dt.datetime.combine(on, dt.time()) + start
            if starts is not None and starts.tzinfo is None:
                starts = starts.replace(tzinfo=tz)
            duration = _duration(_text(event, "duration"))
            ends = starts + duration if starts is not None and duration is not None else None
            if starts is None or ends is None:
                warnings.append(f"{where}: no usable date/start/duration; imported unscheduled")
                starts = ends = None
            minutes = max(1, min(24 * 60, int(duration.total_seconds() // 60))) if duration else 30
            links: dict[str, str] = {}
            for link in event.iter("link"):
                href = (link.get("href") or "").strip()
                label = (link.text or "").lower() + " " + href.lower()
                slot = ("video" if re.search(r"video|\.(mp4|webm|ogv|ogg|mkv)\b", label) else
                        "slides" if re.search(r"slide|\.(pdf|odp|pptx?)\b", label) else
                        "audio" if re.search(r"audio|\.(mp3|opus|flac)\b", label) else None)
                if slot and href and slot not in links:
                    links[slot] = href
                elif href:
                    skipped_links += 1
            speakers = {pid for p in event.iter("person") if (pid := person_id(p)) is not None}
            values: dict[str, Any] = {
                "title": title[:500],
                "subtitle": _text(event, "subtitle")[:500],
                "short_abstract": _text(event, "abstract"),
                "long_abstract": _text(event, "description"),
                "language": _text(event, "language")[:35],
                "starts_at": starts,
                "ends_at": ends,
                "state": SessionState.CONFIRMED,
                "microlocation_id": named(rooms, "microlocations", room_name,
                                          {"position": len(rooms)}),
                "track_id": named(tracks, "tracks", _text(event, "track"), {}),
                "session_type_id": named(types, "session-types", _text(event, "type"),
                                         {"length": minutes}),
                "speaker_ids": sorted(speakers),
                **{f"{slot}_url": href for slot, href in links.items()},
            }
            guid = (event.get("guid") or "").strip()
            sessions.append(ItemData(source_id, where, validate_fields(
                RESOURCES["sessions"], values, where, warnings),
                uuid=guid.lower() if _UUID.match(guid) else None))
        del day_index

    if skipped_links:
        warnings.append(f"schedule.xml: {skipped_links} link(s) that are not slides, audio or "
                        "video were left out")
    times: list[dt.datetime] = [s.values["starts_at"] for s in sessions
                                if s.values.get("starts_at")]
    finishes: list[dt.datetime] = [s.values["ends_at"] for s in sessions
                                   if s.values.get("ends_at")]
    start_date = _parse_date(_text(conference, "start"))
    end_date = _parse_date(_text(conference, "end"))
    starts_at = (dt.datetime.combine(start_date, dt.time(), tzinfo=tz) if start_date
                 else min(times, default=None))
    ends_at = (dt.datetime.combine(end_date, dt.time(23, 59), tzinfo=tz) if end_date
               else max(finishes, default=None))
    if starts_at is None or ends_at is None:
        raise ImportRefused("schedule.xml: the conference has no start/end date and no "
                            "scheduled event to take them from")
    starts_at = min([starts_at, *times])
    ends_at = max([ends_at, *finishes])
    title = _text(conference, "title")
    if not title:
        raise ImportRefused("schedule.xml: <conference><title> is missing")
    venue = ", ".join(part for part in (_text(conference, "venue"), _text(conference, "city"))
                      if part)
    event_values = {
        "name": title[:300], "description": _text(conference, "subtitle"),
        "starts_at": starts_at, "ends_at": ends_at, "timezone": tz_name,
        "location_name": venue[:300], "external_url": _text(conference, "base_url"),
    }
    acronym = _text(conference, "acronym").lower()
    data = EventData(
        format="frab-xml",
        event=ItemData(0, "schedule.xml conference",
                       validate_fields(EVENT, event_values, "schedule.xml conference", warnings)),
        identifier=acronym if _IDENTIFIER.match(acronym) else None,
        warnings=warnings,
    )
    data.items["microlocations"] = list(rooms.values())
    data.items["tracks"] = list(tracks.values())
    data.items["session-types"] = list(types.values())
    data.items["speakers"] = list(persons.values())
    data.items["sessions"] = sessions
    data.check_references()
    return data
