"""Reader of Eventport's own archive (format ``eventport-archive``, version 1).

The archive is what :mod:`eventport.exports.formats.archive` writes: ``manifest.json``
listing every entry with size and SHA-256, one JSON document per resource in the API's
GET shape, media fields holding archive paths. Because it is our own format the reader
is strict — a field it does not know, an entry the manifest does not list, a hash that
does not match, a version newer than this code: each refuses the import, since any of
them would mean silently losing something.
"""

from __future__ import annotations

import json
import re
from typing import Any

from eventport.events.models import MediaKind
from eventport.events.resources import EVENT, KIND_DIRS, PROGRAM, Resource
from eventport.events.schemas import IDENTIFIER_PATTERN
from eventport.imports.errors import ImportRefused
from eventport.imports.model import EventData, ItemData, MediaRef, validate_fields
from eventport.imports.safezip import SafeZip

FORMAT = "eventport-archive"
VERSION = 1
MANIFEST = "manifest.json"
EVENT_DOCUMENT = "event.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def document_names() -> list[str]:
    """Every JSON document a v1 archive must contain."""
    return [EVENT_DOCUMENT, *(f"{r.document_name}.json" for r in PROGRAM)]


def _read_manifest(zf: SafeZip) -> dict[str, dict[str, Any]]:
    if MANIFEST not in zf:
        raise ImportRefused("manifest.json is missing: this is not an Eventport archive")
    manifest = _load_json(zf.read(MANIFEST), MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ImportRefused(f"manifest.json: format is not {FORMAT!r}")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ImportRefused(f"manifest.json: invalid version {version!r}")
    if version > VERSION:
        raise ImportRefused(f"this archive is version {version}, made by a newer Eventport; "
                            f"this server reads version {VERSION}. Upgrade it, then import.")
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
    return listed


def _load_json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{name} is not valid JSON: {exc}") from None


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
          doc: Any, where: str) -> ItemData:
    if not isinstance(doc, dict):
        raise ImportRefused(f"{where}: not a JSON object")
    source_id = doc.get("id")
    if not isinstance(source_id, int) or isinstance(source_id, bool):
        raise ImportRefused(f"{where}: id must be an integer")
    extra = {"id"} | {slot.name for slot in resource.media}
    if resource is EVENT:
        extra.add("identifier")
    if resource.name == "sessions":
        extra.add("uuid")
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
    if uuid is not None and not (isinstance(uuid, str) and _UUID.match(uuid)):
        raise ImportRefused(f"{where}: uuid {uuid!r} is not a UUID")
    return ItemData(source_id, where, values, media, uuid)


def read_archive(zf: SafeZip) -> EventData:
    """Check manifest, hashes and documents; media bytes are verified while staged."""
    listed = _read_manifest(zf)
    for name in document_names():
        if name not in listed:
            raise ImportRefused(f"{name} is missing from the archive")
    # Everything but media is verified here; media are hashed as they are copied out.
    for path, info in listed.items():
        if not path.startswith("media/") and path not in document_names():
            zf.verify(path, info["size"], info["sha256"])

    def document(name: str) -> Any:
        info = listed[name]
        return _load_json(zf.read_verified(name, info["size"], info["sha256"]), name)

    event_doc = document(EVENT_DOCUMENT)
    event = _item(zf, listed, EVENT, event_doc, EVENT_DOCUMENT)
    identifier = event_doc.get("identifier") if isinstance(event_doc, dict) else None
    data = EventData(format="archive", event=event,
                     identifier=identifier if isinstance(identifier, str)
                     and re.fullmatch(IDENTIFIER_PATTERN, identifier) else None)
    for resource in PROGRAM:
        name = f"{resource.document_name}.json"
        docs = document(name)
        if not isinstance(docs, list):
            raise ImportRefused(f"{name} must be a JSON list")
        data.items[resource.name] = [
            _item(zf, listed, resource, doc, f"{name} entry {index}")
            for index, doc in enumerate(docs, start=1)
        ]
    used = {ref.path for ref in data.media()}
    for path in listed:
        if path.startswith("media/") and path not in used:
            data.warnings.append(f"{path} is not used by any entity; not imported")
    data.check_references()
    return data
