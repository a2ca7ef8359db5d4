"""Organizer pages: sign in and out, the events list, static files, imports.

The other pages live beside this module (events, program, team, account); ``ROUTERS``
lists them all for the composition root (:mod:`eventport.api.app`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import FileResponse

from eventport.accounts import service as accounts
from eventport.accounts import throttle
from eventport.accounts.permissions import Permission, allows
from eventport.api.deps import Db
from eventport.errors import NotFound, TooManyRequests
from eventport.events import service as events
from eventport.imports import service as imports
from eventport.imports import warning_kinds
from eventport.imports.kept import kept_until
from eventport.imports.readers import READERS
from eventport.imports.zones import zone_names
from eventport.web import account_pages, event_pages, owner_pages, program_pages, team_pages
from eventport.web import session as web_session
from eventport.web.pages import (
    STATIC_DIR,
    STATIC_FILES,
    PageUser,
    error_page,
    page_router,
    redirect,
    render,
    safe_next,
)

router = page_router()

#: Import formats the API accepts (docs/DESIGN.md); empty means "detect from the file".
IMPORT_FORMATS = (
    ("", "Detect from the file"),
    *((reader.identifier, reader.label) for reader in READERS.values()),
)
MEDIA_TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """The pages' own scripts and styles (no CDN, no build step); names are a fixed set."""
    if name not in STATIC_FILES:
        raise NotFound(f"no static file {name}")
    media_type = MEDIA_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
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


def _signin_refused(request: Request, next: str, email: str, error: str, status: int
                    ) -> Response:
    return render(request, "signin.html", {"next": safe_next(next), "email": email,
                                           "error": error}, status_code=status)


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
        return _signin_refused(request, next, email,
                               "Your sign-in form expired. Please try again.", 403)
    client = request.client.host if request.client else "unknown"
    try:
        throttle.check(db, email, client)
    except TooManyRequests as exc:
        return _signin_refused(request, next, email, f"Too many failed sign-ins: "
                               f"{exc.detail.split('; ')[-1]}.", 429)
    user = accounts.authenticate(db, email, password)
    if user is None:
        throttle.record_failure(db, email, client)
        db.commit()
        return _signin_refused(request, next, email, "Wrong e-mail or password.", 401)
    throttle.clear(db, email)
    web_session.sign_in(db, request, user)
    db.commit()
    return redirect(safe_next(next), request)


@router.post("/signout")
def signout(
    request: Request, db: Db, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    session = web_session.load(request)
    if not web_session.csrf_matches(session, csrf_token):
        return error_page(request, 403, "Forbidden",
                          "The sign-out form expired; reload the page and try again.")
    web_session.sign_out(db, request)
    db.commit()
    return redirect("/signin", request)


@router.get("/events")
def events_page(request: Request, user: PageUser, db: Db) -> Response:
    rows, total = events.events_for(db, user, 1, events.MAX_PER_PAGE)
    roles = {event.id: accounts.role_on(db, user, event.id) for event in rows}
    return render(request, "events.html", {"events": rows, "roles": roles, "total": total})


#: Words for the formats a finished import reports it detected.
FORMAT_NAMES = dict(IMPORT_FORMATS[1:])


@router.get("/import")
def import_page(request: Request, user: PageUser, db: Db) -> Response:
    rows, _ = events.events_for(db, user, 1, events.MAX_PER_PAGE)
    updatable = [e for e in rows
                 if allows(accounts.role_on(db, user, e.id), Permission.IMPORT_UPDATE)]
    return render(request, "import.html", {
        "formats": IMPORT_FORMATS, "format_names": FORMAT_NAMES, "nav": "import",
        "history": imports.jobs_of(db, user), "updatable": updatable, "zones": zone_names(),
        "warning_kinds": warning_kinds.group, "kept_until": kept_until,
        "preselect": request.query_params.get("update", "")})


#: Every page router, for the composition root. Fixed paths (``/events/new``) come
#: before the ones with parameters (``/events/{event_id}``).
ROUTERS = (router, event_pages.router, program_pages.router, team_pages.router,
           owner_pages.router, account_pages.router)
