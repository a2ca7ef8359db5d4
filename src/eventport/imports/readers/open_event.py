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
from collections.abc import Callable
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


#: Keys (normalised) each document's reader maps; any other key is reported as left out.
_READ_KEYS: dict[str, frozenset[str]] = {
    "event": frozenset({
        "id", "identifier", "name", "description", "starts_at", "start_time", "ends_at",
        "end_time", "timezone", "location_name", "latitude", "longitude", "logo", "logo_url",
        "background_image", "background_url", "original_image_url", "large",
        "organizer_name", "owner_name", "organizer_description", "owner_description",
        "email", "contact_email", "event_url", "external_url", "ticket_url", "privacy",
        "code_of_conduct", "state", "social_links"}),
    "sessions": frozenset({
        *_SESSION_TEXT, "id", "starts_at", "ends_at", "state", "is_featured", "track",
        "track_id", "session_type", "session_type_id", "microlocation", "microlocation_id",
        "speakers", "slides", "slides_url", "audio", "audio_url", "video", "video_url"}),
    "speakers": frozenset({*_SPEAKER_TEXT, "id", "name", "photo", "photo_url", "sessions"}),
    "tracks": frozenset({"id", "name", "description", "color", "sessions"}),
    "microlocations": frozenset({"id", "name", "floor", "position", "latitude", "longitude"}),
    "session_types": frozenset({"id", "name", "length"}),
    "sponsors": frozenset({"id", "name", "description", "url", "sponsor_type", "type",
                           "level", "logo", "logo_url"}),
}


def report_left_out(stem: str, docs: list[dict[str, Any]], warnings: list[str]) -> None:
    """Name, once per document, the fields Eventport has no place for (never silent)."""
    read = _READ_KEYS.get(stem)
    if read is None:
        return
    left = sorted({key for doc in docs for key in doc} - read)
    if left:
        warnings.append(f"{stem}: field(s) {', '.join(left)} have no counterpart in "
                        "Eventport and were left out")


#: session key of an embedded object -> the resource it names
_EMBEDDED = {"track": "tracks", "session_type": "session-types", "microlocation": "microlocations"}


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
        self.links: dict[int, set[int]] = defaultdict(set)  # session id -> speaker ids
        self.embedded: dict[str, dict[int, dict[str, Any]]] = {
            kind: {} for kind in _EMBEDDED.values()}  # objects sessions carry inline
        self.social: list[dict[str, Any]] = []  # social links embedded in the event
        self._anonymous = 0

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
        normalised = [_norm(doc) for doc in docs]
        report_left_out(stem, normalised, self.warnings)
        return normalised

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

    def source_id(self, doc: dict[str, Any], where: str) -> int:
        if doc.get("id") is None:
            self._anonymous -= 1  # never referenced by another document: any unique id
            return self._anonymous
        try:
            return int(doc["id"])
        except (TypeError, ValueError):
            raise ImportRefused(f"{where}: id {doc['id']!r} is not a number") from None


def _zone(r: _Reader, stated: str, given: str | None, where: str) -> str:
    """The event document's zone wins (with a warning when another was given); else the
    ``timezone`` option (or the updated event's zone); else UTC."""
    if stated and given and stated != given:
        r.warnings.append(f"{where} names its time zone, {stated}; it wins over {given}")
    return stated or given or "UTC"


