"""HTML error pages for people; problem+json stays the answer for API clients.

A request is a person's when it is not under an API prefix and its ``Accept`` header
prefers HTML (a browser navigating to a mistyped address). Everything else keeps the
handlers :func:`eventport.api.problems.install` registered; this module wraps them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from eventport.errors import EventportError
from eventport.web.pages import error_page

API_PREFIXES = ("/api/", "/v1/", "/openapi.json", "/docs", "/static/", "/docs-assets/")
MESSAGES = {
    404: ("Page not found", "There is nothing at this address. Check the link, or start "
                            "again from your events."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    422: ("Invalid address", "Part of this address is not valid (a number where a word "
                             "is, or a value out of range). Check the link."),
    500: ("Something went wrong", "An unexpected error occurred; it has been logged. "
                                  "Try again, or go back to your events."),
}


def wants_html(request: Request) -> bool:
    if request.url.path.startswith(API_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


Handler = Callable[[Request, Any], Awaitable[Response]]


def install(app: FastAPI) -> None:
    """Wrap the problem+json handlers so browser requests get an HTML page instead."""
    for exc_class in (StarletteHTTPException, EventportError, RequestValidationError,
                      Exception):
        _wrap(app, exc_class)


def _wrap(app: FastAPI, exc_class: type[Exception]) -> None:
    fallback: Handler = app.exception_handlers[exc_class]  # type: ignore[assignment]

    async def handler(request: Request, exc: Any) -> Response:
        if not wants_html(request):
            return await fallback(request, exc)
        if isinstance(exc, EventportError):
            return error_page(request, exc.status, exc.title, exc.detail)
        status = (exc.status_code if isinstance(exc, StarletteHTTPException)
                  else 422 if isinstance(exc, RequestValidationError) else 500)
        if status == 500:
            await fallback(request, exc)  # logs it
        title, detail = MESSAGES.get(status, ("Error", str(getattr(exc, "detail", ""))))
        return error_page(request, status, title, detail)

    app.add_exception_handler(exc_class, handler)
