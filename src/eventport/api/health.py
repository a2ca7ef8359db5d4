"""``GET /api/v1/health``: can this instance reach its database, storage and broker?

Each check is a small function returning "ok" or raising; the endpoint answers 200
when all pass and 503 (same body) when one fails, so a load balancer and a human read
the same thing. Other packages add checks to :data:`CHECKS` (the jobs package adds the
broker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from eventport import __version__
from eventport.db import get_engine
from eventport.storage import get_storage

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["health"])


def check_database() -> str:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def check_storage() -> str:
    get_storage().check()
    return "ok"


def check_broker() -> str:
    from eventport.jobs.celery_app import check_broker as probe

    return probe()


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "storage": check_storage,
    "broker": check_broker,
}


@router.get("/health")
def health() -> JSONResponse:
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    for name, check in CHECKS.items():
        try:
            body[name] = check()
        except Exception:  # a health check reports failures, it does not raise
            # Unauthenticated: say which part failed, keep paths and hosts in the log.
            log.exception("health check %s failed", name)
            body[name] = "error"
            body["status"] = "error"
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)
