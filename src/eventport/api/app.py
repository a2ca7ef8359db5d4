"""The FastAPI application: routers from each package, problem+json errors, OpenAPI."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from eventport import __version__
from eventport.api import openapi, problems
from eventport.api.head import HeadAsGet
from eventport.config import get_settings

#: Modules whose ``router`` is mounted, in order. A package adds its HTTP surface here.
ROUTER_MODULES = (
    "eventport.api.health",
    "eventport.api.auth",
    "eventport.api.feeds",
    "eventport.api.events",
    "eventport.api.program",
    "eventport.api.media",
    "eventport.api.files",
    "eventport.api.exports",
    "eventport.api.imports",
    "eventport.api.compat",
    "eventport.api.audit",
    "eventport.api.webhooks",
    "eventport.api.backups",
    "eventport.web.routes",
)


def create_app() -> FastAPI:
    settings = get_settings()
    settings.check_production_ready()
    app = FastAPI(
        title="Eventport",
        version=__version__,
        description="Organizer server whose events export and import without loss.",
        openapi_url="/openapi.json",
        docs_url="/docs",
    )
    problems.install(app)
    openapi.install(app)
    app.add_middleware(HeadAsGet, routes=app.router.routes)
    for name in ROUTER_MODULES:
        module = importlib.import_module(name)
        app.include_router(module.router)
    return app
