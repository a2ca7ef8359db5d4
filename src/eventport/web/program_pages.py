"""Program pages, generated from the resource table: one list, one form, one view each.

``/events/{id}/program/{resource}`` lists a resource's rows, ``…/new`` and
``…/{item_id}`` show its generated form (with its media slots once the row exists). The
resource name in the path is looked up in :data:`eventport.events.resources.RESOURCES`;
nothing here knows sessions from sponsors except the words in :mod:`forms`.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session

from eventport.accounts.permissions import Permission, allows
from eventport.api.deps import Db, EventId, ItemId
from eventport.errors import NotFound
from eventport.events import service
from eventport.events.models import Event, ProgramSession
from eventport.events.resources import ACCEPTED_TYPES, PROGRAM, RESOURCES, Resource
from eventport.web import forms
from eventport.web.overview import all_items
from eventport.web.pages import PageUser, event_for, page_router, render

router = page_router()
PER_PAGE = 50

#: Columns of each list besides the label (attribute, heading), for the rows' summary.
LIST_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "sessions": (("starts_at", "Starts"), ("microlocation", "Room"), ("track", "Track"),
                 ("state", "State")),
    "speakers": (("organisation", "Organisation"), ("email", "E-mail")),
    "microlocations": (("floor", "Floor"), ("position", "Order")),
    "tracks": (("color", "Colour"),),
    "session-types": (("length", "Minutes"),),
    "sponsors": (("sponsor_type", "Type"), ("level", "Level")),
    "social-links": (("link", "URL"),),
    "forms": (("form", "Form"), ("type", "Type")),
}


def resource_named(name: str) -> Resource:
    resource = RESOURCES.get(name)
    if resource is None:
        raise NotFound(f"the program has no part called {name[:40]!r}")
    return resource


def cell(row: Any, attr: str, tz: zoneinfo.ZoneInfo) -> str:
    value = getattr(row, attr, None)
    if value is None:
        return "—"
    if hasattr(value, "astimezone"):
        return str(value.astimezone(tz).strftime("%a %d %b, %H:%M"))
    return str(getattr(value, "name", value))


def reference_choices(db: Session, resource: Resource, event_id: int
                      ) -> dict[str, list[tuple[str, str]]]:
    """Options of the form's reference and speaker fields: the event's own rows."""
    choices: dict[str, list[tuple[str, str]]] = {}
    for attr, target in resource.references.items():
        ref = RESOURCES[target]
        choices[attr] = [(str(r.id), getattr(r, ref.label_attr))
                         for r in all_items(db, target, event_id)]
    if "speaker_ids" in resource.fields.model_fields:
        choices["speaker_ids"] = sorted(
            ((s.id, s.name) for s in all_items(db, "speakers", event_id)),
            key=lambda pair: pair[1].lower())  # type: ignore[arg-type,return-value]
    return choices


def _context(event: Event, role: Any, resource: Resource, **extra: Any) -> dict[str, Any]:
    return {"event": event, "role": role, "tab": "program", "resource": resource,
            "resources": [(r.name, forms.NAMES[r.name][1]) for r in PROGRAM],
            "singular": forms.NAMES[resource.name][0], "plural": forms.NAMES[resource.name][1],
            "can_edit": allows(role, Permission.EDIT_PROGRAM), **extra}


@router.get("/events/{event_id}/program")
def program_home(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    """The program tab opens on sessions (called directly, so ``page`` must default to
    a number, not to FastAPI's ``Query`` marker — that was a 500)."""
    return program_list(request, event_id, "sessions", user, db)


@router.get("/events/{event_id}/program/{name}")
def program_list(request: Request, event_id: EventId, name: str, user: PageUser, db: Db,
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    event, role = event_for(db, user, event_id)
    resource = resource_named(name)
    rows, total = service.list_items(db, resource, event.id, page, PER_PAGE)
    tz = zoneinfo.ZoneInfo(event.timezone)
    table = [{"id": r.id, "label": getattr(r, resource.label_attr) or "(untitled)",
              "cells": [cell(r, attr, tz) for attr, _ in LIST_COLUMNS.get(name, ())],
              "colour": getattr(getattr(r, "track", None), "color", None)
              if isinstance(r, ProgramSession) else None}
             for r in rows]
    return render(request, "program_list.html", _context(
        event, role, resource, rows=table, total=total, page=page,
        pages=max(1, -(-total // PER_PAGE)), headings=[h for _, h in LIST_COLUMNS.get(name, ())]))


@router.get("/events/{event_id}/program/{name}/new")
def program_new(request: Request, event_id: EventId, name: str, user: PageUser, db: Db
                ) -> Response:
    event, role = event_for(db, user, event_id, Permission.EDIT_PROGRAM)
    resource = resource_named(name)
    return render(request, "program_form.html", _context(
        event, role, resource, item=None, fields=forms.resource_fields(resource),
        choices=reference_choices(db, resource, event.id), slots=[]))


@router.get("/events/{event_id}/program/{name}/{item_id}")
def program_item(request: Request, event_id: EventId, name: str, item_id: ItemId,
                 user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id)
    resource = resource_named(name)
    row = service.get_item(db, resource, event.id, item_id)
    fields = forms.fill(forms.resource_fields(resource), row, zoneinfo.ZoneInfo(event.timezone))
    base = f"/api/v1/events/{event.id}/{resource.name}/{row.id}"
    slots = [{"name": slot.name, "label": slot.name.capitalize(), "url": f"{base}/{slot.name}",
              "present": getattr(row, slot.name) is not None,
              "accept": ",".join(ACCEPTED_TYPES[slot.kind])} for slot in resource.media]
    return render(request, "program_form.html", _context(
        event, role, resource, item=row, label=getattr(row, resource.label_attr),
        fields=fields, choices=reference_choices(db, resource, event.id), slots=slots))
