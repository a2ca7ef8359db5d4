"""CRUD routes for every program resource, generated from the resource table.

One loop instead of eight copies: each resource in ``PROGRAM`` gets list/create under
``/api/v1/events/{event_id}/<name>`` and get/update/delete under ``…/<name>/{item_id}``.
(No ``from __future__ import annotations`` here: FastAPI must see the real body types.)
"""

import zoneinfo
from enum import Enum
from typing import Any

from fastapi import APIRouter, Response

from eventport.api.deps import AnyRole, Db, ItemId, ProgramEditor, StorageDep
from eventport.api.events import Page, PerPage, page_of
from eventport.events import service
from eventport.events.models import Event
from eventport.events.resources import PROGRAM, Resource, api_media_ref, to_document

router = APIRouter(prefix="/api/v1/events/{event_id}")


def item_document(resource: Resource, event: Event, row: Any) -> dict[str, Any]:
    return to_document(resource, row, zoneinfo.ZoneInfo(event.timezone), api_media_ref)


def _add_routes(resource: Resource) -> None:
    create_body: Any = resource.create_schema
    update_body: Any = resource.update_schema
    path = f"/{resource.name}"
    tag: list[str | Enum] = [resource.name]

    @router.get(path, tags=tag, name=f"list {resource.name}")
    def list_items(event: AnyRole, db: Db, page: Page = 1, per_page: PerPage = 50
                   ) -> dict[str, Any]:
        rows, total = service.list_items(db, resource, event.id, page, per_page)
        return page_of([item_document(resource, event, r) for r in rows], total, page, per_page)

    @router.post(path, status_code=201, tags=tag, name=f"create {resource.name}")
    def create_item(event: ProgramEditor, body: create_body, db: Db, response: Response
                    ) -> dict[str, Any]:
        row = service.create_item(db, resource, event, body.model_dump())
        service.check_within_event(event, row)
        db.commit()
        response.headers["Location"] = f"/api/v1/events/{event.id}/{resource.name}/{row.id}"
        return item_document(resource, event, row)

    @router.get(path + "/{item_id}", tags=tag, name=f"get {resource.name}")
    def read_item(event: AnyRole, item_id: ItemId, db: Db) -> dict[str, Any]:
        return item_document(resource, event, service.get_item(db, resource, event.id, item_id))

    @router.patch(path + "/{item_id}", tags=tag, name=f"update {resource.name}")
    def update_item(event: ProgramEditor, item_id: ItemId, body: update_body, db: Db
                    ) -> dict[str, Any]:
        row = service.get_item(db, resource, event.id, item_id)
        service.update_item(db, resource, event, row, body.model_dump(exclude_unset=True))
        service.check_within_event(event, row)
        db.commit()
        return item_document(resource, event, row)

    @router.delete(path + "/{item_id}", status_code=204, tags=tag,
                   name=f"delete {resource.name}")
    def delete_item(event: ProgramEditor, item_id: ItemId, db: Db, storage: StorageDep) -> Response:
        row = service.get_item(db, resource, event.id, item_id)
        keys = service.delete_item(db, resource, row)
        db.commit()
        service.discard_objects(storage, keys)
        return Response(status_code=204)


for _resource in PROGRAM:
    _add_routes(_resource)
