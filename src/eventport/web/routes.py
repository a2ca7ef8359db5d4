"""Organizer web pages: sign in/out, events, overview, the Export tab and imports.

Views are thin in the same way the API's handlers are: read the session, authorize
with :mod:`eventport.accounts.service` (a user without a role on an event gets 404,
exactly as from the API), call the event services, render. Everything that changes
data after sign-in — starting, pinning, deleting exports; uploading imports — is done
by the pages' scripts through the public REST API with the session cookie (see
:func:`eventport.web.session.resolve_api_user`), so there is one implementation of each
action and the pages cannot drift from the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from eventport.accounts import service as accounts
from eventport.accounts.models import Role, User
from eventport.api import deps
from eventport.api.deps import Db, EventId
from eventport.errors import EventportError, NotFound
from eventport.events import service as events
from eventport.events.models import Event, MediaKind
from eventport.exports.registry import exporters
from eventport.imports.readers import READERS
from eventport.naming import human_size
from eventport.web import overview
from eventport.web import session as web_session

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

#: Labels and hints of the media kinds an archive can include, in display order.
MEDIA_KINDS = (
    (MediaKind.IMAGE, "Images", "speaker photos, logos"),
    (MediaKind.DOCUMENT, "Documents", "slides"),
    (MediaKind.AUDIO, "Audio", "recordings"),
    (MediaKind.VIDEO, "Video", "recordings"),
)

#: Import formats the API accepts (DESIGN.md); empty means "detect from the file".
IMPORT_FORMATS = (
    ("", "Detect from the file"),
    *((reader.identifier, reader.label) for reader in READERS.values()),
)

SECURITY_HEADERS = {
    # No inline script or style anywhere: data reaches scripts through data-* attributes.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """Raised by page dependencies when nobody is signed in; becomes a redirect."""


class PageRoute(APIRoute):
    """Turns errors into pages: sign-in redirects and HTML 403/404s instead of JSON.

    The app-wide handlers answer with problem+json, which suits API clients; a person
    following a link deserves a readable page with the same status code.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/signin?next={quote(target, safe='')}", 303)
            except EventportError as exc:
                return render(request, "error.html",
                              {"status": exc.status, "title": exc.title, "detail": exc.detail},
                              status_code=exc.status)

        return page_handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _register_cookie_auth() -> None:
    """Let the REST API accept the session cookie (CSRF-checked) from the pages' scripts."""
    if web_session.resolve_api_user not in deps.USER_RESOLVERS:
        deps.USER_RESOLVERS.append(web_session.resolve_api_user)


_register_cookie_auth()


# ------------------------------------------------------------------------ rendering


def _static_versions() -> dict[str, str]:
    """Content hashes of the static files, appended to their URLs to bust caches."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in STATIC_DIR.iterdir() if path.is_file()
    }


STATIC_FILES = _static_versions()


def static_url(name: str) -> str:
    return f"/static/{name}?v={STATIC_FILES.get(name, '0')}"


def local_time(value: dt.datetime | None, tz_name: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(zoneinfo.ZoneInfo(tz_name)).strftime(fmt)


templates.env.globals["static_url"] = static_url
templates.env.filters["human_size"] = human_size
templates.env.filters["local_time"] = local_time


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200
           ) -> HTMLResponse:
    session = web_session.load(request)
    context = {"csrf_token": session.csrf, "user": request.scope.get("eventport.user"),
               **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    web_session.save(response, session)
    return response


def redirect(url: str, request: Request) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    web_session.save(response, web_session.load(request))
    return response


def safe_next(target: str | None) -> str:
    """Only same-site paths: a crafted ?next= must not send people elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/events"


# --------------------------------------------------------------------- dependencies


def signed_in_user(request: Request, db: Db) -> User:
    user = web_session.user_for(request, db)
    if user is None:
        raise SignInRequired
    request.scope["eventport.user"] = user
    return user


PageUser = Annotated[User, Depends(signed_in_user)]


def event_for(db: Session, user: User, event_id: int) -> tuple[Event, Role]:
    """The event and the user's role on it; 404 for a user without one (as in the API)."""
    role = accounts.require_role(db, user, event_id, Role.COORGANIZER)
    return events.get_event(db, event_id), role


# ------------------------------------------------------------------------------ pages


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """The pages' own scripts and styles (no CDN, no build step); names are a fixed set."""
    if name not in STATIC_FILES:
        raise NotFound(f"no static file {name}")
    media_type = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}.get(
        name.rsplit(".", 1)[-1], "application/octet-stream"
    )
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers={
        "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


@router.get("/")
def home(request: Request, db: Db) -> Response:
    signed_in = web_session.user_for(request, db) is not None
    return redirect("/events" if signed_in else "/signin", request)


@router.get("/signin")
def signin_page(request: Request, db: Db, next: str | None = None) -> Response:
    if web_session.user_for(request, db) is not None:
        return redirect(safe_next(next), request)
    return render(request, "signin.html", {"next": safe_next(next), "error": None, "email": ""})


@router.post("/signin")
def signin(
    request: Request,
    db: Db,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/events",
) -> Response:
    session = web_session.load(request)
    if session.changed or not web_session.csrf_matches(session, csrf_token):
        # No (valid) session cookie came with the form: an expired page or a forged post.
        return render(request, "signin.html", {
            "next": safe_next(next), "email": email,
            "error": "Your sign-in form expired. Please try again."}, status_code=403)
    user = accounts.authenticate(db, email, password)
    if user is None:
        db.commit()  # authenticate may have upgraded a hash; nothing else changed
        return render(request, "signin.html", {
            "next": safe_next(next), "email": email,
            "error": "Wrong e-mail or password."}, status_code=401)
    web_session.sign_in(db, request, user)
    db.commit()
    return redirect(safe_next(next), request)


@router.post("/signout")
def signout(
    request: Request, db: Db, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    session = web_session.load(request)
    if not web_session.csrf_matches(session, csrf_token):
        return render(request, "error.html", {
            "status": 403, "title": "Forbidden",
            "detail": "The sign-out form expired; reload the page and try again."},
            status_code=403)
    web_session.sign_out(db, request)
    db.commit()
    return redirect("/signin", request)


@router.get("/events")
def events_page(request: Request, user: PageUser, db: Db) -> Response:
    rows, total = events.events_for(db, user, 1, events.MAX_PER_PAGE)
    roles = {event.id: accounts.role_on(db, user, event.id) for event in rows}
    return render(request, "events.html", {"events": rows, "roles": roles, "total": total})


@router.get("/events/{event_id}")
def event_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id)
    return render(request, "event_overview.html", {
        "event": event, "role": role, "tab": "overview",
        "counts": overview.counts(db, event.id),
        "schedule": overview.schedule(db, event), "cell_limit": overview.CELL_LIMIT,
    })


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
    })


@router.get("/import")
def import_page(request: Request, user: PageUser) -> Response:
    return render(request, "import.html", {"formats": IMPORT_FORMATS})
