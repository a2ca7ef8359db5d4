"""``HEAD`` wherever ``GET`` is served (RFC 9110 §9.3.2), for pages and API alike.

FastAPI registers a route per method and, unlike Starlette's plain routes, adds no HEAD
to a GET route, so ``HEAD /`` — what uptime monitors and link checkers send — was a
405. This middleware answers a HEAD the matching GET route would answer, with the same
status and headers and no body. Routes that declare HEAD themselves (the signed download,
which must not read the file) are left to do so.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    def _declares_head(self, scope: Scope) -> bool:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or self._declares_head(scope):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
