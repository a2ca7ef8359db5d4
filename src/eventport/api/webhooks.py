"""Webhooks of an event (owners): list, create, delete, and each one's delivery log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from eventport.api.deps import CurrentUser, Db, ItemId, WebhookManager
from eventport.api.events import Page, PerPage, page_of
from eventport.audit.service import record
from eventport.webhooks import service

router = APIRouter(prefix="/api/v1/events", tags=["webhooks"])


class WebhookFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="HMAC key; one is generated when omitted")
    events: list[str] = Field(min_length=1, max_length=10)


@router.get("/{event_id}/webhooks")
def list_webhooks(event: WebhookManager, db: Db, page: Page = 1, per_page: PerPage = 50
                  ) -> dict[str, Any]:
    """A page like every API list: ``{items, total, page, per_page}``."""
    hooks, total = service.webhooks_page(db, event.id, page, per_page)
    return page_of([service.webhook_document(h) for h in hooks], total, page, per_page)


@router.post("/{event_id}/webhooks", status_code=201)
def create_webhook(event: WebhookManager, body: WebhookFields, user: CurrentUser, db: Db
                   ) -> dict[str, Any]:
    """The response carries the ``secret`` — the only time it is shown."""
    hook, secret = service.create_webhook(db, event, user, body.url, body.secret, body.events)
    record(db, event.id, user, "webhook.created", hook.url, {"events": hook.events})
    return {**service.webhook_document(hook), "secret": secret}


@router.delete("/{event_id}/webhooks/{webhook_id}", status_code=204)
def delete_webhook(event: WebhookManager, webhook_id: ItemId, user: CurrentUser, db: Db
                   ) -> Response:
    hook = service.get_webhook(db, event.id, webhook_id)
    url = hook.url
    service.delete_webhook(db, hook)
    record(db, event.id, user, "webhook.deleted", url)
    return Response(status_code=204)


@router.get("/{event_id}/webhooks/{webhook_id}/deliveries")
def list_deliveries(event: WebhookManager, webhook_id: ItemId, db: Db, page: Page = 1,
                    per_page: PerPage = 50) -> dict[str, Any]:
    """The deliveries, newest first, a page at a time, each with one log entry per attempt."""
    hook = service.get_webhook(db, event.id, webhook_id)
    rows, total = service.deliveries_page(db, hook, page, per_page)
    return page_of([service.delivery_document(d) for d in rows], total, page, per_page)
