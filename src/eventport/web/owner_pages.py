"""The owner's pages: the backup policy with its next run and last result, webhooks with
their delivery logs, and the audit log. Changes go through the REST API (``form.js``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from eventport.accounts.permissions import Permission
from eventport.api.deps import Db, EventId
from eventport.audit import service as audit
from eventport.backups import service as backups
from eventport.errors import NotFound
from eventport.exports.registry import exporters
from eventport.web.event_pages import MEDIA_KINDS
from eventport.web.pages import PageUser, event_for, page_router, render
from eventport.webhooks import service as webhooks
from eventport.webhooks.models import EVENT_TYPES

router = page_router()
AUDIT_PER_PAGE = 50


def _policy(db: Db, event_id: int) -> dict[str, Any] | None:
    try:
        return backups.policy_document(db, backups.get_policy(db, event_id))
    except NotFound:
        return None


@router.get("/events/{event_id}/backups")
def backups_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id, Permission.MANAGE_BACKUPS)
    hooks = [{**webhooks.webhook_document(h),
              "deliveries": [webhooks.delivery_document(d)
                             for d in webhooks.deliveries(db, h, limit=20)]}
             for h in webhooks.list_webhooks(db, event.id)]
    return render(request, "event_backups.html", {
        "event": event, "role": role, "tab": "backups", "policy": _policy(db, event.id),
        "formats": sorted(exporters()), "kinds": MEDIA_KINDS, "hooks": hooks,
        "event_types": EVENT_TYPES})


@router.get("/events/{event_id}/audit")
def audit_page(request: Request, event_id: EventId, user: PageUser, db: Db,
               page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    event, role = event_for(db, user, event_id, Permission.VIEW_AUDIT)
    rows, total = audit.entries(db, event.id, page, AUDIT_PER_PAGE)
    return render(request, "event_audit.html", {
        "event": event, "role": role, "tab": "audit", "total": total, "page": page,
        "pages": max(1, -(-total // AUDIT_PER_PAGE)),
        "entries": [audit.entry_document(r) for r in rows]})
