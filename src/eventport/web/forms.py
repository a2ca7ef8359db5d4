"""Form fields generated from the resource table, the way the API routes are.

Each program resource's ``*Fields`` schema (:mod:`eventport.events.schemas`) already
says everything a form needs: the field names and types, which are required, lengths
and ranges, the choices of a ``Literal``, which ``*_id`` fields reference which
resource. :func:`fields_for` turns a schema into :class:`FormField` descriptions that one
template macro renders and one script (``form.js``) sends to the API as JSON — so a
field added to a schema appears in its form without touching the web layer. Only the
words (labels, singular names) live here.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from annotated_types import Ge, Le, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from eventport.events.resources import Resource

#: Singular and plural words for each resource of the table, by its API name.
NAMES: dict[str, tuple[str, str]] = {
    "event": ("Event", "Events"),
    "microlocations": ("Room", "Rooms"),
    "tracks": ("Track", "Tracks"),
    "session-types": ("Session type", "Session types"),
    "speakers": ("Speaker", "Speakers"),
    "sessions": ("Session", "Sessions"),
    "sponsors": ("Sponsor", "Sponsors"),
    "social-links": ("Social link", "Social links"),
    "forms": ("Form field", "Form fields"),
}

#: Labels that are not simply the field name in words.
LABELS = {
    "starts_at": "Starts", "ends_at": "Ends", "timezone": "Time zone",
    "microlocation_id": "Room", "track_id": "Track", "session_type_id": "Session type",
    "speaker_ids": "Speakers", "identifier": "Identifier (in feed URLs)",
    "location_name": "Venue", "is_featured": "Featured", "is_required": "Required",
    "is_included": "Included", "length": "Length (minutes)", "field_identifier": "Field",
    "short_abstract": "Abstract", "long_abstract": "Description", "url": "URL",
    "link": "URL", "contact_email": "Contact e-mail", "email": "E-mail",
    "code_of_conduct": "Code of conduct", "logo_url": "Logo URL (external)",
    "background_url": "Background URL (external)", "photo_url": "Photo URL (external)",
    "slides_url": "Slides URL (external)", "audio_url": "Audio URL (external)",
    "video_url": "Video URL (external)", "external_url": "Website", "ticket_url": "Tickets URL",
}

HINTS = {
    "identifier": "2–63 lowercase letters, digits and dashes; names the public feeds.",
    "timezone": "Times on this event's pages and in its feeds are in this zone.",
    "starts_at": "In the event's time zone.",
    "privacy": "Private events publish no feeds.",
    "color": "Used for the track in the schedule.",
}

TIMEZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})

#: Fields that are long text and get a text area.
LONG_TEXT_MIN = 10_000
URL_FIELDS = {"website", "link", "url"}


@dataclass
class FormField:
    name: str
    label: str
    widget: str         # text, textarea, email, url, number, decimal, checkbox, datetime,
    #                     select, color, reference, multi, timezone
    type: str           # how form.js encodes it: str, int, float, bool, datetime, id, ids
    required: bool
    nullable: bool
    hint: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    value: Any = None


def _args(annotation: Any) -> tuple[Any, bool]:
    """(inner annotation, nullable) of ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner[0], len(inner) < len(typing.get_args(annotation))
    return annotation, False


def _constraints(info: FieldInfo, inner: Any) -> dict[str, Any]:
    metadata = list(info.metadata)
    for extra in typing.get_args(inner)[1:] if typing.get_origin(inner) is typing.Annotated \
            else ():
        metadata.append(extra)
    for extra in getattr(inner, "__metadata__", ()):
        metadata.extend(getattr(extra, "metadata", [extra]))
    attrs: dict[str, Any] = {}
    for item in metadata:
        for part in getattr(item, "metadata", [item]):
            if isinstance(part, MaxLen):
                attrs["maxlength"] = part.max_length
            elif isinstance(part, MinLen) and part.min_length:
                attrs["minlength"] = part.min_length
            elif isinstance(part, Ge):
                attrs["min"] = part.ge
            elif isinstance(part, Le):
                attrs["max"] = part.le
            elif getattr(part, "pattern", None):
                attrs["pattern"] = str(part.pattern).strip("^$")
    return attrs


def _base_type(inner: Any) -> Any:
    while typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    return inner


def _widget(name: str, inner: Any, attrs: dict[str, Any],
            references: dict[str, str]) -> tuple[str, str, list[tuple[str, str]]]:
    base = _base_type(inner)
    if name in references:
        return "reference", "id", []
    if name == "speaker_ids":
        return "multi", "ids", []
    if name == "timezone":
        return "timezone", "str", [(tz, tz.replace("_", " ")) for tz in TIMEZONES]
    if typing.get_origin(base) is typing.Literal:
        values = [str(getattr(v, "value", v)) for v in typing.get_args(base)]
        return "select", "str", [(v, v.capitalize()) for v in values]
    if base is bool:
        return "checkbox", "bool", []
    if base is int:
        return "number", "int", []
    if base is float:
        return "decimal", "float", []
    if base is dt.datetime:
        return "datetime", "datetime", []
    if attrs.get("pattern", "").startswith("#"):
        return "color", "str", []
    if "email" in name:
        return "email", "str", []
    if name.endswith("_url") or name in URL_FIELDS:
        return "url", "str", []
    if attrs.get("maxlength", 0) >= LONG_TEXT_MIN:
        return "textarea", "str", []
    return "text", "str", []


def fields_for(schema: type[BaseModel], references: dict[str, str] | None = None,
               exclude: tuple[str, ...] = ()) -> list[FormField]:
    """One :class:`FormField` per writable field of ``schema``, in declaration order."""
    result = []
    for name, info in schema.model_fields.items():
        if name in exclude:
            continue
        inner, nullable = _args(info.annotation)
        attrs = _constraints(info, inner)
        widget, kind, choices = _widget(name, inner, attrs, references or {})
        if widget in ("color", "url", "email", "select", "timezone"):
            attrs.pop("pattern", None)
        result.append(FormField(
            name=name, label=LABELS.get(name, name.replace("_", " ").capitalize()),
            widget=widget, type=kind, required=info.is_required(), nullable=nullable,
            hint=HINTS.get(name, info.description or ""), choices=choices, attrs=attrs,
            value=None if info.is_required() else info.get_default(call_default_factory=True)))
    return result


#: Form order: short fields first (what a person fills in most), long texts, then links.
_GROUP = {"textarea": 1, "url": 2}


def ordered(fields: list[FormField]) -> list[FormField]:
    return sorted(fields, key=lambda f: _GROUP.get(f.widget, 0))  # stable within a group


def resource_fields(resource: Resource, exclude: tuple[str, ...] = ()) -> list[FormField]:
    return ordered(fields_for(resource.fields, resource.references, exclude))


def fill(fields: list[FormField], row: Any, tz: zoneinfo.ZoneInfo) -> list[FormField]:
    """Set each field's value from a row (datetimes as wall-clock time in ``tz``)."""
    for item in fields:
        value = getattr(row, item.name, None)
        if item.name == "speaker_ids":
            value = [s.id for s in getattr(row, "speakers", [])]
        elif isinstance(value, dt.datetime):
            value = value.astimezone(tz)
        item.value = value
    return fields


def datetime_value(value: Any) -> str:
    """What an ``<input type=datetime-local>`` shows for a (localized) datetime."""
    return value.strftime("%Y-%m-%dT%H:%M") if isinstance(value, dt.datetime) else ""

