"""What every organizer page shares: templates, rendering, the signed-in user, errors.

Views are thin in the same way the API's handlers are: read the session, authorize
with :mod:`eventport.accounts.service` (a user without a role on an event gets 404,
exactly as from the API), call the event services, render. Everything that changes
data after sign-in is done by the pages' scripts through the public REST API with the
session cookie (see :func:`eventport.web.session.resolve_api_user`), so there is one
implementation of each action and the pages cannot drift from the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from eventport.accounts import service as accounts
from eventport.accounts.models import Role, User
from eventport.accounts.permissions import Permission, allows
from eventport.api.deps import Db
from eventport.errors import EventportError
from eventport.events import service as events
from eventport.events.models import Event
from eventport.naming import human_size
from eventport.web import session as web_session
from eventport.web.forms import datetime_value

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

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
                return error_page(request, exc.status, exc.title, exc.detail)

        return page_handler


def page_router() -> APIRouter:
    return APIRouter(route_class=PageRoute, include_in_schema=False)


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


def detail_value(value: Any) -> str:
    """An audit detail in words, not as a Python repr: lists joined, flags yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(detail_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {detail_value(v)}" for k, v in value.items()) or "none"
    return "—" if value is None else str(value)


templates.env.globals["static_url"] = static_url
templates.env.globals["datetime_value"] = datetime_value
templates.env.globals["allows"] = allows
templates.env.globals["P"] = Permission
templates.env.filters["human_size"] = human_size
templates.env.filters["local_time"] = local_time
templates.env.filters["detail_value"] = detail_value


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200
           ) -> HTMLResponse:
    session = web_session.load(request)
    context = {"csrf_token": session.csrf, "user": request.scope.get("eventport.user"),
               **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    web_session.save(response, session, request)
    return response


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "title": title, "detail": detail},
                  status_code=status)


def redirect(url: str, request: Request) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    web_session.save(response, web_session.load(request), request)
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


def event_for(db: Session, user: User, event_id: int,
              permission: Permission = Permission.VIEW) -> tuple[Event, Role]:
    """The event and the user's role on it; 404 without a role, 403 with too low a one."""
    role = accounts.require(db, user, event_id, permission)
    return events.get_event(db, event_id), role
