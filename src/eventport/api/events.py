"""Events and their roles: parse, authorize, call the service, return."""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from eventport.accounts import service as accounts
from eventport.accounts.models import EventRole, Role
from eventport.api.deps import (
    AnyRole,
    CurrentUser,
    Db,
    EventEditor,
    ItemId,
    OwnerRole,
    StorageDep,
    TeamManager,
)
from eventport.audit.service import record
from eventport.events import service
from eventport.events.models import Event
from eventport.events.resources import EVENT, api_media_ref, to_document
from eventport.events.schemas import EventFields

router = APIRouter(prefix="/api/v1/events", tags=["events"])

EventUpdate: Any = EVENT.update_schema
Page = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE)]


def event_document(event: Event) -> dict[str, Any]:
    return to_document(EVENT, event, zoneinfo.ZoneInfo(event.timezone), api_media_ref)


def page_of(items: list[dict[str, Any]], total: int, page: int, per_page: int
            ) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "per_page": per_page}


@router.get("")
def list_events(user: CurrentUser, db: Db, page: Page = 1, per_page: PerPage = 50
                ) -> dict[str, Any]:
    events, total = service.events_for(db, user, page, per_page)
    return page_of([event_document(e) for e in events], total, page, per_page)


@router.post("", status_code=201)
def create_event(body: EventFields, user: CurrentUser, db: Db, response: Response
                 ) -> dict[str, Any]:
    """A 201 says where the new resource lives (``Location``), as HTTP intends."""
    event = service.create_event(db, user, body.model_dump())
    db.commit()
    response.headers["Location"] = f"/api/v1/events/{event.id}"
    return event_document(event)


@router.get("/{event_id}")
def read_event(event: AnyRole) -> dict[str, Any]:
    return event_document(event)


@router.patch("/{event_id}")
def update_event(event: EventEditor, body: EventUpdate, db: Db) -> dict[str, Any]:
    service.update_event(db, event, body.model_dump(exclude_unset=True))
    db.commit()
    return event_document(event)


@router.delete("/{event_id}", status_code=204)
def delete_event(event: OwnerRole, db: Db, storage: StorageDep) -> Response:
    keys = service.delete_event(db, event)
    db.commit()
    service.discard_objects(storage, keys)
    return Response(status_code=204)


class RoleGrant(BaseModel):
    email: str
    role: Role


class RoleChange(BaseModel):
    role: Role


def role_document(row: EventRole) -> dict[str, Any]:
    return {"id": row.id, "user_id": row.user_id, "email": row.user.email, "role": row.role}


@router.get("/{event_id}/roles")
def list_roles(event: AnyRole, db: Db, page: Page = 1, per_page: PerPage = 50
               ) -> dict[str, Any]:
    roles, total = accounts.roles_page(db, event.id, page, per_page)
    return page_of([role_document(r) for r in roles], total, page, per_page)


@router.post("/{event_id}/roles", status_code=201)
def grant_role(event: TeamManager, body: RoleGrant, user: CurrentUser, db: Db
               ) -> dict[str, Any]:
    row = accounts.grant_role(db, event.id, body.email, body.role)
    db.commit()
    record(db, event.id, user, "role.granted", row.user.email, {"role": row.role})
    return role_document(row)


@router.patch("/{event_id}/roles/{role_id}")
def change_role(event: TeamManager, role_id: ItemId, body: RoleChange, user: CurrentUser,
                db: Db) -> dict[str, Any]:
    row = accounts.change_role(db, event.id, role_id, body.role)
    db.commit()
    record(db, event.id, user, "role.changed", row.user.email, {"role": row.role})
    return role_document(row)


@router.delete("/{event_id}/roles", status_code=204)
def revoke_role_by_email(event: TeamManager,
                         email: Annotated[str, Query(min_length=1, max_length=320)],
                         user: CurrentUser, db: Db) -> Response:
    """DESIGN's form: the person is named by e-mail, as when the role was granted."""
    target = accounts.revoke_role_of(db, event.id, email)
    db.commit()
    record(db, event.id, user, "role.revoked", target[0], {"role": target[1]})
    return Response(status_code=204)


@router.delete("/{event_id}/roles/{role_id}", status_code=204)
def revoke_role(event: TeamManager, role_id: ItemId, user: CurrentUser, db: Db) -> Response:
    row = db.get(EventRole, role_id)
    target = (row.user.email, row.role) if row is not None else ("", "")
    accounts.revoke_role(db, event.id, role_id)
    db.commit()
    record(db, event.id, user, "role.revoked", target[0], {"role": target[1]})
    return Response(status_code=204)
