"""What the event overview page shows, gathered through the event services.

The page needs counts of the whole program while the services page through it; this
module walks those pages. Presentation only: no rule about events lives here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from eventport.events import service
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


def counts(db: Session, event_id: int) -> list[tuple[str, str, int]]:
    """(label, resource name, number) for each counted resource; the services' totals."""
    return [
        (label, name, service.list_items(db, RESOURCES[name], event_id, 1, 1)[1])
        for label, name in COUNTED
    ]
