"""The layout of an Eventport archive, in one place for the writer and the reader.

Format name and version, the documents and their order, where media live and how they
are named, which schedule files ride along — and the *portable* form of the documents
(docs/DESIGN.md *The archive*, version 2): no database id anywhere, every reference the other
entity's ``uuid``, media named by their owner's uuid, lists ordered by ``uuid`` (a key
that travels with the data). An event exported on one server, imported on another and
exported there again is therefore the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventport.events.models import MediaKind
from eventport.events.resources import EVENT, KIND_DIRS, PROGRAM, RESOURCES, MediaSlot, Resource

FORMAT_NAME = "eventport-archive"
#: What this code writes; it reads every version in :data:`READABLE_VERSIONS`.
VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
EVENT_DOCUMENT = "event.json"
MEDIA_KINDS = tuple(kind.value for kind in MediaKind)

#: Program documents in the order docs/DESIGN.md lists them (and the writer writes them).
DOCUMENT_ORDER = ("sessions", "speakers", "tracks", "session_types", "microlocations",
                  "sponsors", "social_links", "forms")

#: archive path, exporter identifier, content type of the schedule files.
SCHEDULE_FILES = (
    ("schedule/schedule.xml", "pentabarf", "application/xml"),
    ("schedule/schedule.json", "frab-json", "application/json"),
    ("schedule/event.ics", "ical", "text/calendar"),
    ("schedule/event.xcs", "xcal", "application/calendar+xml"),
)

#: Fields of a document that are not writable values (identity, media, derived lists).
DERIVED_FIELDS = ("id", "uuid", "identifier", "session_ids")


def document_names() -> list[str]:
    """Every JSON document an archive must contain, in the order it is written."""
    return [EVENT_DOCUMENT, *(f"{name}.json" for name in DOCUMENT_ORDER)]


def resource_of(document: str) -> Resource:
    """``session_types`` -> the session-types resource."""
    return next(r for r in PROGRAM if r.document_name == document)


def media_path(resource: Resource, owner_uuid: str, slot: MediaSlot, extension: str) -> str:
    """``media/images/speakers/<uuid>.jpg`` (``<uuid>-slides.pdf`` for multi-slot owners)."""
    folder = "event" if resource is EVENT else resource.name
    stem = owner_uuid if len(resource.media) == 1 else f"{owner_uuid}-{slot.name}"
    return f"media/{KIND_DIRS[slot.kind]}/{folder}/{stem}.{extension}"


def _relabel(resource: Resource, doc: dict[str, Any], labels: dict[str, dict[int, Any]],
             own: Any) -> dict[str, Any]:
    out = {key: value for key, value in doc.items() if key != "id"}
    if own is not None:
        out["id"] = own
    for attr, target in resource.references.items():
        if out.get(attr) is not None:
            out[attr] = labels[target].get(out[attr])
    for attr, target in (("speaker_ids", "speakers"), ("session_ids", "sessions")):
        if attr in out:
            out[attr] = sorted(labels[target][i] for i in out[attr] if i in labels[target])
    return out


def relabel(event: dict[str, Any], documents: dict[str, list[dict[str, Any]]],
            label: Callable[[dict[str, Any]], Any], *, keep_id: bool
            ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Documents with each database id (own and referenced) replaced by ``label(doc)``.

    ``keep_id``: the label becomes the document's ``id`` (schedule formats need numbers);
    otherwise ``id`` is dropped (the archive: the ``uuid`` is the identity).
    """
    labels = {
        resource.name: {doc["id"]: label(doc) for doc in documents.get(resource.document_name, [])}
        for resource in PROGRAM
    }
    converted = {
        resource.document_name: [
            _relabel(resource, doc, labels, label(doc) if keep_id else None)
            for doc in documents.get(resource.document_name, [])
        ]
        for resource in PROGRAM if resource.document_name in documents
    }
    return _relabel(EVENT, event, labels, event.get("id") if keep_id else None), converted


def portable_documents(event: dict[str, Any], documents: dict[str, list[dict[str, Any]]]
                       ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The archive (v2) form of a snapshot's documents: uuids instead of database ids,
    lists ordered by uuid."""
    event, converted = relabel(event, documents, lambda doc: doc["uuid"], keep_id=False)
    return event, {name: sorted(docs, key=lambda doc: str(doc["uuid"]))
                   for name, docs in converted.items()}


__all__ = ["DOCUMENT_ORDER", "EVENT_DOCUMENT", "FORMAT_NAME", "MANIFEST", "MEDIA_KINDS",
           "READABLE_VERSIONS", "RESOURCES", "SCHEDULE_FILES", "VERSION", "document_names",
           "media_path", "portable_documents", "relabel", "resource_of"]
