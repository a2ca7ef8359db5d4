"""Event pages: create, overview, settings (edit, publish, media, delete), feeds, export.

The forms are generated from the event's field schema (:mod:`eventport.web.forms`) and
sent by ``form.js`` to the REST API; these views only gather what the templates show.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from fastapi import Request, Response
from sqlalchemy import func, select

from eventport.accounts.permissions import Permission
from eventport.api.deps import Db, EventId, site_url
from eventport.api.feeds import feeds
from eventport.events import service as events
from eventport.events.models import EventState, MediaKind, Privacy, ProgramSession, SessionState
from eventport.events.resources import ACCEPTED_TYPES, EVENT
from eventport.exports.registry import exporters
from eventport.web import forms, overview, schedule
from eventport.web.pages import PageUser, event_for, page_router, render

router = page_router()
#: vertical scale of the schedule grid (the script positions sessions with it)
PX_PER_MINUTE = 2

#: Labels and hints of the media kinds an archive can include, in display order.
MEDIA_KINDS = (
    (MediaKind.IMAGE, "Images", "speaker photos, logos"),
    (MediaKind.DOCUMENT, "Documents", "slides"),
    (MediaKind.AUDIO, "Audio", "recordings"),
    (MediaKind.VIDEO, "Video", "recordings"),
)
#: Fields the settings form leaves to their own controls (publish buttons).
EVENT_FORM_EXCLUDE = ("state",)
#: Session states the public feeds include (see ExportContext.public_only).
PUBLIC_STATES = (SessionState.ACCEPTED.value, SessionState.CONFIRMED.value)


def accept_list(kind: MediaKind) -> str:
    return ",".join(ACCEPTED_TYPES[kind])


@router.get("/events/new")
def new_event_page(request: Request, user: PageUser) -> Response:
    fields = forms.ordered(forms.fields_for(EVENT.fields, exclude=EVENT_FORM_EXCLUDE))
    return render(request, "event_form.html", {
        "fields": fields, "timezones": forms.TIMEZONES, "nav": "events"})


@router.get("/events/{event_id}")
def event_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id)
    return render(request, "event_overview.html", {
        "event": event, "role": role, "tab": "overview",
        "counts": overview.counts(db, event.id),
    })


@router.get("/events/{event_id}/settings")
def settings_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id, Permission.EDIT_EVENT)
    fields = forms.fill(forms.ordered(forms.fields_for(EVENT.fields, exclude=EVENT_FORM_EXCLUDE)),
                        event, zoneinfo.ZoneInfo(event.timezone))
    for item in fields:
        if item.name == "identifier":
            item.value = event.identifier
    slots = [{"name": slot.name, "label": slot.name.capitalize(),
              "url": f"/api/v1/events/{event.id}/{slot.name}",
              "present": getattr(event, slot.name) is not None,
              "accept": accept_list(slot.kind)} for slot in EVENT.media]
    return render(request, "event_settings.html", {
        "event": event, "role": role, "tab": "settings", "fields": fields,
        "timezones": forms.TIMEZONES, "slots": slots,
        "published": event.state == EventState.PUBLISHED.value})


def feed_urls(site: str, identifier: str) -> list[dict[str, Any]]:
    return [{"extension": ext, "name": exporter.verbose_name,
             "url": f"{site}/api/v1/events/{identifier}/schedule.{ext}"}
            for ext, exporter in feeds().items()]


@router.get("/events/{event_id}/feeds")
def feeds_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id)
    states = dict(db.execute(
        select(ProgramSession.state, func.count()).where(ProgramSession.event_id == event.id)
        .group_by(ProgramSession.state)).all())
    visible = sum(states.get(s, 0) for s in PUBLIC_STATES)
    public = (event.state == EventState.PUBLISHED.value
              and event.privacy == Privacy.PUBLIC.value)
    return render(request, "event_feeds.html", {
        "event": event, "role": role, "tab": "feeds", "public": public,
        "feeds": feed_urls(site_url(request), event.identifier),
        "visible": visible, "hidden": sum(states.values()) - visible,
        "published": event.state == EventState.PUBLISHED.value,
        "private": event.privacy == Privacy.PRIVATE.value})


@router.get("/events/{event_id}/export")
def export_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id)
    usage = events.media_usage(db, event.id)
    kinds = [
        {"value": kind.value, "label": label, "hint": hint,
         "count": usage.get(kind.value, (0, 0))[0], "bytes": usage.get(kind.value, (0, 0))[1]}
        for kind, label, hint in MEDIA_KINDS
    ]
    # The full archive first (the page's default), then the schedule formats.
    formats = sorted((cls.describe() for cls in exporters().values()),
                     key=lambda f: f["identifier"] != "archive")
    return render(request, "event_export.html", {
        "event": event, "role": role, "tab": "export", "formats": formats, "kinds": kinds,
        "job": request.query_params.get("job", "")[:64],
    })


@router.get("/events/{event_id}/schedule")
def schedule_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id)
    return render(request, "event_schedule.html", {
        "event": event, "role": role, "tab": "schedule", "schedule": schedule.build(db, event),
        "px_per_minute": PX_PER_MINUTE})
