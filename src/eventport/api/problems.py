"""Every error leaves the API as RFC 9457 ``application/problem+json``.

Domain errors carry their status; validation errors become 422 with the offending
fields listed; anything unexpected is a 500 whose body says nothing internal.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from eventport.errors import EventportError
from eventport.storage import InvalidKey, ObjectNotFound, StorageError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_ENUM_MEMBER = re.compile(r"<[\w.]+: '([^']*)'>")
_QUOTED = re.compile(r"'([^']*)'")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def _message(error: dict[str, Any]) -> str:
    """Pydantic's message, with a choice spelled ``one of: draft, submitted`` rather than
    Python enum reprs (``<EventState.DRAFT: 'draft'>``)."""
    message = str(error.get("msg", "invalid"))
    if error.get("type") in ("enum", "literal_error"):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        choices = _ENUM_MEMBER.findall(expected) or _QUOTED.findall(expected)
        if choices:
            return f"should be one of: {', '.join(choices)}"
    return message


def _not_json(request: Request, errors: list[dict[str, Any]]) -> str | None:
    """The content type of a body sent as something other than the JSON it must be."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not content_type or content_type == "application/json" or content_type.endswith("+json"):
        return None
    if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") in _WRONG_BODY for e in errors):
        return content_type
    return None


_WRONG_BODY = frozenset({"model_attributes_type", "dict_type", "json_invalid", "model_type"})


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's).

    FastAPI makes one route per method, so ``PUT /api/v1/events`` would say ``Allow: GET``
    although POST works too; HEAD is served wherever GET is (:mod:`eventport.api.head`).
    Each method is tried against the routes, which also sees through included routers.
    """
    methods = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(EventportError)
    async def _domain(_: Request, exc: EventportError) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, **exc.extra)
        if "retry_after" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        sent = _not_json(request, list(exc.errors()))
        if sent is not None:
            return problem(415, "Unsupported media type",
                           f"send the body as application/json, not {sent}")
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": _message(e)}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        return problem(422, "Invalid input", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
                  405: "Method not allowed", 413: "Payload too large"}
        response = problem(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(request)
        return response

    @app.exception_handler(ObjectNotFound)
    async def _missing_object(_: Request, exc: ObjectNotFound) -> JSONResponse:
        return problem(404, "Not found", "the stored file is missing")

    @app.exception_handler(InvalidKey)
    async def _bad_key(_: Request, exc: InvalidKey) -> JSONResponse:
        return problem(422, "Invalid input", str(exc))

    @app.exception_handler(StorageError)
    async def _storage(_: Request, exc: StorageError) -> JSONResponse:
        log.error("storage error: %s", exc)
        return problem(503, "Storage unavailable", "the storage backend failed; try again later")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal server error", "an unexpected error occurred")
