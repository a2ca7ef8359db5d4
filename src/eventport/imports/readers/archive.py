"""Reader of Eventport's own archive (format ``eventport-archive``, versions 1 and 2).

The archive is what :mod:`eventport.exports.formats.archive` writes, laid out as
:mod:`eventport.events.archive_layout` says: ``manifest.json`` listing every entry with
size and SHA-256, one JSON document per resource in the API's GET shape, media fields
holding archive paths. Version 2 references entities by ``uuid``; version 1 by the
writing server's ids (its entities get uuids derived from those, so re-reading the same
v1 archive gives the same uuids). Because it is our own format the reader
is strict — a field it does not know, an entry the manifest does not list, a hash that
does not match, a version newer than this code: each refuses the import, since any of
them would mean silently losing something.
"""

from __future__ import annotations

import json
import re
from typing import Any

from eventport.events.archive_layout import (
    EVENT_DOCUMENT,
    FORMAT_NAME,
    MANIFEST,
    READABLE_VERSIONS,
    document_names,
)
from eventport.events.models import MediaKind
from eventport.events.resources import EVENT, KIND_DIRS, PROGRAM, Resource
from eventport.events.schemas import IDENTIFIER_PATTERN
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData, ItemData, MediaRef, singular, validate_fields
from eventport.imports.safezip import SafeZip
from eventport.naming import derived_uuid, is_uuid, normal_uuid

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _read_manifest(zf: SafeZip) -> tuple[int, dict[str, dict[str, Any]]]:
    if MANIFEST not in zf:
        raise ImportRefused("manifest.json is missing: this is not an Eventport archive")
    manifest = _load_json(zf.read(MANIFEST), MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ImportRefused(f"manifest.json: format is not {FORMAT_NAME!r}")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ImportRefused(f"manifest.json: invalid version {version!r}")
    if version not in READABLE_VERSIONS:
        raise ImportRefused(f"this archive is version {version}, made by a newer Eventport; "
                            f"this server reads versions {READABLE_VERSIONS[0]} to "
                            f"{READABLE_VERSIONS[-1]}. Upgrade it, then import.")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise ImportRefused("manifest.json: 'files' must be a list")
    listed: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(files, start=1):
        where = f"manifest.json files entry {index}"
        if not isinstance(entry, dict):
            raise ImportRefused(f"{where}: not an object")
        path, size, sha = entry.get("path"), entry.get("size"), entry.get("sha256")
        if not isinstance(path, str) or not path:
            raise ImportRefused(f"{where}: path missing")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ImportRefused(f"{where} ({path}): invalid size {size!r}")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ImportRefused(f"{where} ({path}): invalid sha256")
        if path in listed:
            raise ImportRefused(f"{where}: {path} is listed twice")
        if path == MANIFEST:
            raise ImportRefused(f"{where}: the manifest cannot list itself")
        if path not in zf:
            raise ImportRefused(f"{path} is listed in manifest.json but missing from the archive")
        if zf.info(path).file_size != size:
            raise ImportRefused(f"{path} does not match manifest.json (size differs); the "
                                "archive was altered or damaged")
        listed[path] = {"size": size, "sha256": sha,
                        "content_type": entry.get("content_type")}
    for name in zf.names():
        if name != MANIFEST and name not in listed:
            raise ImportRefused(f"{name} is in the archive but not listed in manifest.json")
    return version, listed


def _load_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{name} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ImportRefused(f"{name} is nested too deeply to be read") from None


def _media(zf: SafeZip, listed: dict[str, dict[str, Any]], value: Any, kind: MediaKind,
           where: str) -> MediaRef | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in listed:
        raise ImportRefused(f"{where}: {value!r} is not a file listed in the archive")
    if not value.startswith(f"media/{KIND_DIRS[kind]}/"):
        raise ImportRefused(f"{where}: {value} is not under media/{KIND_DIRS[kind]}/")
    info = listed[value]
    return MediaRef(value, kind, where, info["size"], info["sha256"])


def _item(zf: SafeZip, listed: dict[str, dict[str, Any]], resource: Resource,
          doc: dict[str, Any], where: str) -> ItemData:
    source_id = doc.get("id")
    if not isinstance(source_id, int) or isinstance(source_id, bool):
        raise ImportRefused(f"{where}: id must be an integer")
    extra = {"id", "uuid"} | {slot.name for slot in resource.media}
    if resource is EVENT:
        extra.add("identifier")
    if resource.name == "speakers":
        extra.add("session_ids")  # derived from sessions' speaker_ids; not written twice
    unknown = sorted(set(doc) - set(resource.writable) - extra)
    if unknown:
        raise ImportRefused(f"{where}: unknown field {unknown[0]!r} (is the archive from a "
                            "newer Eventport?)")
    values = validate_fields(resource, {k: doc[k] for k in resource.writable if k in doc},
                             where)
    media = {}
    for slot in resource.media:
        ref = _media(zf, listed, doc.get(slot.name), slot.kind, f"{where}: {slot.name}")
        if ref is not None:
            media[slot.name] = ref
    uuid = doc.get("uuid")
    if uuid is not None and not is_uuid(uuid):
        raise ImportRefused(f"{where}: uuid {uuid!r} is not a UUID")
    return ItemData(source_id, where, values, media, normal_uuid(uuid) if uuid else None)


def _objects(docs: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(docs, list):
        raise ImportRefused(f"{name} must be a JSON list")
    for index, doc in enumerate(docs, start=1):
        if not isinstance(doc, dict):
            raise ImportRefused(f"{name} entry {index}: not a JSON object")
    return docs


def _lookup(ids: dict[str, int], value: Any, where: str, kind: str) -> int:
    if not isinstance(value, str) or value not in ids:
        raise ImportRefused(f"{where}: {kind} {value!r} does not exist")
    return ids[value]


def _number_v2(event: dict[str, Any], docs: dict[str, list[dict[str, Any]]]) -> None:
    """Version 2 refers by uuid: give each document a reader-local id (its position) and
    translate every reference to it, so the rest of the import is the same for v1 and v2."""
    ids: dict[str, dict[str, int]] = {}
    for resource in PROGRAM:
        known = ids.setdefault(resource.name, {})
        for index, doc in enumerate(docs[resource.name], start=1):
            where = f"{resource.document_name}.json entry {index}"
            if "id" in doc or not is_uuid(doc.get("uuid")):
                raise ImportRefused(f"{where}: a version 2 document has a uuid and no id")
            if doc["uuid"] in known:
                raise ImportRefused(f"{where}: uuid {doc['uuid']} appears twice")
            known[doc["uuid"]] = doc["id"] = index
    for resource in PROGRAM:
        refs = {**resource.references, "speaker_ids": "speakers", "session_ids": "sessions"}
        for index, doc in enumerate(docs[resource.name], start=1):
            where = f"{resource.document_name}.json entry {index}"
            for attr, target in refs.items():
                value = doc.get(attr)
                if isinstance(value, list):
                    doc[attr] = [_lookup(ids[target], v, where, singular(target)) for v in value]
                elif value is not None:
                    doc[attr] = _lookup(ids[target], value, where, singular(target))
    if "id" in event:
        raise ImportRefused(f"{EVENT_DOCUMENT}: a version 2 document has a uuid and no id")
    event["id"] = 0


def _derive_v1_uuids(data: EventData, event_doc: dict[str, Any]) -> None:
    """v1 archives name only sessions by uuid: derive the others from the writing server's
    ids, so that importing the same v1 archive twice gives the same uuids."""
    origin = f"{event_doc.get('identifier')}/{event_doc.get('id')}"
    if data.event.uuid is None:
        data.event.uuid = derived_uuid("eventport-archive-v1", origin, "event")
    for resource in PROGRAM:
        for item in data.items[resource.name]:
            if item.uuid is None:
                item.uuid = derived_uuid("eventport-archive-v1", origin, resource.name,
                                        item.source_id)


def _document(zf: SafeZip, listed: dict[str, dict[str, Any]], name: str) -> Any:
    info = listed[name]
    return _load_json(zf.read_verified(name, info["size"], info["sha256"]), name)


def _event_data(zf: SafeZip, listed: dict[str, dict[str, Any]], event_doc: dict[str, Any]
                ) -> EventData:
    """The result, holding the event so far (the program is added by the caller)."""
    identifier = event_doc.get("identifier")
    return EventData(format="archive", event=_item(zf, listed, EVENT, event_doc, EVENT_DOCUMENT),
                     identifier=identifier if isinstance(identifier, str)
                     and re.fullmatch(IDENTIFIER_PATTERN, identifier) else None)


def probe_archive(zf: SafeZip) -> EventData:
    """The event alone, from manifest.json and event.json (no media entry and no other
    document is read): enough to know the source's event uuid before a job is queued."""
    version, listed = _read_manifest(zf)
    if EVENT_DOCUMENT not in listed:
        raise ImportRefused(f"{EVENT_DOCUMENT} is missing from the archive")
    event_doc = _document(zf, listed, EVENT_DOCUMENT)
    if not isinstance(event_doc, dict):
        raise ImportRefused(f"{EVENT_DOCUMENT}: not a JSON object")
    if version >= 2:
        if "id" in event_doc:
            raise ImportRefused(f"{EVENT_DOCUMENT}: a version 2 document has a uuid and no id")
        event_doc["id"] = 0
    data = _event_data(zf, listed, event_doc)
    if version == 1:
        _derive_v1_uuids(data, event_doc)
    return data


def _archive_zone(data: EventData, event_doc: dict[str, Any], zone: str | None) -> None:
    """An archive always states its event's zone (our exporter writes it), which wins;
    one that does not (hand-made) takes the ``timezone`` option."""
    stated = event_doc.get("timezone")
    if stated and zone and stated != zone:
        data.warnings.append(f"{EVENT_DOCUMENT} names its time zone, {stated}; it wins over "
                             f"{zone}")
    elif not stated and zone:
        data.event.values["timezone"] = zone


def read_archive(zf: SafeZip, zone: str | None = None) -> EventData:
    """Check manifest, hashes and documents; media bytes are verified while staged."""
    version, listed = _read_manifest(zf)
    names = document_names()
    for name in names:
        if name not in listed:
            raise ImportRefused(f"{name} is missing from the archive")
    # Everything but media is verified here; media are hashed as they are copied out.
    for path, info in listed.items():
        if not path.startswith("media/") and path not in names:
            zf.verify(path, info["size"], info["sha256"])

    event_doc = _document(zf, listed, EVENT_DOCUMENT)
    if not isinstance(event_doc, dict):
        raise ImportRefused(f"{EVENT_DOCUMENT}: not a JSON object")
    docs = {r.name: _objects(_document(zf, listed, f"{r.document_name}.json"),
                             f"{r.document_name}.json") for r in PROGRAM}
    if version >= 2:
        _number_v2(event_doc, docs)
    data = _event_data(zf, listed, event_doc)
    for resource in PROGRAM:
        data.items[resource.name] = [
            _item(zf, listed, resource, doc, f"{resource.document_name}.json entry {index}")
            for index, doc in enumerate(docs[resource.name], start=1)
        ]
    if version == 1:
        _derive_v1_uuids(data, event_doc)
    _archive_zone(data, event_doc, zone)
    used = {ref.path for ref in data.media()}
    for path in listed:
        if path.startswith("media/") and path not in used:
            data.warnings.append(f"{path} is not used by any entity; not imported")
    data.warnings.extend(_missing_warnings(zf))
    data.check_references()
    return data


def _missing_warnings(zf: SafeZip) -> list[str]:
    """Honour the manifest's ``missing`` list: media the exporting server could not find
    (their references are null) are named, so the importer knows what it does not get."""
    missing = _load_json(zf.read(MANIFEST), MANIFEST).get("missing")
    if not isinstance(missing, list):
        return []
    return [f"{item['path']} was missing from the exporting server's storage; not imported"
            for item in missing if isinstance(item, dict) and isinstance(item.get("path"), str)]
