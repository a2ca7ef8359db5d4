"""Public schedule feeds and the list of export formats.

``GET /api/v1/events/{identifier}/schedule.ics|.xcs|.xml|.json`` serves a published,
public event's program without authentication, as pretalx and frab do, for the apps and
calendars that poll it. Only public fields and accepted/confirmed sessions
(``ExportContext.public_only``); a draft or private event is a 404, exactly as if it did
not exist, so feeds do not reveal which identifiers are taken.

Polling must cost next to nothing:

* a strong ``ETag`` (SHA-256 of the bytes) answers a matching ``If-None-Match`` with
  ``304`` and no body;
* ``Cache-Control: public, max-age=60`` lets clients and proxies skip a minute of polls;
* the rendered bytes are kept in-process for the same 60 seconds, keyed by database,
  event and the event's own change time, so a hundred apps polling one big event render
  it once a minute per worker, not a hundred times. Program edits show within a minute,
  as the ``max-age`` already promises; unpublishing is immediate (checked every request).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.api.deps import get_db
from eventport.events.models import Event, EventState, Privacy
from eventport.exports.registry import ExportContext, Exporter, exporters
from eventport.exports.snapshot import take_snapshot
from eventport.storage import content_disposition

router = APIRouter(tags=["feeds"])

MAX_AGE = 60
CACHE_ENTRIES = 32

Db = Annotated[Session, Depends(get_db)]

#: key -> (expires at, body, etag)
_cache: dict[tuple[Any, ...], tuple[float, bytes, str]] = {}
_cache_lock = threading.Lock()


def clear_feed_cache() -> None:
    """Forget every rendered feed (tests; or after a bulk import)."""
    with _cache_lock:
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


def _rendered(db: Session, event: Event, exporter: type[Exporter]) -> tuple[bytes, str]:
    """The feed's bytes and strong ETag, rendered at most once a minute per worker."""
    key = (str(db.get_bind().engine.url), event.id, event.created_at, event.updated_at,
           exporter.identifier)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
    body = exporter().render(take_snapshot(db, event.id), ExportContext(public_only=True))
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    with _cache_lock:
        for stale in [k for k, (expires, _, _) in _cache.items() if expires <= now]:
            del _cache[stale]
        while len(_cache) >= CACHE_ENTRIES:
            del _cache[next(iter(_cache))]  # oldest first (dicts keep insertion order)
        _cache[key] = (now + MAX_AGE, body, etag)
    return body, etag


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return etag in candidates


def _feed_route(extension: str, exporter: type[Exporter]) -> Callable[..., Response]:
    def feed(identifier: str, request: Request, db: Db) -> Response:
        event = _published_event(db, identifier)
        body, etag = _rendered(db, event, exporter)
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE}",
                   "Access-Control-Allow-Origin": "*"}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = content_disposition(
            f"{event.identifier}.{extension}").replace("attachment", "inline", 1)
        return Response(body, media_type=exporter.content_type, headers=headers)

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
