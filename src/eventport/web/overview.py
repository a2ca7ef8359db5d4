"""What the event overview page shows, gathered through the event services.

The page needs the whole program at once (counts and a day-by-room grid), while the
services page through it; this module walks those pages and arranges the rows for the
template. Arranging is presentation only: no rule about events lives here.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from eventport.events import service
from eventport.events.models import Event, Microlocation, ProgramSession
from eventport.events.resources import RESOURCES

#: (label on the page, resource name) for the counts row
COUNTED = (
    ("Sessions", "sessions"),
    ("Speakers", "speakers"),
    ("Tracks", "tracks"),
    ("Rooms", "microlocations"),
    ("Sponsors", "sponsors"),
)


def all_items(db: Session, resource_name: str, event_id: int) -> Iterator[Any]:
    """Every row of a program resource, in the service's order, page by page."""
    page = 1
    while True:
        rows, total = service.list_items(
            db, RESOURCES[resource_name], event_id, page, service.MAX_PER_PAGE
        )
        yield from rows
        if page * service.MAX_PER_PAGE >= total or not rows:
            return
        page += 1


def counts(db: Session, event_id: int) -> list[tuple[str, int]]:
    """(label, number) for each counted resource; the services' own totals."""
    return [
        (label, service.list_items(db, RESOURCES[name], event_id, 1, 1)[1])
        for label, name in COUNTED
    ]


@dataclass
class GridCell:
    sessions: list[ProgramSession] = field(default_factory=list)


@dataclass
class GridRow:
    time: str
    cells: list[GridCell]


@dataclass
class GridDay:
    date: dt.date
    rooms: list[str]  # only the rooms in use that day: keeps big events' grids narrow
    rows: list[GridRow]


@dataclass
class Schedule:
    days: list[GridDay]
    unscheduled: int


#: sessions listed per grid cell before "+N more" (an exhibition hall can hold dozens)
CELL_LIMIT = 3


def schedule(db: Session, event: Event) -> Schedule:
    """The scheduled sessions as one table per day: rows are start times, columns rooms."""
    tz = zoneinfo.ZoneInfo(event.timezone)
    rooms: list[Microlocation] = sorted(
        all_items(db, "microlocations", event.id), key=lambda r: (r.position, r.id)
    )
    order = {room.id: index for index, room in enumerate(rooms)}
    names = {room.id: room.name for room in rooms}
    sessions = list(all_items(db, "sessions", event.id))
    scheduled = [s for s in sessions if s.starts_at is not None]
    by_day: dict[dt.date, list[ProgramSession]] = {}
    for item in sorted(scheduled, key=lambda s: (s.starts_at, s.id)):
        assert item.starts_at is not None
        by_day.setdefault(item.starts_at.astimezone(tz).date(), []).append(item)
    days = []
    for day, items in sorted(by_day.items()):
        used = sorted({s.microlocation_id if s.microlocation_id in order else None
                       for s in items}, key=lambda rid: order.get(rid, len(order)))  # type: ignore[arg-type]
        column = {room_id: index for index, room_id in enumerate(used)}
        rows: dict[str, list[GridCell]] = {}
        for item in items:
            assert item.starts_at is not None
            time = item.starts_at.astimezone(tz).strftime("%H:%M")
            cells = rows.setdefault(time, [GridCell() for _ in used])
            room_id = item.microlocation_id if item.microlocation_id in order else None
            cells[column[room_id]].sessions.append(item)
        days.append(GridDay(
            day, [names[r] if r is not None else "No room" for r in used],
            [GridRow(time, cells) for time, cells in sorted(rows.items())],
        ))
    return Schedule(days=days, unscheduled=len(sessions) - len(scheduled))
