"""Upload (PUT multipart ``file``), fetch (GET) and remove (DELETE) program media.

Paths follow the owning resource: ``/api/v1/events/{event_id}/logo``,
``…/speakers/{id}/photo``, ``…/sessions/{id}/slides`` and so on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from eventport.api.deps import AnyRole, Db, EventEditor, ItemId, ProgramEditor, StorageDep
from eventport.api.events import event_document
from eventport.api.program import item_document
from eventport.api.uploads import UploadInfo, receive_file
from eventport.config import get_settings
from eventport.errors import NotFound
from eventport.events import media as media_service
from eventport.events import service
from eventport.events.models import Event
from eventport.events.resources import EVENT, PROGRAM, MediaSlot, Resource
from eventport.storage import Storage

router = APIRouter(prefix="/api/v1/events/{event_id}", tags=["media"])

#: The body is parsed as a stream (see api/uploads.py), so describe it for OpenAPI by hand.
UPLOAD_SPEC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}}}}}


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


async def _upload(request: Request, db: Session, storage: Storage, event: Event, row: Any,
                  slot: MediaSlot) -> None:
    """Stream the request's file into storage, then commit and discard the replaced object."""
    limit = get_settings().media_max_bytes

    def store(chunks: Iterator[bytes], info: UploadInfo) -> str | None:
        _, old_key = media_service.store_media(
            db, storage, event, row, slot, chunks, info.filename or slot.name, limit
        )
        db.commit()
        return old_key

    old_key, _ = await receive_file(request, store, max_bytes=limit)
    if old_key:
        await run_in_threadpool(service.discard_objects, storage, [old_key])


def _remove(db: Db, storage: StorageDep, row: Any, slot: MediaSlot) -> None:
    key = media_service.remove_media(db, row, slot)
    if key is None:
        raise NotFound(f"no {slot.name} uploaded")
    db.commit()
    service.discard_objects(storage, [key])


def _add_item_routes(resource: Resource, slot: MediaSlot) -> None:
    path = f"/{resource.name}/{{item_id}}/{slot.name}"

    @router.put(path, name=f"upload {resource.name} {slot.name}", openapi_extra=UPLOAD_SPEC)
    async def upload(request: Request, event: ProgramEditor, item_id: ItemId, db: Db,
                     storage: StorageDep) -> dict[str, Any]:
        row = await run_in_threadpool(service.get_item, db, resource, event.id, item_id)
        await _upload(request, db, storage, event, row, slot)
        return await run_in_threadpool(item_document, resource, event, row)

    @router.get(path, name=f"get {resource.name} {slot.name}")
    def fetch(event: AnyRole, item_id: ItemId, db: Db, storage: StorageDep) -> StreamingResponse:
        return _serve(storage, service.get_item(db, resource, event.id, item_id), slot)

    @router.delete(path, status_code=204, name=f"delete {resource.name} {slot.name}")
    def remove(event: ProgramEditor, item_id: ItemId, db: Db, storage: StorageDep) -> Response:
        _remove(db, storage, service.get_item(db, resource, event.id, item_id), slot)
        return Response(status_code=204)


def _add_event_routes(slot: MediaSlot) -> None:
    path = f"/{slot.name}"

    @router.put(path, name=f"upload event {slot.name}", openapi_extra=UPLOAD_SPEC)
    async def upload(request: Request, event: EventEditor, db: Db,
                     storage: StorageDep) -> dict[str, Any]:
        await _upload(request, db, storage, event, event, slot)
        return await run_in_threadpool(event_document, event)

    @router.get(path, name=f"get event {slot.name}")
    def fetch(event: AnyRole, storage: StorageDep) -> StreamingResponse:
        return _serve(storage, event, slot)

    @router.delete(path, status_code=204, name=f"delete event {slot.name}")
    def remove(event: EventEditor, db: Db, storage: StorageDep) -> Response:
        _remove(db, storage, event, slot)
        return Response(status_code=204)


for _slot in EVENT.media:
    _add_event_routes(_slot)
for _resource in PROGRAM:
    for _slot in _resource.media:
        _add_item_routes(_resource, _slot)
