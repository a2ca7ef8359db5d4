"""Privacy profiles of an archive: ``full`` (everything) and ``public``.

``public`` is exactly what the public feeds show (``ExportContext.public_only``): the
event only if it is published and public; sessions only if accepted or confirmed; their
speakers only, without e-mail, phone, city or country; no organizer comments, no
contact e-mail (custom-form *definitions* stay: they hold no answers and the importer
needs them); and only the media those remaining documents point to —
a photo of a speaker of an unpublished session does not travel. The filter is a pure
function of the snapshot, applied before any byte is written, so nothing private can
reach the archive by a path that forgot to check.

Every archive's manifest names its profile and lists the document fields holding
personal data that are present in it (``personal_data``), so whoever holds an archive
knows what they hold; a ``public`` manifest also lists what was ``removed``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eventport.exports.snapshot import EventSnapshot

PROFILES = ("full", "public")

#: Session states a public feed shows (formats/schedule.py agrees).
PUBLIC_STATES = ("accepted", "confirmed")

#: document -> fields that hold personal data (names, contact data, notes about people)
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "event": ("contact_email", "owner_name"),
    "speakers": ("name", "email", "mobile", "photo", "photo_url", "organisation", "position",
                 "country", "city", "short_biography", "long_biography", "website", "twitter",
                 "mastodon", "github", "linkedin", "facebook"),
    "sessions": ("comments",),
}

#: document -> fields a ``public`` archive leaves out (the rest of PERSONAL_FIELDS is
#: what speakers publish about themselves on the program)
PRIVATE_FIELDS: dict[str, tuple[str, ...]] = {
    "event": ("contact_email",),
    "speakers": ("email", "mobile", "city", "country"),
    "sessions": ("comments",),
}

class NotPublic(LookupError):
    """A public archive of an event the public feeds do not show."""


def manifest_fields(profile: str) -> dict[str, Any]:
    """What the manifest says about privacy: the profile and the personal-data fields."""
    removed = PRIVATE_FIELDS if profile == "public" else {}
    present = {f"{doc}.json": [f for f in fields if f not in removed.get(doc, ())]
               for doc, fields in PERSONAL_FIELDS.items()}
    fields: dict[str, Any] = {"profile": profile, "personal_data": present}
    if profile == "public":
        fields["removed"] = {f"{doc}.json": list(f) for doc, f in PRIVATE_FIELDS.items()}
    return fields


def _strip(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in fields}


def _session_key(speakers: list[dict[str, Any]]) -> tuple[str, str]:
    """(speaker field listing sessions, session field it refers to): ids in version 1
    documents, uuids where documents reference by uuid."""
    sample = speakers[0] if speakers else {}
    for listing, key in (("session_ids", "id"), ("session_uuids", "uuid"), ("sessions", "uuid")):
        if listing in sample:
            return listing, key
    return "session_ids", "id"


def public_view(snapshot: EventSnapshot) -> EventSnapshot:
    """The part of the snapshot a public feed shows (see the module docstring)."""
    event = snapshot.event
    if event.get("state") != "published" or event.get("privacy") != "public":
        raise NotPublic("the event is not published and public, so a public archive would "
                        "show nothing; publish it or export the full profile")
    documents = dict(snapshot.documents)
    sessions = [_strip(s, PRIVATE_FIELDS["sessions"]) for s in documents.get("sessions", [])
                if s.get("state") in PUBLIC_STATES]
    speakers = documents.get("speakers", [])
    listing, key = _session_key(speakers)
    shown = {s.get(key) for s in sessions}
    documents["sessions"] = sessions
    documents["speakers"] = [
        {**_strip(p, PRIVATE_FIELDS["speakers"]),
         listing: [ref for ref in p.get(listing, []) if ref in shown]}
        for p in speakers if any(ref in shown for ref in p.get(listing, []))
    ]
    event_doc = _strip(event, PRIVATE_FIELDS["event"])
    referenced = _referenced_paths(event_doc, documents)
    return replace(snapshot, event=event_doc, documents=documents,
                   media=[m for m in snapshot.media if m.path in referenced])


def _referenced_paths(event: dict[str, Any], documents: dict[str, list[dict[str, Any]]]
                      ) -> set[str]:
    values = [*event.values(), *(v for docs in documents.values() for d in docs
                                 for v in d.values())]
    return {v for v in values if isinstance(v, str) and v.startswith("media/")}
