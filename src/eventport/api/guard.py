"""Input the database or the process cannot take is refused at the door (issue 12, D4/D7).

A pure ASGI middleware, in front of routing and authentication, so refusing costs no
memory and no database round trip:

* **NUL bytes** (and lone surrogates): PostgreSQL refuses them in text, which surfaced as a
  500 deep inside a request. Path and query are checked here; JSON and form bodies too
  (``\\u0000`` or ``%00``). Multipart file uploads are binary and pass untouched.
* **Body size**: a JSON or form body larger than :data:`MAX_FORM_BYTES` is a 413 —
  from ``Content-Length`` before one byte is read, or as soon as a chunked body grows past
  it. Multipart uploads stream and keep their own limits (media, import).
* **Slow bodies**: a body that stalls for :data:`BODY_TIMEOUT` seconds is a 408, so idle
  connections cannot hold workers.
* **Deep JSON**: nesting beyond :data:`MAX_JSON_DEPTH` is a 422 (the JSON parser would
  recurse until ``RecursionError``).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventport.api.problems import problem

MAX_FORM_BYTES = 2 * 1024 * 1024
BODY_TIMEOUT = 30.0
MAX_JSON_DEPTH = 64
_BUFFERED = ("application/json", "application/x-www-form-urlencoded", "text/")
_JSON_NUL = re.compile(rb"\\u0000|\x00", re.IGNORECASE)
_FORM_NUL = re.compile(rb"%00|\x00")
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]')


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays/objects, strings skipped (no parsing, no recursion)."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(body):
        first = token.group()[:1]
        if first in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif first in (b"]", b"}"):
            depth -= 1
    return deepest


def _check_url(scope: Scope) -> None:
    path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogatepass")
    for name, raw in (("path", path), ("query", scope.get("query_string", b""))):
        if b"\x00" in raw or b"\x00" in unquote_to_bytes(raw):
            raise Refused(422, "Invalid input", f"the {name} contains a NUL byte")


def _check_body(content_type: str, body: bytes) -> None:
    if content_type.startswith("application/json"):
        if _JSON_NUL.search(body):
            raise Refused(422, "Invalid input", "the JSON body contains a NUL character "
                          "(\\u0000), which text fields cannot hold")
        if json_depth(body) > MAX_JSON_DEPTH:
            raise Refused(422, "Invalid input", f"the JSON body is nested deeper than "
                          f"{MAX_JSON_DEPTH} levels")
    elif _FORM_NUL.search(body):
        raise Refused(422, "Invalid input", "the form contains a NUL character")


class InputGuard:
    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_FORM_BYTES,
                 timeout: float = BODY_TIMEOUT) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        content_type = headers.get("content-type", "").lower()
        try:
            _check_url(scope)
            if content_type.startswith(_BUFFERED):
                declared = headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise Refused(413, "Payload too large",
                                  f"the body is larger than {self.max_bytes} bytes")
                body = await self._read(receive)
                _check_body(content_type, body)
                receive = _replay(body)
            else:
                receive = self._timed(receive)
        except Refused as exc:
            await problem(exc.status, exc.title, exc.detail)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _read(self, receive: Receive) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await self._next(receive)
            if message["type"] == "http.disconnect":
                raise Refused(400, "Bad request", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise Refused(413, "Payload too large",
                              f"the body is larger than {self.max_bytes} bytes")
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _next(self, receive: Receive) -> Message:
        try:
            return await asyncio.wait_for(receive(), self.timeout)
        except TimeoutError:
            raise Refused(408, "Request timeout", f"no body bytes arrived for "
                          f"{self.timeout:.0f} seconds") from None

    def _timed(self, receive: Receive) -> Receive:
        """Streamed bodies (uploads) get the same stall timeout, raised into the app."""
        async def timed() -> Message:
            try:
                return await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                return {"type": "http.disconnect"}
        return timed


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # like a client that keeps the connection open
        return {"type": "http.disconnect"}  # pragma: no cover

    return receive


def install(app: Any) -> None:
    app.add_middleware(InputGuard, max_bytes=MAX_FORM_BYTES, timeout=BODY_TIMEOUT)
