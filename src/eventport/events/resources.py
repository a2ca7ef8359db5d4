"""The table of program resources: one row per entity, declared once, used everywhere.

The API routes, the archive exporter (documents and ``media/…`` paths) and the importer
all iterate :data:`RESOURCES` instead of knowing each entity: a resource names its
model, its writable fields (``*Fields`` schema), its media slots and its document. A
document is the JSON the API's GET returns; only the media references differ between
the API (a URL of the file) and the archive (the file's path inside the zip).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, create_model

from eventport.db.base import Base
from eventport.events import schemas
from eventport.events.models import (
    CustomFormField,
    Event,
    MediaFile,
    MediaKind,
    Microlocation,
    ProgramSession,
    SessionType,
    SocialLink,
    Speaker,
    Sponsor,
    Track,
)

#: Content types each media kind accepts (sniffed from the bytes, never from the client).
ACCEPTED_TYPES: dict[MediaKind, tuple[str, ...]] = {
    # No SVG: it can carry scripts, and we serve what organizers upload.
    MediaKind.IMAGE: ("image/jpeg", "image/png", "image/gif", "image/webp"),
    MediaKind.DOCUMENT: (
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/zip",
    ),
    MediaKind.AUDIO: ("audio/mpeg", "audio/ogg", "audio/x-wav", "audio/x-flac", "audio/mp4",
                      "audio/aac"),
    MediaKind.VIDEO: ("video/mp4", "video/webm", "video/quicktime", "video/x-matroska",
                      "video/mpeg", "video/x-msvideo", "video/x-m4v", "audio/ogg"),
}

#: Folder names under ``media/`` in the archive.
KIND_DIRS: dict[MediaKind, str] = {
    MediaKind.IMAGE: "images",
    MediaKind.DOCUMENT: "documents",
    MediaKind.AUDIO: "audio",
    MediaKind.VIDEO: "video",
}


@dataclass(frozen=True)
class MediaSlot:
    """An uploaded file a resource can hold (``photo``), next to its external link."""

    name: str
    kind: MediaKind


@dataclass(frozen=True)
class Resource:
    name: str  # API path segment and document name: "session-types" / "session_types.json"
    model: type[Base]
    fields: type[schemas._Fields]
    label_attr: str
    media: tuple[MediaSlot, ...] = ()
    document: str = ""
    references: dict[str, str] = field(default_factory=dict)  # fk attr -> resource name

    @property
    def document_name(self) -> str:
        return self.document or self.name.replace("-", "_")

    @property
    def create_schema(self) -> type[BaseModel]:
        return self.fields

    @property
    def update_schema(self) -> type[BaseModel]:
        return _partial(self.fields)

    @property
    def writable(self) -> tuple[str, ...]:
        return tuple(self.fields.model_fields)

    def media_slot(self, name: str) -> MediaSlot | None:
        return next((slot for slot in self.media if slot.name == name), None)


_partials: dict[type[BaseModel], type[BaseModel]] = {}


def _partial(model: type[BaseModel]) -> type[BaseModel]:
    """The same model with every field optional: the body of a PATCH."""
    if model not in _partials:
        overrides: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            annotation: Any = info.annotation
            if info.metadata:
                annotation = Annotated[(annotation, *info.metadata)]  # type: ignore[valid-type]
            overrides[name] = (annotation | None, None)
        _partials[model] = create_model(  # type: ignore[call-overload]
            model.__name__.replace("Fields", "Update"), __base__=model, **overrides
        )
    return _partials[model]


EVENT = Resource(
    name="event",
    model=Event,
    fields=schemas.EventFields,
    label_attr="name",
    media=(MediaSlot("logo", MediaKind.IMAGE), MediaSlot("background", MediaKind.IMAGE)),
)

#: Program resources under /api/v1/events/{event_id}/…, in dependency order (a
#: resource only references those before it), which is also the import order.
PROGRAM: tuple[Resource, ...] = (
    Resource("microlocations", Microlocation, schemas.MicrolocationFields, "name"),
    Resource("tracks", Track, schemas.TrackFields, "name"),
    Resource("session-types", SessionType, schemas.SessionTypeFields, "name"),
    Resource(
        "speakers", Speaker, schemas.SpeakerFields, "name", media=(MediaSlot("photo",
                                                                     MediaKind.IMAGE),)
    ),
    Resource(
        "sessions",
        ProgramSession,
        schemas.SessionFields,
        "title",
        media=(
            MediaSlot("slides", MediaKind.DOCUMENT),
            MediaSlot("audio", MediaKind.AUDIO),
            MediaSlot("video", MediaKind.VIDEO),
        ),
        references={
            "track_id": "tracks",
            "session_type_id": "session-types",
            "microlocation_id": "microlocations",
        },
    ),
    Resource("sponsors", Sponsor, schemas.SponsorFields, "name",
             media=(MediaSlot("logo", MediaKind.IMAGE),)),
    Resource("social-links", SocialLink, schemas.SocialLinkFields, "name"),
    Resource("forms", CustomFormField, schemas.FormFieldFields, "field_identifier"),
)

RESOURCES: dict[str, Resource] = {r.name: r for r in PROGRAM}


def media_extension(media: MediaFile) -> str:
    original = media.original_filename.rsplit(".", 1)
    if len(original) == 2 and re.fullmatch(r"[A-Za-z0-9]{1,8}", original[1]):
        return original[1].lower()
    return media.content_type.rsplit("/", 1)[-1].split("+")[0][:8] or "bin"


MediaRef = Callable[[Resource, Any, MediaSlot, MediaFile], str | None]


def to_local(value: dt.datetime | None, tz: zoneinfo.ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat()


def to_document(resource: Resource, row: Any, tz: zoneinfo.ZoneInfo, media_ref: MediaRef
                ) -> dict[str, Any]:
    """The API/archive JSON of one row; datetimes in the event's timezone with offset."""
    doc: dict[str, Any] = {"id": row.id, "uuid": row.uuid}
    for name in resource.writable:
        if name == "speaker_ids":
            doc[name] = sorted(speaker.id for speaker in row.speakers)
            continue
        value = getattr(row, name)
        doc[name] = to_local(value, tz) if isinstance(value, dt.datetime) else value
    if resource is EVENT:
        doc["identifier"] = row.identifier
    for slot in resource.media:
        media = getattr(row, slot.name)
        doc[slot.name] = media_ref(resource, row, slot, media) if media is not None else None
    if resource.model is Speaker:
        doc["session_ids"] = sorted(session.id for session in row.sessions)
    return doc


def api_media_ref(resource: Resource, row: Any, slot: MediaSlot, media: MediaFile) -> str:
    """Where the API serves a media file (GET on the upload path)."""
    if resource is EVENT:
        return f"/api/v1/events/{row.id}/{slot.name}"
    return f"/api/v1/events/{row.event_id}/{resource.name}/{row.id}/{slot.name}"
