"""The OpenAPI description, with every answer each operation gives — errors included.

FastAPI documents the success status and a 422 in its own validation shape; clients of
this API also get 401, 403, 404, 409, 413, 415 and 503, always as RFC 9457
``application/problem+json`` (:mod:`eventport.api.problems`). This module adds them to
the generated description, derived from what each route depends on so a new route is
described correctly without anyone remembering to:

* an operation that needs the caller (``current_user``) answers 401 and declares the
  bearer security scheme; one that also names a resource in its path answers 403 (role
  too low) and 404 (no such resource, or no role on its event);
* a path parameter, query parameter or body means 422; a JSON body also 415 and 400
  (bytes that cannot be decoded);
* a multipart body (an upload) means 413; a route that touches storage, 503;
* 409 cannot be derived (it depends on the resource's state), so :data:`CONFLICTS`
  names the operations that answer it, and a test checks the names exist;
* every 202 carries ``Location``: where to poll the job it accepted; a 201 of
  :data:`CREATED_AT` carries the created resource's URL the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from eventport.api import deps
from eventport.api.problems import PROBLEM_JSON

#: Operations (endpoint function names) that answer 409 when the state forbids the change.
CONFLICTS = frozenset({
    "create_event", "update_event", "grant_role", "revoke_role", "revoke_role_by_email",
    "change_role",
    "download_export", "cancel_export", "update_export", "delete_export",
    "invite",  # the address already has a role on the event
    "create_import",  # mode=create: the source's event is on this server already
    "apply_import",  # not a succeeded dry run, applied already, or its upload expired
})
#: Statuses no dependency reveals: the signed download judges its token itself.
EXTRA: dict[str, set[int]] = {
    "signed_file_download": {403, 404, 416},
    "health": {503},
    "create_token": {401, 429},  # wrong e-mail or password; too many failures
    "accept": {403, 404, 409},  # wrong password of an existing account; bad/used token
    "change_password": {403},  # the current password is wrong
}

DESCRIPTIONS = {
    400: "The body could not be parsed at all",
    401: "No valid bearer token (POST /api/v1/auth/token gives one)",
    403: "Your role on the event does not allow this",
    404: "No such resource, or no role on the event it belongs to",
    409: "The resource's current state does not allow this",
    413: "The upload is larger than the configured limit",
    415: "The body is not JSON",
    416: "The requested byte range is outside the file",
    422: "Invalid input; `errors` lists each offending field",
    503: "The storage backend (or another dependency) is unavailable; try again",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: what went wrong and, for invalid input, where.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}
_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_LOCATION = {"Location": {"description": "The job's URL: poll it for progress and outcome",
                          "schema": {"type": "string"}}}


_CREATED_AT = {"Location": {"description": "The new resource's URL",
                            "schema": {"type": "string"}}}
#: Operations whose 201 carries ``Location`` (the created resource has a URL of its own):
#: the event, and each program resource (routes named "create <resource>").
CREATED_AT = frozenset({"create_event"})


def _tree(dependant: Dependant) -> Iterator[Dependant]:
    """The dependant and everything it depends on, however deep."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _tree(sub)


def _calls(dependant: Dependant) -> list[Any]:
    return [node.call for node in _tree(dependant)]


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route of the app with its effective path (routers may be nested)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def statuses(route: Any, operation: dict[str, Any]) -> set[int]:
    """The problem statuses ``route`` can answer (see the module docstring for the rules)."""
    nodes = list(_tree(route.dependant))
    calls = [node.call for node in nodes]
    found = set(EXTRA.get(route.name, ()))
    has_path = any(node.path_params for node in nodes)
    if deps.current_user in calls:
        found |= {401, 403, 404} if has_path else {401}
    if has_path:
        found |= {404, 422}
    if any(node.query_params or node.body_params for node in nodes):
        found.add(422)
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        found |= {400, 415, 422}  # 400: a body that cannot even be decoded
    if "multipart/form-data" in content:
        found |= {413, 422}
    if deps.storage in calls:
        found.add(503)
    if route.name in CONFLICTS:
        found.add(409)
    return found


def _document(route: Any, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    found = statuses(route, operation)
    if "422" in responses:  # FastAPI's own, in its validation shape: ours is a problem
        found.add(422)
    for status in sorted(found):
        responses[str(status)] = {"description": DESCRIPTIONS.get(status, "Error"),
                                  "content": _PROBLEM}
    if "202" in responses:
        responses["202"].setdefault("headers", {}).update(_LOCATION)
    if "201" in responses and (route.name in CREATED_AT
                                     or route.name.startswith("create ")):
        responses["201"].setdefault("headers", {}).update(_CREATED_AT)
    if deps.current_user in _calls(route.dependant):
        operation["security"] = [{"bearer": []}]


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI description (built once, then cached like FastAPI's own)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for route in api_routes(app):
        if route.include_in_schema:
            for method in (route.methods or set()) - {"HEAD"}:
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    _document(route, operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    app.openapi_schema = schema
    return schema


def install(app: FastAPI) -> None:
    """Serve :func:`describe` at ``app.openapi_url``."""
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
