"""The composition root: the one place that assembles the ASGI application.

It mounts the API routers, the organizer pages and their static files, the API docs
(served from local assets, so ``/docs`` works without internet access), registers the
web session cookie as a second way for the API to identify a caller, and installs the
error handlers (problem+json for API clients, HTML pages for browsers). No module
changes another by being imported: everything is wired here, explicitly.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from eventport import __version__
from eventport.accounts import service as accounts
from eventport.api import (
    audit,
    auth,
    backups,
    compat,
    events,
    exports,
    feeds,
    files,
    guard,
    health,
    imports,
    invitations,
    media,
    openapi,
    problems,
    program,
    webhooks,
)
from eventport.api.head import HeadAsGet
from eventport.config import get_settings
from eventport.web import errors as web_errors
from eventport.web import routes as web_routes
from eventport.web import session as web_session
from eventport.web.pages import static_url

#: API routers, in mount order. A package adds its HTTP surface here.
API_ROUTERS = (
    health.router, auth.router, invitations.router, feeds.router, events.router,
    program.router, media.router, files.router, exports.router, imports.router,
    compat.router, audit.router, webhooks.router, backups.router,
)

DOCS_ASSETS = "/docs-assets"
#: Swagger UI 5 (OpenAPI 3.1), as shipped inside the fastapi-offline package.
SWAGGER_DIR = Path(fastapi_offline.__file__).parent / "static"


def _add_docs(app: FastAPI) -> None:
    """Swagger UI from local files instead of a CDN."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(SWAGGER_DIR)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Eventport API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=static_url("favicon.svg"),
        )


def create_app() -> FastAPI:
    settings = get_settings()
    settings.check_production_ready()
    app = FastAPI(
        title="Eventport",
        version=__version__,
        description="Organizer server whose events export and import without loss.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    problems.install(app)
    openapi.install(app)
    web_errors.install(app)  # after problems: browsers asking for pages get HTML
    app.add_middleware(HeadAsGet, routes=app.router.routes)
    guard.install(app)  # outermost: refuses before anything else runs
    app.state.user_resolvers = [web_session.resolve_api_user]
    for router in API_ROUTERS:
        app.include_router(router)
    for router in web_routes.ROUTERS:
        app.include_router(router)
    _add_docs(app)
    accounts.prepare_logins()
    return app
