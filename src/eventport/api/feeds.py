"""Public schedule feeds and the list of export formats.

``GET /api/v1/events/{identifier}/schedule.ics|.xcs|.xml|.json`` serves a published,
public event's program without authentication, as pretalx and frab do, for the apps and
calendars that poll it. Only public fields and accepted/confirmed sessions
(``ExportContext.public_only``); a draft or private event is a 404, exactly as if it did
not exist, so feeds do not reveal which identifiers are taken.

Polling must cost next to nothing (:mod:`eventport.api.feedcache`):

* a strong ``ETag`` (SHA-256 of the bytes) answers a matching ``If-None-Match`` with
  ``304`` and no body, and ``Last-Modified`` a matching ``If-Modified-Since`` — both
  from the cached entry, never by rendering;
* ``Cache-Control: public, max-age=60`` lets clients and proxies skip a minute of polls;
* the rendered bytes are kept in-process, keyed by database, event and the event row's
  own change time; after 60 seconds the entry is still served while one background
  thread renders it again, so a hundred apps polling one big event never wait for a
  render. Program edits show within about a minute, as the ``max-age`` already
  promises; unpublishing is immediate (checked every request).
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.api.deps import get_db
from eventport.api.feedcache import FeedCache, RenderedFeed
from eventport.events.models import Event, EventState, Privacy
from eventport.exports.registry import ExportContext, Exporter, exporters
from eventport.exports.snapshot import read_snapshot, take_snapshot
from eventport.storage import content_disposition

router = APIRouter(tags=["feeds"])

MAX_AGE = 60
#: A cached feed older than this is rendered again before it is served.
MAX_STALE = 15 * 60
CACHE_ENTRIES = 32

Db = Annotated[Session, Depends(get_db)]

_cache = FeedCache(MAX_AGE, MAX_STALE, CACHE_ENTRIES)


def clear_feed_cache() -> None:
    """Forget every rendered feed (tests; or after a bulk import)."""
    _cache.clear()


@router.get("/api/v1/export-formats", summary="Every export format this server offers")
def export_formats() -> list[dict[str, Any]]:
    """The exporter registry: identifier, name, extension, content type, public flag."""
    return [cls.describe() for cls in exporters().values()]


def _published_event(db: Session, identifier: str) -> Event:
    event = db.scalar(select(Event).where(Event.identifier == identifier))
    if (event is None or event.state != EventState.PUBLISHED.value
            or event.privacy != Privacy.PUBLIC.value):
        raise HTTPException(status_code=404, detail="no published event has this identifier")
    return event


def _rendered(db: Session, event: Event, exporter: type[Exporter]) -> RenderedFeed:
    """The feed's bytes, ETag and Last-Modified; a render only on a cold cache."""
    engine = db.get_bind().engine
    key = (str(engine.url), event.id, event.created_at, event.updated_at,
           exporter.identifier)
    event_id = event.id

    def render() -> bytes:
        return exporter().render(take_snapshot(db, event_id), ExportContext(public_only=True))

    def render_aside() -> bytes:
        snapshot = read_snapshot(engine, event_id)
        return exporter().render(snapshot, ExportContext(public_only=True))

    return _cache.get(key, render, render_aside)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return etag in candidates


def _not_modified(request: Request, feed: RenderedFeed) -> bool:
    """If-None-Match decides when present; otherwise If-Modified-Since (RFC 9110 13.2.2)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _matches(if_none_match, feed.etag)
    since = request.headers.get("if-modified-since")
    if not since:
        return False
    try:
        return feed.last_modified <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False  # an unparsable date is ignored, as the RFC asks


def _feed_route(extension: str, exporter: type[Exporter]) -> Callable[..., Response]:
    def feed(identifier: str, request: Request, db: Db) -> Response:
        event = _published_event(db, identifier)
        feed = _rendered(db, event, exporter)
        headers = {"ETag": feed.etag, "Cache-Control": f"public, max-age={MAX_AGE}",
                   "Last-Modified": formatdate(feed.last_modified, usegmt=True),
                   "Access-Control-Allow-Origin": "*"}
        if _not_modified(request, feed):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = content_disposition(
            f"{event.identifier}.{extension}").replace("attachment", "inline", 1)
        return Response(feed.body, media_type=exporter.content_type, headers=headers)

    feed.__name__ = f"schedule_{extension}"
    return feed


def feeds() -> dict[str, type[Exporter]]:
    """Feed extension -> exporter: every format the registry marks ``public``."""
    return {cls.extension: cls for cls in exporters().values() if cls.public}


for _extension, _exporter in feeds().items():
    router.add_api_route(
        f"/api/v1/events/{{identifier}}/schedule.{_extension}",
        _feed_route(_extension, _exporter),
        methods=["GET"],
        response_class=Response,
        summary=f"Public schedule feed ({_exporter.verbose_name})",
        responses={200: {"content": {_exporter.content_type: {}}},
                   304: {"description": "Not modified (matching If-None-Match)"},
                   404: {"description": "No published, public event with this identifier"}},
    )
