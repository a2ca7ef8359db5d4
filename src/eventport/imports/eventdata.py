"""The in-memory description of an event a reader produces and the importer writes.

Every reader (Eventport archive, Open Event, frab XML) turns its file into one
:class:`EventData`: field values already validated by the same pydantic ``*Fields``
schemas the API uses, references still expressed in the *file's* ids, and media as
pointers to entries of the upload (never URLs — links stay links). The importer can then
check every relation before it opens a transaction, remap ids while writing, and a dry
run can report exactly what would be created without touching the database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from eventport.events.models import MediaKind
from eventport.events.resources import EVENT, PROGRAM, RESOURCES, Resource
from eventport.imports.errors import ImportRefused


@dataclass(frozen=True)
class MediaRef:
    """A file inside the upload that becomes a media file of one entity's slot."""

    path: str  # entry name inside the zip
    kind: MediaKind
    where: str  # "speakers.json entry 3: photo", for error messages
    size: int | None = None  # declared by a manifest, when the format has one
    sha256: str | None = None


@dataclass
class ItemData:
    """One row to create: validated writable values + media, keyed by the file's id."""

    source_id: int
    where: str  # "sessions.json entry 17"
    values: dict[str, Any]
    media: dict[str, MediaRef] = field(default_factory=dict)  # slot name -> file
    uuid: str | None = None  # sessions: kept so frab guids stay stable across instances


@dataclass
class EventData:
    format: str
    event: ItemData
    identifier: str | None = None
    items: dict[str, list[ItemData]] = field(
        default_factory=lambda: {resource.name: [] for resource in PROGRAM}
    )
    warnings: list[str] = field(default_factory=list)

    def media(self) -> list[MediaRef]:
        """Every media reference, event first, in import order (one entry per use)."""
        refs = list(self.event.media.values())
        for resource in PROGRAM:
            for item in self.items[resource.name]:
                refs.extend(item.media.values())
        return refs

    def counts(self) -> dict[str, int]:
        """What an import creates, as a dry run reports it."""
        counts = {"events": 1}
        counts.update({resource.name: len(self.items[resource.name]) for resource in PROGRAM})
        counts["media"] = len(self.media())
        return counts

    def check_references(self) -> None:
        """Every reference points at an item of the same file: refuse before writing."""
        known = {
            resource.name: {item.source_id for item in self.items[resource.name]}
            for resource in PROGRAM
        }
        for resource in PROGRAM:
            seen: set[int] = set()
            for item in self.items[resource.name]:
                if item.source_id in seen:
                    raise ImportRefused(f"{item.where}: id {item.source_id} appears twice")
                seen.add(item.source_id)
                for attr, target in resource.references.items():
                    ref = item.values.get(attr)
                    if ref is not None and ref not in known[target]:
                        raise ImportRefused(
                            f"{item.where}: {singular(target)} {ref} does not exist"
                        )
                for speaker in item.values.get("speaker_ids", ()):
                    if speaker not in known["speakers"]:
                        raise ImportRefused(f"{item.where}: speaker {speaker} does not exist")
        paths = Counter(ref.path for ref in self.media())
        # One file used by two slots would become one object owned by two rows; the
        # exporter never writes that, and deleting either row would break the other.
        for ref in self.media():
            if paths[ref.path] > 1:
                raise ImportRefused(f"{ref.where}: {ref.path} is used by more than one entity")


def singular(resource_name: str) -> str:
    """``session-types`` -> ``session type`` (for messages)."""
    name = resource_name.replace("-", " ")
    return name[:-1] if name.endswith("s") else name


def _describe(error: Any) -> str:
    loc = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    return f"{loc}: {message}" if loc else message


def validate_fields(
    resource: Resource, values: dict[str, Any], where: str, warnings: list[str] | None = None
) -> dict[str, Any]:
    """Validate with the API's schema; returns the values the service layer takes.

    Strict (``warnings is None``, our own archive): any error refuses the import.
    Lenient (other systems' files): an invalid *optional* field is dropped with a
    warning — a malformed website link must not block a 500-talk schedule — while an
    invalid required field still refuses, because the row could not exist without it.
    """
    schema: type[BaseModel] = EVENT.fields if resource is EVENT else resource.fields
    values = dict(values)
    for _ in range(3):
        try:
            model = schema.model_validate(values)
        except ValidationError as exc:
            errors = exc.errors()
            if warnings is None:
                raise ImportRefused(f"{where}: {_describe(errors[0])}") from None
            dropped = False
            for error in errors:
                name = str(error["loc"][0]) if error.get("loc") else ""
                info = schema.model_fields.get(name)
                if info is None or info.is_required() or name not in values:
                    raise ImportRefused(f"{where}: {_describe(error)}") from None
                warnings.append(f"{where}: {name} left out ({error.get('msg', 'invalid')})")
                values.pop(name)
                dropped = True
            if not dropped:  # pragma: no cover - defensive
                raise ImportRefused(f"{where}: {_describe(errors[0])}") from None
            continue
        return model.model_dump()
    raise ImportRefused(f"{where}: too many invalid fields")


__all__ = [
    "RESOURCES",
    "EventData",
    "ItemData",
    "MediaRef",
    "singular",
    "validate_fields",
]