def _event(r: _Reader, zone: str | None = None) -> EventData:
    """The event document (and the event's identity) as the start of the result."""
    raw_event = r.load("event")
    if not isinstance(raw_event, dict):
        raise ImportRefused(f"{r.documents['event']} must be a JSON object")
    ev = _norm(raw_event)
    report_left_out("event", [ev], r.warnings)
    where = posixpath.basename(r.documents["event"])
    logo, logo_url = r.media(ev, ("logo", "logo_url"), MediaKind.IMAGE, f"{where}: logo",
                             "event")
    background, background_url = r.media(
        ev, ("background_image", "background_url", "original_image_url", "large"),
        MediaKind.IMAGE, f"{where}: background", "event")
    event_state = _text(ev.get("state")).lower()
    values: dict[str, Any] = {
        "name": _text(ev.get("name")),
        "description": _text(ev.get("description")),
        "starts_at": ev.get("starts_at") or ev.get("start_time"),
        "ends_at": ev.get("ends_at") or ev.get("end_time"),
        "timezone": _zone(r, _text(ev.get("timezone")), zone, where),
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
        raise ImportRefused(f"{where}: starts-at and ends-at are required")
    event = ItemData(_ref(ev.get("id")) or 0, where, r.fields(EVENT, values, where),
                     {k: v for k, v in (("logo", logo), ("background", background)) if v})
    identifier = _text(ev.get("identifier")).lower() or None
    if identifier and not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", identifier):
        identifier = None
    data = EventData(format="open-event", event=event, identifier=identifier,
                     warnings=r.warnings)
    r.social = [_norm(s) for s in ev.get("social_links") or [] if isinstance(s, dict)]
    return data


def _microlocation(r: _Reader, doc: dict[str, Any], where: str) -> ItemData:
    return ItemData(r.source_id(doc, where), where, r.fields(RESOURCES["microlocations"], {
        "name": _text(doc.get("name")), "floor": doc.get("floor"),
        "position": doc.get("position") or 0,
        "latitude": doc.get("latitude"), "longitude": doc.get("longitude"),
    }, where))


def _track(r: _Reader, doc: dict[str, Any], where: str) -> ItemData:
    values = {"name": _text(doc.get("name")), "description": _text(doc.get("description"))}
    if _text(doc.get("color")):
        values["color"] = _text(doc.get("color"))
    return ItemData(r.source_id(doc, where), where, r.fields(RESOURCES["tracks"], values, where))


def _session_type(r: _Reader, doc: dict[str, Any], where: str) -> ItemData:
    values: dict[str, Any] = {"name": _text(doc.get("name"))}
    length = _minutes(doc.get("length"))
    if length:
        values["length"] = length
    return ItemData(r.source_id(doc, where), where,
                    r.fields(RESOURCES["session-types"], values, where))


def _speaker(r: _Reader, doc: dict[str, Any], where: str) -> ItemData:
    source_id = r.source_id(doc, where)
    photo, photo_url = r.media(doc, ("photo", "photo_url"), MediaKind.IMAGE,
                               f"{where}: photo", "speakers")
    values = {key: _text(doc.get(key)) for key in _SPEAKER_TEXT}
    values.update(name=_text(doc.get("name")), photo_url=photo_url)
    for session in doc.get("sessions") or []:  # the speaker side of session <-> speaker
        session_id = _ref(session)
        if session_id is not None:
            r.links[session_id].add(source_id)
    return ItemData(source_id, where, r.fields(RESOURCES["speakers"], values, where),
                    {"photo": photo} if photo else {})


def _session(r: _Reader, doc: dict[str, Any], where: str) -> ItemData:
    source_id = r.source_id(doc, where)
    values: dict[str, Any] = {key: _text(doc.get(key)) for key in _SESSION_TEXT}
    state_name = _text(doc.get("state")).lower()
    state: SessionState | None = _STATES.get(state_name)
    if state is None:
        if state_name:
            r.warnings.append(f"{where}: unknown state {state_name!r} read as submitted")
        state = SessionState.SUBMITTED
    speakers = {_ref(s) for s in doc.get("speakers") or []} | r.links.get(source_id, set())
    values.update(
        starts_at=doc.get("starts_at") or None, ends_at=doc.get("ends_at") or None,
        state=state, is_featured=bool(doc.get("is_featured")),
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
    for key, target in _EMBEDDED.items():
        ref_id = _ref(doc.get(key)) if isinstance(doc.get(key), dict) else None
        if ref_id is not None:
            r.embedded[target].setdefault(ref_id, doc[key])
    return ItemData(source_id, where, r.fields(RESOURCES["sessions"], values, where), media)


def _sponsor(r: _Reader, doc: dict[str, Any], where: str) -> ItemData:
    logo_ref, logo_url = r.media(doc, ("logo", "logo_url"), MediaKind.IMAGE,
                                 f"{where}: logo", "sponsors")
    values = {"name": _text(doc.get("name")), "description": _text(doc.get("description")),
              "url": _text(doc.get("url")),
              "sponsor_type": _text(doc.get("sponsor_type") or doc.get("type")),
              "logo_url": logo_url}
    if _text(doc.get("level")):
        values["level"] = _text(doc.get("level"))
    return ItemData(r.source_id(doc, where), where,
                    r.fields(RESOURCES["sponsors"], values, where),
                    {"logo": logo_ref} if logo_ref else {})


def _social_link(r: _Reader, doc: dict[str, Any], where: str) -> ItemData:
    return ItemData(r.source_id(doc, where), where, r.fields(
        RESOURCES["social-links"], {"name": _text(doc.get("name")),
                                    "link": _text(doc.get("link"))}, where))


Mapper = Callable[[_Reader, dict[str, Any], str], ItemData]

#: One mapper per resource, in reading order: speakers before sessions, because the
#: speaker documents also carry the session <-> speaker links.
_MAPPERS: tuple[tuple[str, str, Mapper], ...] = (
    ("microlocations", "microlocations", _microlocation),
    ("tracks", "tracks", _track),
    ("session_types", "session-types", _session_type),
    ("speakers", "speakers", _speaker),
    ("sessions", "sessions", _session),
    ("sponsors", "sponsors", _sponsor),
    ("social_links", "social-links", _social_link),
)


def _open(zf: SafeZip) -> _Reader:
    documents = locate_documents(zf)
    if documents is None:
        raise ImportRefused("no Open Event 'event' document found (expected at the zip's "
                            "root or in one top folder)")
    return _Reader(zf, documents)


def probe_open_event(zf: SafeZip) -> EventData:
    """The event document alone: enough to know the source's event uuid."""
    return _event(_open(zf))


def read_open_event(zf: SafeZip, zone: str | None = None) -> EventData:
    """The one loop: each document through its resource's mapper. ``zone``: the zone
    of times without an offset when the event document names none."""
    r = _open(zf)
    documents = r.documents
    data = _event(r, zone)
    for stem, resource, mapper in _MAPPERS:
        docs = r.load_list(stem)
        if stem == "social_links" and not docs:
            docs, stem = r.social, "social links"  # older exports embed them in the event
        name = posixpath.basename(documents.get(stem, stem))
        data.items[resource] = [mapper(r, doc, f"{name} entry {index}")
                                for index, doc in enumerate(docs, start=1)]
    _report_dangling_links(r, data)
    _read_forms(r, data)
    _resolve_references(r, data, r.embedded)
    for document, count in sorted(r.unresolved.items()):
        how = (f"kept as links under {r.root_url}" if r.root_url
               else "left out (no root_url in meta)")
        r.warnings.append(f"{document}: {count} media path(s) are not in the file; {how}")
    data.check_references()
    return data


def _report_dangling_links(r: _Reader, data: EventData) -> None:
    session_ids = {item.source_id for item in data.items["sessions"]}
    dangling = sorted(set(r.links) - session_ids)
    if dangling:
        name = posixpath.basename(r.documents.get("speakers", "speakers"))
        r.warnings.append(f"{name}: links to {len(dangling)} session(s) that do not exist "
                          f"were left out (ids {', '.join(map(str, dangling[:10]))}"
                          f"{', …' if len(dangling) > 10 else ''})")




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
