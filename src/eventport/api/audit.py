"""``GET /api/v1/events/{event_id}/audit``: the event's audit log, newest first (owners)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from eventport.api.deps import AuditReader, Db
from eventport.api.events import Page, PerPage, page_of
from eventport.audit import service

router = APIRouter(prefix="/api/v1/events", tags=["audit"])


@router.get("/{event_id}/audit")
def list_audit(event: AuditReader, db: Db, page: Page = 1, per_page: PerPage = 50
               ) -> dict[str, Any]:
    """Who requested, downloaded, pinned or deleted exports, imported, and changed roles,
    the backup policy or webhooks — ``{items: [{at, actor, action, target, details}],
    total, page, per_page}``."""
    rows, total = service.entries(db, event.id, page, per_page)
    return page_of([service.entry_document(r) for r in rows], total, page, per_page)
