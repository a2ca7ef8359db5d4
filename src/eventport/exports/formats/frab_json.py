"""frab ``schedule.json``: the JSON twin of ``schedule.xml`` (c3voc ``schema.json``).

Same schedule model as :mod:`.pentabarf`, written so it validates against the c3voc
JSON schema, whose strict corners decide some shapes here:

* persons are written in the "pretalx" shape (``name``, no ``public_name``) because the
  schema's ``oneOf`` rejects a person that matches both its frab and pretalx shapes;
* ``url`` is required for every session; without a public site for the event it is the
  session's ``urn:uuid:`` (a valid URI that names the session and links nowhere);
* ``time_zone_name`` is left out when the zone's name does not fit the schema's
  pattern (e.g. ``Etc/GMT+1``); every ``date`` still carries its offset.
"""

from __future__ import annotations

import json
import re
from typing import Any

from eventport import __version__
from eventport.exports.formats.schedule import (
    FormatOptions,
    Schedule,
    Slot,
    build_schedule,
    hhmm,
    iso,
)
from eventport.exports.registry import ExportContext, Exporter, register
from eventport.exports.snapshot import EventSnapshot

SCHEMA_URL = "https://c3voc.de/schedule/schema.json"
_TIME_ZONE_NAME = re.compile(r"^([A-Z][a-z]+/[A-Z][a-z]+)|UTC$")  # the schema's own pattern


def _event(slot: Slot) -> dict[str, Any]:
    return {
        "guid": slot.guid,
        "id": slot.id,
        "date": iso(slot.start),
        "start": slot.start.strftime("%H:%M"),
        "end": iso(slot.end),
        "duration": hhmm(slot.duration),
        "room": slot.room.name,
        "slug": slot.slug,
        "url": slot.url or f"urn:uuid:{slot.guid}",
        "title": slot.title,
        "subtitle": slot.subtitle,
        "track": slot.track.name if slot.track else None,
        "type": slot.type,
        "language": slot.language,
        "abstract": slot.abstract,
        "description": slot.description,
        "persons": [
            {"id": person.id, "guid": person.guid, "name": person.name,
             "biography": person.biography or None,
             **({"avatar": person.avatar} if person.avatar else {})}
            for person in slot.persons
        ],
        "links": [{"url": link.url, "title": link.title, "type": link.type}
                  for link in slot.links],
    }


def schedule_document(schedule: Schedule) -> dict[str, Any]:
    conference: dict[str, Any] = {
        "acronym": schedule.acronym,
        "title": schedule.title,
        "start": schedule.days[0].date.isoformat(),
        "end": schedule.days[-1].date.isoformat(),
        "daysCount": len(schedule.days),
        "timeslot_duration": schedule.timeslot_duration,
    }
    if _TIME_ZONE_NAME.search(schedule.timezone_name):
        conference["time_zone_name"] = schedule.timezone_name
    if schedule.url:
        conference["url"] = schedule.url
    if schedule.logo:
        conference["logo"] = schedule.logo
    conference["tracks"] = [
        {"name": track.name, "color": track.color, **({"slug": track.slug} if track.slug else {})}
        for track in schedule.tracks
    ]
    conference["rooms"] = [{"name": room.name, "guid": room.guid} for room in schedule.rooms]
    days = []
    for day in schedule.days:
        rooms: dict[str, list[dict[str, Any]]] = {}
        for room, slots in day.by_room(schedule.rooms):
            # Two rooms of the same name share one list: the schema keys rooms by name.
            rooms.setdefault(room.name, []).extend(_event(slot) for slot in slots)
        days.append({"index": day.index, "date": day.date.isoformat(),
                     "day_start": iso(day.start), "day_end": iso(day.end), "rooms": rooms})
    conference["days"] = days
    return {
        "$schema": SCHEMA_URL,
        "generator": {"name": "eventport", "version": __version__},
        "schedule": {"version": schedule.version, "conference": conference},
    }


@register
class FrabJsonExporter(FormatOptions, Exporter):
    """frab/c3voc ``schedule.json``."""

    identifier = "frab-json"
    verbose_name = "frab schedule.json"
    extension = "json"
    content_type = "application/json"
    public = True

    def render(self, snapshot: EventSnapshot, ctx: ExportContext) -> bytes:
        document = schedule_document(build_schedule(snapshot, ctx))
        return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
