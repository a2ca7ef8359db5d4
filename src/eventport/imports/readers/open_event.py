"""Reader of Open Event exports: the legacy zip and the older v1 JSON.

Both are a folder of JSON documents (``event``, ``sessions``, ``speakers``, ``tracks``,
``microlocations``, ``session_types``, ``sponsors``, ``forms``, ``meta``; with or without
``.json``, at the zip's root or in one top folder). The legacy zip uses underscore keys
and puts media under ``images/``, ``slides/``, ``audios/``, ``videos/``, referenced by
in-zip paths; the v1 JSON uses hyphenated keys, nested relations (``"track": {"id": 3}``)
and absolute media URLs. Keys are normalised to underscores and both shapes accepted.

Media: an in-zip path becomes a media file; an ``http(s)`` URL stays a *link* on the
entity (``photo_url``) and is never fetched; a path that is not in the zip becomes a link
under ``meta.root_url`` when the export names its server, and is reported. The reader is
lenient with what it reads (another system wrote it): an invalid optional field is
dropped with a warning, but a broken relation still refuses the import.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import defaultdict
from typing import Any
from urllib.parse import urljoin

from eventport.events.models import MediaKind, SessionState
from eventport.events.resources import EVENT, RESOURCES, Resource
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData, ItemData, MediaRef, validate_fields
from eventport.imports.safezip import SafeZip

DOCUMENTS = ("event", "meta", "forms", "microlocations", "sessions", "session_types",
             "speakers", "sponsors", "tracks", "social_links")
_STATES = {
    "draft": SessionState.DRAFT, "pending": SessionState.SUBMITTED,
    "submitted": SessionState.SUBMITTED, "accepted": SessionState.ACCEPTED,
    "confirmed": SessionState.CONFIRMED, "rejected": SessionState.REJECTED,
    "withdrawn": SessionState.WITHDRAWN, "canceled": SessionState.WITHDRAWN,
    "cancelled": SessionState.WITHDRAWN,
}
_SPEAKER_TEXT = ("email", "mobile", "organisation", "position", "country", "city",
                 "short_biography", "long_biography", "website", "twitter", "mastodon",
                 "github", "linkedin", "facebook")
_SESSION_TEXT = ("title", "subtitle", "short_abstract", "long_abstract", "comments",
                 "language", "level")


def locate_documents(zf: SafeZip) -> dict[str, str] | None:
    """Map document name -> zip entry, or None when this is not an Open Event export."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for name in zf.names():
        folder, base = posixpath.split(name)
        stem = base[:-5] if base.endswith(".json") else base
        if stem in DOCUMENTS and folder.count("/") == 0:
            found[folder].setdefault(stem, name)
    folders = [folder for folder, docs in found.items() if "event" in docs]
    if len(folders) != 1:
        return None
    return found[folders[0]]


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).replace("-", "_"): v for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _ref(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("id")
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ImportRefused(f"reference {value!r} is not an id") from None


def _minutes(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = re.fullmatch(r"(\d+):(\d{1,2})(?::(\d{1,2}))?", str(value).strip())
    if match:
        return int(match[1]) * 60 + int(match[2])
    return None


class _Reader:
    def __init__(self, zf: SafeZip, documents: dict[str, str]) -> None:
        self.zf = zf
        self.documents = documents
        self.prefix = posixpath.dirname(documents["event"])
        self.warnings: list[str] = []
        self.by_stem: dict[str, str] = {}
        for name in zf.names():
            stem, _ = posixpath.splitext(name)
            self.by_stem.setdefault(stem, name)
        meta = self.load("meta") if "meta" in documents else {}
        self.root_url = _text(meta.get("root_url")) if isinstance(meta, dict) else ""
        self.unresolved: dict[str, int] = defaultdict(int)

    def load(self, stem: str) -> Any:
        name = self.documents.get(stem)
        if name is None:
            return None
        try:
            return json.loads(self.zf.read(name))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImportRefused(f"{name} is not valid JSON: {exc}") from None

    def load_list(self, stem: str) -> list[dict[str, Any]]:
        docs = self.load(stem)
        if docs is None:
            return []
        if isinstance(docs, dict) and isinstance(docs.get("data"), list):
            docs = docs["data"]  # some exports wrap the list like the API page does
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            raise ImportRefused(f"{self.documents[stem]} must be a JSON list of objects")
        return [_norm(doc) for doc in docs]

    def media(self, doc: dict[str, Any], keys: tuple[str, ...], kind: MediaKind, where: str,
              document: str) -> tuple[MediaRef | None, str]:
        """(in-zip file, link) for a media value; never both, never a fetch."""
        value = next((doc[k] for k in keys if isinstance(doc.get(k), str) and doc[k].strip()),
                     None)
        if value is None:
            return None, ""
        value = value.strip()
        if re.match(r"^https?://", value, re.IGNORECASE):
            return None, value
        relative = value.lstrip("/")
        if ".." not in relative.split("/") and "\\" not in relative:
            path = posixpath.join(self.prefix, relative) if self.prefix else relative
            name = path if path in self.zf else self.by_stem.get(path)
            if name is not None and name not in self.documents.values():
                return MediaRef(name, kind, where), ""
        self.unresolved[document] += 1
        if self.root_url and re.match(r"^https?://", self.root_url, re.IGNORECASE):
            return None, urljoin(self.root_url.rstrip("/") + "/", relative)
        return None, ""

    def fields(self, resource: Resource, values: dict[str, Any], where: str
               ) -> dict[str, Any]:
        return validate_fields(resource, values, where, self.warnings)

    def source_id(self, doc: dict[str, Any], index: int, where: str) -> int:
        if doc.get("id") is None:
            return -index  # never referenced by another document, so any unique id does
        try:
            return int(doc["id"])
        except (TypeError, ValueError):
            raise ImportRefused(f"{where}: id {doc['id']!r} is not a number") from None


def read_open_event(zf: SafeZip) -> EventData:
    documents = locate_documents(zf)
    if documents is None:
        raise ImportRefused("no Open Event 'event' document found (expected at the zip's "
                            "root or in one top folder)")
    r = _Reader(zf, documents)
    raw_event = r.load("event")
    if not isinstance(raw_event, dict):
        raise ImportRefused(f"{documents['event']} must be a JSON object")
    ev = _norm(raw_event)
    event_where = posixpath.basename(documents["event"])
    logo, logo_url = r.media(ev, ("logo", "logo_url"), MediaKind.IMAGE, f"{event_where}: logo",
                             "event")
    background, background_url = r.media(
        ev, ("background_image", "background_url", "original_image_url", "large"),
        MediaKind.IMAGE, f"{event_where}: background", "event")
    event_state = _text(ev.get("state")).lower()
    values: dict[str, Any] = {
        "name": _text(ev.get("name")),
        "description": _text(ev.get("description")),
        "starts_at": ev.get("starts_at") or ev.get("start_time"),
        "ends_at": ev.get("ends_at") or ev.get("end_time"),
        "timezone": _text(ev.get("timezone")) or "UTC",
        "location_name": _text(ev.get("location_name")),
        "latitude": ev.get("latitude"),
        "longitude": ev.get("longitude"),
        "logo_url": logo_url,
        "background_url": background_url,
        "owner_name": _text(ev.get("organizer_name") or ev.get("owner_name")),
        "owner_description": _text(ev.get("organizer_description")
                                   or ev.get("owner_description")),
        "contact_email": _text(ev.get("email") or ev.get("contact_email")),
        "external_url": _text(ev.get("event_url") or ev.get("external_url")),
        "ticket_url": _text(ev.get("ticket_url")),
        "privacy": _text(ev.get("privacy")).lower() or "public",
        "code_of_conduct": _text(ev.get("code_of_conduct")),
        "state": "published" if event_state in ("published", "completed") else "draft",
    }
    if not values["starts_at"] or not values["ends_at"]:
        raise ImportRefused(f"{event_where}: starts-at and ends-at are required")
    event = ItemData(_ref(ev.get("id")) or 0, event_where,
                     r.fields(EVENT, values, event_where),
                     {k: v for k, v in (("logo", logo), ("background", background)) if v})
    identifier = _text(ev.get("identifier")).lower() or None
    if identifier and not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", identifier):
        identifier = None
    data = EventData(format="open-event", event=event, identifier=identifier,
                     warnings=r.warnings)

    def name_of(stem: str) -> str:
        return posixpath.basename(documents.get(stem, stem))

    for index, doc in enumerate(r.load_list("microlocations"), start=1):
        where = f"{name_of('microlocations')} entry {index}"
        data.items["microlocations"].append(ItemData(r.source_id(doc, index, where), where,
            r.fields(RESOURCES["microlocations"], {
                "name": _text(doc.get("name")), "floor": doc.get("floor"),
                "position": doc.get("position") or 0,
                "latitude": doc.get("latitude"), "longitude": doc.get("longitude"),
            }, where)))

    for index, doc in enumerate(r.load_list("tracks"), start=1):
        where = f"{name_of('tracks')} entry {index}"
        values = {"name": _text(doc.get("name")), "description": _text(doc.get("description"))}
        if _text(doc.get("color")):
            values["color"] = _text(doc.get("color"))
        data.items["tracks"].append(ItemData(r.source_id(doc, index, where), where,
                                             r.fields(RESOURCES["tracks"], values, where)))

    for index, doc in enumerate(r.load_list("session_types"), start=1):
        where = f"{name_of('session_types')} entry {index}"
        values = {"name": _text(doc.get("name"))}
        length = _minutes(doc.get("length"))
        if length:
            values["length"] = length
        data.items["session-types"].append(ItemData(
            r.source_id(doc, index, where), where,
            r.fields(RESOURCES["session-types"], values, where)))

    links: dict[int, set[int]] = defaultdict(set)  # session id -> speaker ids
    for index, doc in enumerate(r.load_list("speakers"), start=1):
        where = f"{name_of('speakers')} entry {index}"
        source_id = r.source_id(doc, index, where)
        photo, photo_url = r.media(doc, ("photo", "photo_url"), MediaKind.IMAGE,
                                   f"{where}: photo", "speakers")
        values = {key: _text(doc.get(key)) for key in _SPEAKER_TEXT}
        values.update(name=_text(doc.get("name")), photo_url=photo_url)
        data.items["speakers"].append(ItemData(source_id, where,
                                               r.fields(RESOURCES["speakers"], values, where),
                                               {"photo": photo} if photo else {}))
        for session in doc.get("sessions") or []:
            session_id = _ref(session)
            if session_id is not None:
                links[session_id].add(source_id)

    session_ids: set[int] = set()
    embedded: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in _EMBEDDED.values()}
    for index, doc in enumerate(r.load_list("sessions"), start=1):
        where = f"{name_of('sessions')} entry {index}"
        source_id = r.source_id(doc, index, where)
        session_ids.add(source_id)
        values = {key: _text(doc.get(key)) for key in _SESSION_TEXT}
        state_name = _text(doc.get("state")).lower()
        state: SessionState | None = _STATES.get(state_name)
        if state is None:
            if state_name:
                r.warnings.append(f"{where}: unknown state {state_name!r} read as submitted")
            state = SessionState.SUBMITTED
        speakers = {_ref(s) for s in doc.get("speakers") or []} | links.get(source_id, set())
        values.update(
            starts_at=doc.get("starts_at") or None,
            ends_at=doc.get("ends_at") or None,
            state=state,
            is_featured=bool(doc.get("is_featured")),
            track_id=_ref(doc.get("track", doc.get("track_id"))),
            session_type_id=_ref(doc.get("session_type", doc.get("session_type_id"))),
            microlocation_id=_ref(doc.get("microlocation", doc.get("microlocation_id"))),
            speaker_ids=sorted(s for s in speakers if s is not None),
        )
        media = {}
        for slot, keys, kind in (("slides", ("slides", "slides_url"), MediaKind.DOCUMENT),
                                 ("audio", ("audio", "audio_url"), MediaKind.AUDIO),
                                 ("video", ("video", "video_url"), MediaKind.VIDEO)):
            ref, link = r.media(doc, keys, kind, f"{where}: {slot}", "sessions")
            values[f"{slot}_url"] = link
            if ref:
                media[slot] = ref
        data.items["sessions"].append(ItemData(source_id, where,
                                               r.fields(RESOURCES["sessions"], values, where),
                                               media))
        for key, target in _EMBEDDED.items():
            ref_id = _ref(doc.get(key)) if isinstance(doc.get(key), dict) else None
            if ref_id is not None:
                embedded[target].setdefault(ref_id, doc[key])
    dangling = sorted(set(links) - session_ids)
    if dangling:
        r.warnings.append(f"{name_of('speakers')}: links to {len(dangling)} session(s) that "
                          f"do not exist were left out (ids {', '.join(map(str, dangling[:10]))}"
                          f"{', …' if len(dangling) > 10 else ''})")

    for index, doc in enumerate(r.load_list("sponsors"), start=1):
        where = f"{name_of('sponsors')} entry {index}"
        logo_ref, sponsor_logo_url = r.media(doc, ("logo", "logo_url"), MediaKind.IMAGE,
                                             f"{where}: logo", "sponsors")
        values = {"name": _text(doc.get("name")), "description": _text(doc.get("description")),
                  "url": _text(doc.get("url")),
                  "sponsor_type": _text(doc.get("sponsor_type") or doc.get("type")),
                  "logo_url": sponsor_logo_url}
        if _text(doc.get("level")):
            values["level"] = _text(doc.get("level"))
        data.items["sponsors"].append(ItemData(r.source_id(doc, index, where), where,
                                               r.fields(RESOURCES["sponsors"], values, where),
                                               {"logo": logo_ref} if logo_ref else {}))

    social = r.load_list("social_links") or [_norm(s) for s in ev.get("social_links") or []
                                              if isinstance(s, dict)]
    for index, doc in enumerate(social, start=1):
        where = f"social links entry {index}"
        data.items["social-links"].append(ItemData(
            r.source_id(doc, index, where), where,
            r.fields(RESOURCES["social-links"],
                     {"name": _text(doc.get("name")), "link": _text(doc.get("link"))}, where)))

    _read_forms(r, data)
    _resolve_references(r, data, embedded)
    for document, count in sorted(r.unresolved.items()):
        how = (f"kept as links under {r.root_url}" if r.root_url
               else "left out (no root_url in meta)")
        r.warnings.append(f"{document}: {count} media path(s) are not in the file; {how}")
    data.check_references()
    return data


#: session key of an embedded object -> the resource it names
_EMBEDDED = {"track": "tracks", "session_type": "session-types", "microlocation": "microlocations"}


def _embedded_values(kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"name": _text(doc.get("name")) or f"{kind} {doc.get('id')}"}
    if kind == "session-types" and _minutes(doc.get("length")):
        values["length"] = _minutes(doc.get("length"))
    if kind == "tracks" and _text(doc.get("color")):
        values["color"] = _text(doc.get("color"))
    return values


def _resolve_references(r: _Reader, data: EventData,
                        embedded: dict[str, dict[int, dict[str, Any]]]) -> None:
    """Sessions that carry a track, session type or room inline create it when the export
    has no list of them; a reference to nothing is a warning naming the session (and the
    reference is dropped), never a refused import."""
    for kind, objects in embedded.items():
        stem = RESOURCES[kind].document_name
        if stem in r.documents or data.items[kind]:
            continue
        for ref_id, doc in sorted(objects.items()):
            where = f"{kind} {ref_id} (embedded in sessions)"
            data.items[kind].append(ItemData(ref_id, where, r.fields(
                RESOURCES[kind], _embedded_values(kind, _norm(doc)), where)))
    known = {kind: {item.source_id for item in data.items[kind]}
             for kind in (*_EMBEDDED.values(), "speakers")}
    for item in data.items["sessions"]:
        for attr, kind in RESOURCES["sessions"].references.items():
            ref = item.values.get(attr)
            if ref is not None and ref not in known[kind]:
                r.warnings.append(f"{item.where} ({item.values.get('title')!r}): "
                                  f"{kind.rstrip('s').replace('-', ' ')} {ref} does not "
                                  "exist; left out")
                item.values[attr] = None
        missing = [s for s in item.values.get("speaker_ids", []) if s not in known["speakers"]]
        if missing:
            r.warnings.append(f"{item.where} ({item.values.get('title')!r}): speaker(s) "
                              f"{', '.join(map(str, missing))} do not exist; left out")
            item.values["speaker_ids"] = [s for s in item.values["speaker_ids"]
                                          if s in known["speakers"]]


def _read_forms(r: _Reader, data: EventData) -> None:
    """Open Event stores each form as a JSON string {field: {require, include}}."""
    counter = 0
    for index, doc in enumerate(r.load_list("forms"), start=1):
        for key, value in doc.items():
            if not key.endswith("_form"):
                continue
            form = key[: -len("_form")]
            fields = value
            if isinstance(value, str):
                try:
                    fields = json.loads(value)
                except json.JSONDecodeError:
                    r.warnings.append(f"forms entry {index}: {key} is not valid JSON; skipped")
                    continue
            if not isinstance(fields, dict):
                continue
            for identifier, flags in sorted(fields.items()):
                flags = flags if isinstance(flags, dict) else {}
                counter += 1
                where = f"forms entry {index}: {form}.{identifier}"
                data.items["forms"].append(ItemData(counter, where, r.fields(
                    RESOURCES["forms"],
                    {"form": form, "field_identifier": str(identifier),
                     "is_required": bool(flags.get("require")),
                     "is_included": bool(flags.get("include"))}, where)))
