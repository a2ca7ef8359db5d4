"""One consistent, in-memory picture of an event: what every exporter is given.

The snapshot holds the documents exactly as the archive stores them (the API's GET
shape, media fields holding archive paths) plus the list of media to copy. It is read
in one transaction so sessions, speakers and media agree with each other even while
organizers keep editing. Exporters never see the database.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from eventport.events.archive_layout import media_path
from eventport.events.models import Event, MediaFile, ProgramSession, Speaker
from eventport.events.resources import (
    EVENT,
    PROGRAM,
    MediaSlot,
    Resource,
    media_extension,
    to_document,
)


@dataclass(frozen=True)
class MediaEntry:
    path: str  # inside the archive: media/images/speakers/<uuid>.jpg
    storage_key: str
    kind: str
    content_type: str
    size: int
    sha256: str
    owner: str  # "speakers/<uuid>/photo": which entity and slot it belongs to


@dataclass
class EventSnapshot:
    event: dict[str, Any]
    documents: dict[str, list[dict[str, Any]]]  # "sessions" -> documents, ordered by id
    media: list[MediaEntry] = field(default_factory=list)  # ordered by path

    @property
    def timezone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.event["timezone"])

    def by_id(self, document: str) -> dict[int, dict[str, Any]]:
        return {doc["id"]: doc for doc in self.documents.get(document, [])}


def take_snapshot(db: Session, event_id: int) -> EventSnapshot:
    """Read the whole event; call inside one (ideally repeatable-read) transaction."""
    event = db.get(Event, event_id)
    if event is None:
        raise LookupError(f"event {event_id} does not exist")
    tz = zoneinfo.ZoneInfo(event.timezone)
    media: dict[str, MediaEntry] = {}

    def media_ref(resource: Resource, row: Any, slot: MediaSlot, file: MediaFile) -> str:
        path = media_path(resource, row.uuid, slot, media_extension(file))
        owner = f"{'event' if resource is EVENT else resource.name}/{row.uuid}/{slot.name}"
        media[path] = MediaEntry(path, file.storage_key, file.kind, file.content_type,
                                 file.size, file.sha256, owner)
        return path

    documents: dict[str, list[dict[str, Any]]] = {}
    for resource in PROGRAM:
        query = select(resource.model).where(
            resource.model.event_id == event_id  # type: ignore[attr-defined]
        ).order_by(resource.model.id)  # type: ignore[attr-defined]
        for slot in resource.media:
            query = query.options(selectinload(getattr(resource.model, slot.name)))
        if resource.model is ProgramSession:
            query = query.options(selectinload(ProgramSession.speakers))
        if resource.model is Speaker:
            query = query.options(selectinload(Speaker.sessions))  # type: ignore[attr-defined]
        rows = db.scalars(query).all()
        documents[resource.document_name] = [
            to_document(resource, row, tz, media_ref) for row in rows
        ]
    event_doc = to_document(EVENT, event, tz, media_ref)
    return EventSnapshot(event=event_doc, documents=documents,
                         media=[media[p] for p in sorted(media)])


def read_snapshot(engine: Engine, event_id: int) -> EventSnapshot:
    """Take the snapshot inside one read-only, consistent transaction.

    Organizers keep editing while a big export runs; without one transaction a session
    could reference a speaker deleted between two SELECTs. PostgreSQL gets
    ``REPEATABLE READ READ ONLY`` (a true snapshot, no locks taken). pysqlite does not
    open a transaction for SELECTs on its own, so one is begun explicitly; in WAL mode a
    read transaction sees one consistent state of the file until it ends.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        elif conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN DEFERRED")
        with Session(bind=conn) as db:
            try:
                return take_snapshot(db, event_id)
            finally:
                conn.rollback()
