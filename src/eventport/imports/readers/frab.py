"""What frab's ``schedule.xml`` and ``schedule.json`` share, and their one mapping to
:class:`EventData`: the XML and JSON readers parse into :class:`Conference`, then one
mapper per resource plus one loop over the talks builds the event.

Identity (docs/DESIGN.md *Identity*): a talk's, room's or person's ``guid`` is its uuid; else
the uuid is derived from the conference and the source's id (the same for the XML and
the JSON of one conference, so either can update an event made from the other). People
are who the source says: a person with an id (or guid) is one speaker, two ids are two
speakers whatever their names. Only persons without any id are matched — by exact
name — and each such merge is named in the warnings (the dry run shows them).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from eventport.events.models import SessionState
from eventport.events.resources import EVENT, RESOURCES
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData, ItemData, validate_fields
from eventport.naming import derived_uuid, is_uuid, normal_uuid

_IDENTIFIER = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
#: Namespace of derived uuids: the same for frab XML and JSON of one conference.
SOURCE = "frab"


@dataclass
class Person:
    name: str
    id: str = ""  # the source's id (or pretalx code); "" when it gives none
    guid: str = ""
    biography: str = ""


@dataclass
class Talk:
    where: str
    id: str
    guid: str
    title: str
    start: dt.datetime | None
    duration: dt.timedelta | None
    room: str
    values: dict[str, str] = field(default_factory=dict)  # subtitle, abstract, …
    track: str = ""
    type: str = ""
    persons: list[Person] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (href, title)


@dataclass
class Conference:
    file: str  # "schedule.xml" / "schedule.json", for messages
    title: str
    acronym: str
    tz_name: str
    start: dt.date | None
    end: dt.date | None
    values: dict[str, str] = field(default_factory=dict)  # description, venue, url
    talks: list[Talk] = field(default_factory=list)
    room_guids: dict[str, str] = field(default_factory=dict)  # room name -> guid
    rooms: list[str] = field(default_factory=list)  # every room the file names, in order
    warnings: list[str] = field(default_factory=list)


def duration(value: str) -> dt.timedelta | None:
    """``HH:MM`` or ``HH:MM:SS``; None for anything else."""
    parts = value.strip().split(":")
    if not value.strip() or not all(p.isdigit() for p in parts) or len(parts) not in (2, 3):
        return None
    numbers = [int(p) for p in parts]
    return dt.timedelta(hours=numbers[0], minutes=numbers[1],
                        seconds=numbers[2] if len(numbers) == 3 else 0)


def parse_datetime(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def known_zone(name: str, file: str, warnings: list[str]) -> str | None:
    if not name:
        return None
    try:
        zoneinfo.ZoneInfo(name)
        return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        warnings.append(f"{file}: unknown time zone {name!r}")
        return None


def pick_zone(stated: str, given: str | None, stamps: list[str], file: str,
              warnings: list[str]) -> str:
    """The conference's zone: the one the file names wins (with a warning when another
    was given); else the ``timezone`` option (or the updated event's zone); else one
    from the times' UTC offset."""
    named = known_zone(stated, file, warnings)
    if named:
        if given and given != named:
            warnings.append(f"{file} names its time zone, {named}; it wins over {given}")
        return named
    return given or zone_from_offsets(stamps, file, warnings)


def zone_from_offsets(stamps: list[str], file: str, warnings: list[str]) -> str:
    """A zone from the times' UTC offset, when the file names none."""
    for stamp in stamps:
        parsed = parse_datetime(stamp)
        offset = parsed.utcoffset() if parsed else None
        if offset is not None:
            hours, rest = divmod(int(offset.total_seconds()), 3600)
            if rest == 0:
                # Etc/GMT zones have inverted signs: Etc/GMT-2 is UTC+02:00.
                zone = "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"
                warnings.append(f"{file} names no time zone; using {zone} from the "
                                "times' UTC offset")
                return zone
    warnings.append(f"{file} names no time zone; times are read as UTC")
    return "UTC"


def event_uuid(acronym: str, title: str) -> str:
    """The event's uuid, derived from the conference alone: what the 409 probe of a
    ``create`` import compares, without reading a single talk."""
    return derived_uuid(SOURCE, acronym or title, "event")


class _Builder:
    """The loop's state: one table per resource, keyed by the source's identity."""

    def __init__(self, conf: Conference) -> None:
        self.conf = conf
        self.key = conf.acronym or conf.title
        self.warnings = conf.warnings
        self.tables: dict[str, dict[Any, ItemData]] = {
            name: {} for name in ("microlocations", "tracks", "session-types", "speakers")}
        self.sessions: list[ItemData] = []
        self.name_merges: Counter[str] = Counter()
        self.skipped_links = 0

    def _uuid(self, kind: str, guid: str, source_id: object) -> str:
        return normal_uuid(guid) if is_uuid(guid) else derived_uuid(SOURCE, self.key, kind,
                                                                    source_id)

    def named(self, resource: str, name: str, values: dict[str, Any],
              guid: str = "") -> int | None:
        """Rooms, tracks and session types: by name (their guid, when unique, is the uuid)."""
        table = self.tables[resource]
        if not name:
            return None
        if name not in table:
            where = f"{self.conf.file} {resource.rstrip('s')} {name!r}"
            table[name] = ItemData(len(table) + 1, where, validate_fields(
                RESOURCES[resource], {"name": name[:200], **values}, where, self.warnings),
                uuid=self._uuid(resource, guid, name))
        return table[name].source_id

    def person(self, person: Person) -> int | None:
        name = " ".join(person.name.split())
        if not name:
            return None
        ident = person.guid or person.id
        key = ("id", ident) if ident else ("name", name)
        table = self.tables["speakers"]
        if key in table:
            if not ident:
                self.name_merges[name] += 1
            return table[key].source_id
        where = f"{self.conf.file} person {name!r}" + (f" (id {ident})" if ident else "")
        values = {"name": name[:200], "short_biography": person.biography}
        table[key] = ItemData(len(table) + 1, where, validate_fields(
            RESOURCES["speakers"], values, where, self.warnings),
            uuid=self._uuid("speakers", person.guid, ident or f"name:{name}"))
        return table[key].source_id

    def links(self, talk: Talk) -> dict[str, str]:
        found: dict[str, str] = {}
        for href, title in talk.links:
            label = f"{title.lower()} {href.lower()}"
            slot = ("video" if re.search(r"video|\.(mp4|webm|ogv|ogg|mkv)\b", label) else
                    "slides" if re.search(r"slide|\.(pdf|odp|pptx?)\b", label) else
                    "audio" if re.search(r"audio|\.(mp3|opus|flac)\b", label) else None)
            if slot and href and slot not in found:
                found[f"{slot}_url"] = href
            elif href:
                self.skipped_links += 1
        return found

    def session(self, talk: Talk, source_id: int) -> ItemData:
        start, length = talk.start, talk.duration
        if start is None or length is None:
            self.warnings.append(f"{talk.where}: no usable date/start/duration; imported "
                                 "unscheduled")
            start = None
        minutes = max(1, min(24 * 60, int(length.total_seconds() // 60))) if length else 30
        values: dict[str, Any] = {
            "title": talk.title[:500], **talk.values,
            "starts_at": start, "ends_at": start + length if start and length else None,
            "state": SessionState.CONFIRMED,
            "microlocation_id": self.named("microlocations", talk.room,
                                           {"position": len(self.tables["microlocations"])},
                                           self.conf.room_guids.get(talk.room, "")),
            "track_id": self.named("tracks", talk.track, {}),
            "session_type_id": self.named("session-types", talk.type, {"length": minutes}),
            "speaker_ids": sorted({pid for p in talk.persons
                                   if (pid := self.person(p)) is not None}),
            **self.links(talk),
        }
        return ItemData(source_id, talk.where, validate_fields(
            RESOURCES["sessions"], values, talk.where, self.warnings),
            uuid=self._uuid("sessions", talk.guid, talk.id or source_id))


def _event_values(conf: Conference, sessions: list[ItemData]) -> dict[str, Any]:
    tz = zoneinfo.ZoneInfo(conf.tz_name)
    times = [s.values["starts_at"] for s in sessions if s.values.get("starts_at")]
    finishes = [s.values["ends_at"] for s in sessions if s.values.get("ends_at")]
    starts_at = (dt.datetime.combine(conf.start, dt.time(), tzinfo=tz) if conf.start
                 else min(times, default=None))
    ends_at = (dt.datetime.combine(conf.end, dt.time(23, 59), tzinfo=tz) if conf.end
               else max(finishes, default=None))
    if starts_at is None or ends_at is None:
        raise ImportRefused(f"{conf.file}: the conference has no start/end date and no "
                            "scheduled event to take them from")
    if not conf.title:
        raise ImportRefused(f"{conf.file}: the conference has no title")
    return {"name": conf.title[:300], "starts_at": min([starts_at, *times]),
            "ends_at": max([ends_at, *finishes]), "timezone": conf.tz_name, **conf.values}


def _unique_room_guids(conf: Conference) -> None:
    """A guid two rooms share identifies neither (pretalx has written such files)."""
    counts = Counter(conf.room_guids.values())
    for name, guid in list(conf.room_guids.items()):
        if counts[guid] > 1 or not is_uuid(guid):
            del conf.room_guids[name]
            if counts[guid] > 1:
                conf.warnings.append(f"{conf.file}: room {name!r} shares its guid with "
                                     "another room; its uuid is derived from its name")


def to_event_data(conf: Conference, fmt: str) -> EventData:
    """The one loop: talks in file order; rooms, tracks, types and persons on first use."""
    _unique_room_guids(conf)
    builder = _Builder(conf)
    for room in conf.rooms:  # rooms without a talk are rooms too
        builder.named("microlocations", room, {"position": len(builder.tables["microlocations"])},
                      conf.room_guids.get(room, ""))
    used: set[int] = set()
    for talk in conf.talks:
        source_id = int(talk.id) if talk.id.isdigit() else 0
        if not source_id or source_id in used:
            source_id = max(used, default=0) + 1
        used.add(source_id)
        builder.sessions.append(builder.session(talk, source_id))
    if builder.skipped_links:
        conf.warnings.append(f"{conf.file}: {builder.skipped_links} link(s) that are not "
                             "slides, audio or video were left out")
    for name, extra in sorted(builder.name_merges.items()):
        conf.warnings.append(f"{conf.file}: person {name!r} has no id; their {extra + 1} "
                             "appearances were merged into one speaker by name")
    acronym = conf.acronym.lower()
    where = f"{conf.file} conference"
    data = EventData(format=fmt, event=ItemData(0, where, validate_fields(
        EVENT, _event_values(conf, builder.sessions), where, conf.warnings),
        uuid=event_uuid(conf.acronym, conf.title)),
        identifier=acronym if _IDENTIFIER.match(acronym) else None, warnings=conf.warnings)
    for name, table in builder.tables.items():
        data.items[name] = list(table.values())
    data.items["sessions"] = builder.sessions
    data.check_references()
    return data
