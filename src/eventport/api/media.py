"""Upload (PUT multipart ``file``), fetch (GET) and remove (DELETE) program media.

Paths follow the owning resource: ``/api/v1/events/{event_id}/logo``,
``…/speakers/{id}/photo``, ``…/sessions/{id}/slides`` and so on.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Response, UploadFile
from fastapi.responses import StreamingResponse

from eventport.api.deps import AnyRole, Db, StorageDep
from eventport.api.events import event_document
from eventport.api.program import item_document
from eventport.config import get_settings
from eventport.errors import NotFound, PayloadTooLarge
from eventport.events import media as media_service
from eventport.events import service
from eventport.events.models import Event
from eventport.events.resources import EVENT, PROGRAM, MediaSlot, Resource

router = APIRouter(prefix="/api/v1/events/{event_id}", tags=["media"])


def _serve(storage: StorageDep, row: Any, slot: MediaSlot) -> StreamingResponse:
    media = getattr(row, slot.name)
    if media is None:
        raise NotFound(f"no {slot.name} uploaded")
    storage.stat(media.storage_key)
    return StreamingResponse(
        storage.open(media.storage_key),
        media_type=media.content_type,
        headers={
            "Content-Length": str(media.size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "ETag": f'"{media.sha256}"',
        },
    )


def _upload(db: Db, storage: StorageDep, event: Event, row: Any, slot: MediaSlot,
            file: UploadFile) -> None:
    limit = get_settings().media_max_bytes
    if file.size is not None and file.size > limit:
        raise PayloadTooLarge(f"file is larger than the limit of {limit} bytes")
    _, old_key = media_service.store_media(
        db, storage, event, row, slot, file.file, file.filename or slot.name, limit
    )
    db.commit()
    if old_key:
        service.discard_objects(storage, [old_key])


def _remove(db: Db, storage: StorageDep, row: Any, slot: MediaSlot) -> None:
    key = media_service.remove_media(db, row, slot)
    if key is None:
        raise NotFound(f"no {slot.name} uploaded")
    db.commit()
    service.discard_objects(storage, [key])


def _add_item_routes(resource: Resource, slot: MediaSlot) -> None:
    path = f"/{resource.name}/{{item_id}}/{slot.name}"

    @router.put(path, name=f"upload {resource.name} {slot.name}")
    def upload(event: AnyRole, item_id: int, db: Db, storage: StorageDep,
               file: UploadFile = File(...)) -> dict[str, Any]:
        row = service.get_item(db, resource, event.id, item_id)
        _upload(db, storage, event, row, slot, file)
        return item_document(resource, event, row)

    @router.get(path, name=f"get {resource.name} {slot.name}")
    def fetch(event: AnyRole, item_id: int, db: Db, storage: StorageDep) -> StreamingResponse:
        return _serve(storage, service.get_item(db, resource, event.id, item_id), slot)

    @router.delete(path, status_code=204, name=f"delete {resource.name} {slot.name}")
    def remove(event: AnyRole, item_id: int, db: Db, storage: StorageDep) -> Response:
        _remove(db, storage, service.get_item(db, resource, event.id, item_id), slot)
        return Response(status_code=204)


def _add_event_routes(slot: MediaSlot) -> None:
    path = f"/{slot.name}"

    @router.put(path, name=f"upload event {slot.name}")
    def upload(event: AnyRole, db: Db, storage: StorageDep,
               file: UploadFile = File(...)) -> dict[str, Any]:
        _upload(db, storage, event, event, slot, file)
        return event_document(event)

    @router.get(path, name=f"get event {slot.name}")
    def fetch(event: AnyRole, storage: StorageDep) -> StreamingResponse:
        return _serve(storage, event, slot)

    @router.delete(path, status_code=204, name=f"delete event {slot.name}")
    def remove(event: AnyRole, db: Db, storage: StorageDep) -> Response:
        _remove(db, storage, event, slot)
        return Response(status_code=204)


for _slot in EVENT.media:
    _add_event_routes(_slot)
for _resource in PROGRAM:
    for _slot in _resource.media:
        _add_item_routes(_resource, _slot)
