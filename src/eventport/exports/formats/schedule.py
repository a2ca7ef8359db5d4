"""The program as every schedule format sees it: one model, built once per render.

iCalendar, xCal, frab ``schedule.xml``, frab JSON and the CSVs must agree on which
sessions are in the program, which day a session belongs to, how long it lasts and what
a public feed may show. Deciding that in each format is how the seed system's exports
drifted apart, so it is decided here, once:

* **Which sessions.** A schedule shows sessions whose state is *accepted* or *confirmed*
  (the program attendees can rely on). Organizers' exports may widen or narrow that with
  the ``states`` option (the original server's ``status`` parameter); a public feed
  (``ctx.public_only``) never shows anything but accepted/confirmed sessions.
* **Scheduled** means: a room and a start time, and an end (``ends_at``, or the start
  plus the session type's length). Any selected session missing one of them is left out
  and reported once through ``ctx.warn({"type": "unscheduled_session", ...})``.
* **Days** are calendar dates in the event's timezone, from local midnight to the next
  local midnight, so a day across a DST change is 23 or 25 hours long. Every date of the
  event is a day, even an empty one (apps draw the conference's days from it).
* **Durations** are elapsed time (computed in UTC): a talk from 02:00 to 04:00 local on
  the night clocks go back lasts three hours. Python subtracts aware datetimes that share
  a ``tzinfo`` by wall clock, which is exactly the bug this avoids.
* **Public fields only.** Schedule formats never carry e-mail, phone or comments, for
  organizers either: they are programs, not contact lists. Only the CSVs carry private
  fields, and only outside ``public_only``.

Everything here is pure: documents of an :class:`EventSnapshot` in, plain values out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from eventport.events.archive_layout import relabel
from eventport.events.models import SessionState
from eventport.exports.registry import ExportContext
from eventport.exports.snapshot import EventSnapshot
from eventport.naming import derived_uuid, is_uuid, slugify

UTC = dt.UTC

#: What attendees see: the program that was decided on.
PUBLIC_STATES: frozenset[str] = frozenset({SessionState.ACCEPTED.value,
                                           SessionState.CONFIRMED.value})
ALL_STATES: frozenset[str] = frozenset(state.value for state in SessionState)

#: Sessions longer than this cannot be written as frab's ``HH:MM`` duration.
MAX_DURATION = dt.timedelta(hours=99, minutes=59)

#: How often long loops report progress and check for cancellation.
PROGRESS_EVERY = 500

# XML 1.0 forbids most C0 controls and lone surrogates; organizers paste them in by
# accident from word processors, and one of them would make lxml refuse the whole file.
_ILLEGAL_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_HTTP_URL = re.compile(r"^https?://\S+$")


def clean_text(value: Any) -> str:
    """A string safe in every format: ``None`` becomes ``""``, XML-illegal characters go."""
    if value is None:
        return ""
    return _ILLEGAL_TEXT.sub("", str(value))


def http_url(value: Any) -> str | None:
    """The value if it is an absolute http(s) URL (what the frab XSD's ``httpURI`` wants)."""
    text = clean_text(value).strip()
    return text if _HTTP_URL.match(text) else None


def conference_acronym(identifier: str) -> str:
    """The event identifier in the shape both frab schemas demand (``[a-z0-9_]{4,}``)."""
    acronym = re.sub(r"[^a-z0-9_]", "_", identifier.lower())
    return acronym.ljust(4, "_")


def parse_states(options: dict[str, Any], default: Iterable[str] = PUBLIC_STATES
                 ) -> frozenset[str]:
    """The ``states`` option (list, or comma-separated string like the original ``status``).

    Raises ``ValueError`` naming unknown states, so the API can reject the option before a
    job is queued rather than fail later in the worker.
    """
    raw = options.get("states")
    if raw is None or raw == "" or raw == []:
        return frozenset(default)
    if isinstance(raw, str):
        states = {part.strip().lower() for part in raw.split(",") if part.strip()}
    elif isinstance(raw, list | tuple | set | frozenset):
        states = {str(part).strip().lower() for part in raw}
    else:
        raise ValueError("option 'states' must be a list of session states")
    unknown = states - ALL_STATES
    if unknown:
        raise ValueError(f"unknown session state(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(ALL_STATES))}")
    return frozenset(states)


def normalize_options(options: dict[str, Any] | None, allowed: frozenset[str]
                      ) -> dict[str, Any]:
    """Canonical options of a schedule or CSV format (``states``, ``bom``), for the job.

    Equal requests must give equal options (job dedupe, archive determinism), and a bad
    option must be refused when the job is requested, not when the worker runs it.
    Raises ``ValueError``; keys other than ``allowed`` are left to the caller (``media``).
    """
    options = dict(options or {})
    canonical: dict[str, Any] = {}
    if "states" in allowed and options.get("states") not in (None, "", []):
        canonical["states"] = sorted(parse_states(options))
    if "bom" in allowed and "bom" in options:
        if not isinstance(options["bom"], bool):
            raise ValueError("option 'bom' must be true or false")
        if options["bom"]:
            canonical["bom"] = True
    return canonical


class FormatOptions:
    """Mixin of the schedule and CSV exporters: which options they take, made canonical.

    The export service can call ``exporter.normalize_options(options)`` when a job is
    requested (``ValueError`` means 422) and store the result as the job's options.
    """

    option_names: ClassVar[frozenset[str]] = frozenset({"states"})

    @classmethod
    def normalize_options(cls, options: dict[str, Any] | None) -> dict[str, Any]:
        return normalize_options(options, cls.option_names)


def selected_states(ctx: ExportContext, default: Iterable[str] = PUBLIC_STATES
                    ) -> frozenset[str]:
    """States an export shows: the option, but never more than a public feed may show."""
    states = parse_states(ctx.options, default)
    return states & PUBLIC_STATES if ctx.public_only else states


def parse_time(value: Any, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A document's ISO 8601 time as an aware datetime in the event's timezone."""
    if not value:
        return None
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:  # documents carry offsets; a naive time is event-local
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)


def elapsed(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Real time between two aware datetimes, DST included (see the module docstring)."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def hhmm(delta: dt.timedelta) -> str:
    """``01:30`` for 90 minutes: frab's duration notation."""
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def iso(value: dt.datetime) -> str:
    """ISO 8601 with offset and whole seconds, as both frab schemas want."""
    return value.replace(microsecond=0).isoformat()


def local_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """Start of a calendar day in ``tz``; normalized through UTC for zones that skip 00:00."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(UTC).astimezone(tz)


@dataclass(frozen=True)
class Room:
    id: int
    name: str
    guid: str
    position: int
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class Track:
    id: int
    name: str
    color: str
    slug: str | None  # only when it fits both frab schemas' slug patterns


@dataclass(frozen=True)
class Person:
    """A speaker as the public may see them: never e-mail or phone."""

    id: int
    name: str
    guid: str
    biography: str
    organisation: str
    position: str
    avatar: str | None


@dataclass(frozen=True)
class Link:
    url: str
    title: str
    type: str  # frab reference type: slides, media, web, ...


@dataclass(frozen=True)
class Slot:
    """One scheduled session: a room, a start, an end, in the event's timezone."""

    id: int
    guid: str
    title: str
    subtitle: str
    abstract: str
    description: str
    language: str
    level: str
    state: str
    start: dt.datetime
    end: dt.datetime
    room: Room
    track: Track | None
    type: str
    persons: tuple[Person, ...]
    links: tuple[Link, ...]
    slug: str
    url: str | None

    @property
    def duration(self) -> dt.timedelta:
        return elapsed(self.start, self.end)


@dataclass
class Day:
    index: int  # 1-based, as frab counts
    date: dt.date
    start: dt.datetime
    end: dt.datetime
    slots: list[Slot] = field(default_factory=list)

    def by_room(self, rooms: list[Room]) -> list[tuple[Room, list[Slot]]]:
        """Every room with this day's slots in it (empty too: apps keep columns stable)."""
        grouped: dict[int, list[Slot]] = {room.id: [] for room in rooms}
        for slot in self.slots:
            grouped[slot.room.id].append(slot)
        return [(room, grouped[room.id]) for room in rooms]


@dataclass
class Schedule:
    event: dict[str, Any]
    tz: zoneinfo.ZoneInfo
    title: str
    acronym: str
    version: str
    url: str | None
    logo: str | None
    days: list[Day]
    rooms: list[Room]  # rooms with at least one scheduled session, in display order
    tracks: list[Track]  # tracks of scheduled sessions, by name
    slots: list[Slot]  # by start, room order, id
    timeslot_minutes: int

    @property
    def timeslot_duration(self) -> str:
        return hhmm(dt.timedelta(minutes=self.timeslot_minutes))

    @property
    def timezone_name(self) -> str:
        return str(self.event.get("timezone") or "UTC")

    @property
    def is_utc(self) -> bool:
        return self.timezone_name in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu")


def _person(doc: dict[str, Any], identifier: str) -> Person:
    return Person(
        id=int(doc["id"]),
        name=clean_text(doc.get("name")),
        guid=_guid(doc, identifier, "speakers"),
        biography=clean_text(doc.get("short_biography") or doc.get("long_biography")),
        organisation=clean_text(doc.get("organisation")),
        position=clean_text(doc.get("position")),
        avatar=http_url(doc.get("photo_url")),
    )


def _links(doc: dict[str, Any]) -> tuple[Link, ...]:
    found = []
    for attr, title, kind in (("slides_url", "Slides", "slides"),
                              ("video_url", "Video", "media"),
                              ("audio_url", "Audio", "media")):
        url = http_url(doc.get(attr))
        if url:
            found.append(Link(url=url, title=title, type=kind))
    return tuple(found)


def _guid(doc: dict[str, Any], identifier: str, kind: str) -> str:
    """The entity's uuid (what a frab ``guid`` is); derived only for uuid-less documents."""
    value = str(doc.get("uuid") or "")
    return value.lower() if is_uuid(value) else derived_uuid(identifier, kind, doc["id"])


def stable_number(key: str) -> int:
    """A positive 31-bit number from an entity's uuid: the integer ``id`` frab's formats
    want, the same on every server the event moves to (apps key favourites by it)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF or 1


def _number(doc: dict[str, Any]) -> int:
    value = str(doc.get("uuid") or "")
    return stable_number(value.lower()) if is_uuid(value) else int(doc["id"])


def numbered(snapshot: EventSnapshot) -> EventSnapshot:
    """The snapshot with every database id (own and referenced) replaced by the stable
    number of the entity's uuid: schedule files then say nothing local to this server."""
    event, documents = relabel(snapshot.event, snapshot.documents, _number, keep_id=True)
    return EventSnapshot(event=event, documents=documents, media=snapshot.media)


def _session_slug(acronym: str, doc: dict[str, Any]) -> str:
    """``acronym-id-title-words``: unique (the id) and fits the XSD's ``voc-slug-new``."""
    words = slugify(clean_text(doc.get("title")), 50, fallback="") or "session"
    if len(words) < 3:
        words = f"{words}-session"
    return f"{acronym}-{doc['id']}-{words}"


def _unscheduled_reason(doc: dict[str, Any], start: dt.datetime | None,
                        end: dt.datetime | None, rooms: dict[int, Room]) -> str | None:
    if doc.get("microlocation_id") not in rooms:
        return "no room"
    if start is None:
        return "no start time"
    if end is None:
        return "no end time"
    if elapsed(start, end) <= dt.timedelta(0):
        return "ends before it starts"
    if elapsed(start, end) > MAX_DURATION:
        return "longer than 99 hours"
    return None


def _version(snapshot: EventSnapshot, slots: list[Slot]) -> str:
    """A short digest of what the schedule shows, so apps can tell a changed program."""
    digest = hashlib.sha256()
    event = {key: value for key, value in snapshot.event.items() if key != "id"}
    digest.update(json.dumps(event, sort_keys=True, default=str).encode())
    for name in ("microlocations", "tracks", "session_types", "speakers"):
        docs = sorted(snapshot.documents.get(name, []), key=lambda doc: doc["id"])
        digest.update(json.dumps(docs, sort_keys=True, default=str).encode())
    for slot in slots:
        digest.update(repr(slot).encode())
    return digest.hexdigest()[:12]


def _timeslot_minutes(slots: list[Slot]) -> int:
    """The grid all starts and durations fit on (frab's ``timeslot_duration``)."""
    step = 0
    for slot in slots:
        step = math.gcd(step, slot.start.hour * 60 + slot.start.minute,
                        int(slot.duration.total_seconds() // 60))
    return min(step, 60) if step else 15


def _event_dates(event: dict[str, Any], tz: zoneinfo.ZoneInfo) -> list[dt.date]:
    start = parse_time(event.get("starts_at"), tz)
    end = parse_time(event.get("ends_at"), tz)
    if start is None:
        return []
    last = (end or start).date()
    if end is not None and end.time() == dt.time(0) and last > start.date():
        last -= dt.timedelta(days=1)  # an event "until midnight" does not use the next day
    span = (last - start.date()).days
    if span < 0 or span > 366:  # nonsense or a year-long series: show only days with sessions
        return [start.date()]
    return [start.date() + dt.timedelta(days=offset) for offset in range(span + 1)]


class _SlotMaker:
    """Turns session documents into :class:`Slot` s, sharing rooms, tracks and people."""

    def __init__(self, snapshot: EventSnapshot, ctx: ExportContext,
                 local_ids: dict[int, int]) -> None:
        event = snapshot.event
        self.ctx = ctx
        self.local_ids = local_ids  # stable number -> database id, for warnings
        self.tz = snapshot.timezone
        self.identifier = str(event.get("identifier") or event.get("id"))
        self.acronym = conference_acronym(self.identifier)
        self.url = http_url(event.get("external_url"))
        self.rooms = {int(doc["id"]): self._room(doc)
                      for doc in snapshot.documents.get("microlocations", [])}
        self.tracks = {int(doc["id"]): _track(doc)
                       for doc in snapshot.documents.get("tracks", [])}
        self.types = {int(doc["id"]): doc for doc in snapshot.documents.get("session_types", [])}
        self.people = {int(doc["id"]): doc for doc in snapshot.documents.get("speakers", [])}
        self.persons: dict[int, Person] = {}

    def _room(self, doc: dict[str, Any]) -> Room:
        return Room(
            id=int(doc["id"]), name=clean_text(doc.get("name")),
            guid=_guid(doc, self.identifier, "rooms"),
            position=int(doc.get("position") or 0),
            latitude=doc.get("latitude"), longitude=doc.get("longitude"),
        )

    def _speakers(self, doc: dict[str, Any]) -> tuple[Person, ...]:
        speakers = []
        for speaker_id in doc.get("speaker_ids") or []:
            if speaker_id in self.people:
                if speaker_id not in self.persons:
                    self.persons[speaker_id] = _person(self.people[speaker_id], self.identifier)
                speakers.append(self.persons[speaker_id])
        return tuple(sorted(speakers, key=lambda p: (p.name, p.id)))  # an order that travels

    def slot(self, doc: dict[str, Any]) -> Slot | None:
        """The session's slot, or ``None`` (with a warning) when it cannot be placed."""
        start = parse_time(doc.get("starts_at"), self.tz)
        end = parse_time(doc.get("ends_at"), self.tz)
        session_type = self.types.get(doc.get("session_type_id") or 0)
        if end is None and start is not None and session_type and session_type.get("length"):
            end = (start.astimezone(UTC)
                   + dt.timedelta(minutes=int(session_type["length"]))).astimezone(self.tz)
        reason = _unscheduled_reason(doc, start, end, self.rooms)
        if reason is not None or start is None or end is None:
            self.ctx.warn({"type": "unscheduled_session",
                           "session_id": self.local_ids.get(doc["id"], doc["id"]),
                           "title": clean_text(doc.get("title")), "reason": reason})
            return None
        return Slot(
            id=int(doc["id"]),
            guid=_guid(doc, self.identifier, "sessions"),
            title=clean_text(doc.get("title")),
            subtitle=clean_text(doc.get("subtitle")),
            abstract=clean_text(doc.get("short_abstract")),
            description=clean_text(doc.get("long_abstract")),
            language=clean_text(doc.get("language")),
            level=clean_text(doc.get("level")),
            state=str(doc.get("state")),
            start=start,
            end=end,
            room=self.rooms[doc["microlocation_id"]],
            track=self.tracks.get(doc.get("track_id") or 0),
            type=clean_text(session_type.get("name")) if session_type else "",
            persons=self._speakers(doc),
            links=_links(doc),
            slug=_session_slug(self.acronym, doc),
            url=self.url,
        )


def _track(doc: dict[str, Any]) -> Track:
    slug = slugify(clean_text(doc.get("name")), 50, fallback="")
    return Track(
        id=int(doc["id"]), name=clean_text(doc.get("name")),
        color=str(doc.get("color") or "#4a90d9"),
        slug=slug if re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", slug) else None,
    )


def _days(event: dict[str, Any], tz: zoneinfo.ZoneInfo, slots: list[Slot]) -> list[Day]:
    """Every day of the event and of its sessions, each holding its slots in order."""
    dates = set(_event_dates(event, tz)) | {slot.start.date() for slot in slots}
    days = [Day(index=index, date=date, start=local_midnight(date, tz),
                end=local_midnight(date + dt.timedelta(days=1), tz))
            for index, date in enumerate(sorted(dates), 1)]
    by_date = {day.date: day for day in days}
    for slot in slots:
        day = by_date[slot.start.date()]
        day.slots.append(slot)
        if slot.end.astimezone(UTC) > day.end.astimezone(UTC):
            day.end = slot.end  # a late session runs past midnight: the day ends with it
    return days


def build_schedule(snapshot: EventSnapshot, ctx: ExportContext,
                   states: frozenset[str] | None = None) -> Schedule:
    """The schedule of a snapshot; warns once per selected session it has to leave out."""
    local_ids = {_number(doc): doc["id"] for doc in snapshot.documents.get("sessions", [])}
    snapshot = numbered(snapshot)
    event = snapshot.event
    maker = _SlotMaker(snapshot, ctx, local_ids)
    states = selected_states(ctx) if states is None else states
    sessions = snapshot.documents.get("sessions", [])
    slots: list[Slot] = []
    for done, doc in enumerate(sessions, 1):
        if done % PROGRESS_EVERY == 0:
            ctx.check_cancelled()
            ctx.progress("schedule", done, len(sessions))
        if doc.get("state") in states and (slot := maker.slot(doc)) is not None:
            slots.append(slot)

    rooms, tracks = maker.rooms, maker.tracks
    room_order = {room.id: index for index, room in enumerate(
        sorted(rooms.values(), key=lambda r: (r.position, r.name, r.id)))}
    slots.sort(key=lambda s: (s.start.astimezone(UTC), room_order[s.room.id], s.id))
    used_rooms = {slot.room.id for slot in slots}
    used_tracks = {slot.track.id for slot in slots if slot.track is not None}
    return Schedule(
        event=event,
        tz=snapshot.timezone,
        title=clean_text(event.get("name")),
        acronym=maker.acronym,
        version=_version(snapshot, slots),
        url=maker.url,
        logo=http_url(event.get("logo_url")),
        days=_days(event, snapshot.timezone, slots),
        rooms=sorted((rooms[r] for r in used_rooms), key=lambda r: room_order[r.id]),
        tracks=sorted((tracks[t] for t in used_tracks), key=lambda t: (t.name, t.id)),
        slots=slots,
        timeslot_minutes=_timeslot_minutes(slots),
    )
