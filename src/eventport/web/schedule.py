"""The schedule view's layout: per day, rooms as columns, time proportional to length.

Built for a large congress (70 rooms, 1,000 talks): only the rooms used on a day get a
column, a day's height is its real span (first start to last end), and each session is
placed by minutes from the day's start — the page's script turns those numbers into
positions (no inline styles: the pages' Content-Security-Policy forbids them). Tracks
that share a colour (often the importer's default) get distinct ones from a palette, so
the colours mean something. Presentation only: no rule about events lives here.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from eventport.events.models import Event, Microlocation, ProgramSession, Track

#: Colour-blind-friendly, distinct on white (Okabe–Ito and Tableau 10, darkened for text).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8c564b",
           "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#e15759")
DEFAULT_MINUTES = 30
NO_ROOM = "No room"


@dataclass
class Slot:
    id: int
    title: str
    start: str          # local "HH:MM"
    end: str
    offset: int         # minutes from the day's first hour
    length: int         # minutes
    speakers: str
    track: str
    colour: str
    room: str
    lane: int = 0       # overlapping sessions in one room sit side by side:
    lanes: int = 1      # this one in lane ``lane`` of ``lanes``


def assign_lanes(slots: list[Slot]) -> None:
    """Give overlapping sessions of one room their own lanes (interval partitioning).

    Slots come sorted by start; each goes into the first lane free at its start, and
    every slot of a cluster of overlaps learns how many lanes that cluster needs.
    """
    ends: list[int] = []
    cluster: list[Slot] = []
    for slot in sorted(slots, key=lambda s: (s.offset, s.id)):
        if cluster and slot.offset >= max(ends):
            for member in cluster:
                member.lanes = len(ends)
            ends, cluster = [], []
        free = next((i for i, end in enumerate(ends) if end <= slot.offset), None)
        if free is None:
            ends.append(slot.offset + slot.length)
            slot.lane = len(ends) - 1
        else:
            ends[free] = slot.offset + slot.length
            slot.lane = free
        cluster.append(slot)
    for member in cluster:
        member.lanes = max(len(ends), 1)


@dataclass
class Column:
    room: str
    slots: list[Slot] = field(default_factory=list)


@dataclass
class Day:
    date: dt.date
    first_hour: int     # the day's grid starts at this full hour
    hours: list[str]    # "09:00", "10:00", … labels of the grid
    columns: list[Column]
    agenda: list[Slot]  # every slot in time order (the phone view)


@dataclass
class ScheduleView:
    days: list[Day]
    unscheduled: int
    tracks: list[tuple[str, str]]  # (name, colour) legend


def track_colours(tracks: list[Track]) -> dict[int, str]:
    """Each track's colour; tracks sharing one get distinct palette colours instead."""
    seen: dict[str, int] = {}
    for track in tracks:
        seen[track.color.lower()] = seen.get(track.color.lower(), 0) + 1
    return {track.id: (track.color if seen[track.color.lower()] == 1
                       else PALETTE[index % len(PALETTE)])
            for index, track in enumerate(tracks)}


def _slot(item: ProgramSession, tz: zoneinfo.ZoneInfo, day_start: dt.datetime,
          colours: dict[int, str], rooms: dict[int, str]) -> Slot:
    assert item.starts_at is not None
    start = item.starts_at.astimezone(tz)
    end = (item.ends_at or item.starts_at + dt.timedelta(minutes=DEFAULT_MINUTES)).astimezone(tz)
    return Slot(
        id=item.id, title=item.title, start=f"{start:%H:%M}", end=f"{end:%H:%M}",
        offset=int((start - day_start).total_seconds() // 60),
        length=max(5, int((end - start).total_seconds() // 60)),
        speakers=", ".join(s.name for s in item.speakers),
        track=item.track.name if item.track else "",
        colour=colours.get(item.track_id or 0, "#59626d"),
        room=rooms.get(item.microlocation_id or 0, NO_ROOM))


def _day(date: dt.date, items: list[ProgramSession], tz: zoneinfo.ZoneInfo,
         colours: dict[int, str], rooms: dict[int, str], order: dict[int, int]) -> Day:
    starts = [i.starts_at.astimezone(tz) for i in items if i.starts_at]
    first = min(starts).replace(minute=0, second=0, microsecond=0)
    slots = [_slot(i, tz, first, colours, rooms) for i in items]
    last_minute = max(s.offset + s.length for s in slots)
    hours = [f"{(first + dt.timedelta(hours=h)):%H:%M}" for h in range(-(-last_minute // 60))]
    columns: dict[int, Column] = {}
    for item, slot in zip(items, slots, strict=True):
        key = item.microlocation_id if item.microlocation_id in rooms else 0
        columns.setdefault(key, Column(slot.room)).slots.append(slot)
    for column in columns.values():
        assign_lanes(column.slots)
    ordered = sorted(columns.items(), key=lambda kv: order.get(kv[0], len(order)))
    return Day(date, first.hour, hours, [c for _, c in ordered],
               sorted(slots, key=lambda s: (s.offset, s.room)))


def build(db: Session, event: Event) -> ScheduleView:
    tz = zoneinfo.ZoneInfo(event.timezone)
    rooms_rows = db.scalars(select(Microlocation).where(Microlocation.event_id == event.id)
                            .order_by(Microlocation.position, Microlocation.id)).all()
    tracks = list(db.scalars(select(Track).where(Track.event_id == event.id)
                             .order_by(Track.id)))
    colours = track_colours(tracks)
    sessions = db.scalars(
        select(ProgramSession).where(ProgramSession.event_id == event.id)
        .options(selectinload(ProgramSession.speakers), selectinload(ProgramSession.track))
        .order_by(ProgramSession.starts_at, ProgramSession.id)).all()
    scheduled = [s for s in sessions if s.starts_at is not None]
    by_day: dict[dt.date, list[ProgramSession]] = {}
    for item in scheduled:
        assert item.starts_at is not None
        by_day.setdefault(item.starts_at.astimezone(tz).date(), []).append(item)
    rooms = {r.id: r.name for r in rooms_rows}
    order = {r.id: i for i, r in enumerate(rooms_rows)}
    days = [_day(date, items, tz, colours, rooms, order) for date, items in sorted(by_day.items())]
    return ScheduleView(days, len(sessions) - len(scheduled),
                        [(t.name, colours[t.id]) for t in tracks])
