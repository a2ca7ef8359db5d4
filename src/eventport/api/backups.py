"""``GET|PUT|DELETE /api/v1/events/{event_id}/backup-policy`` (owners)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from eventport.api.deps import CurrentUser, Db, PolicyManager
from eventport.audit.service import record
from eventport.backups import service

router = APIRouter(prefix="/api/v1/events", tags=["backups"])


class PolicyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(min_length=9, max_length=100, examples=["0 3 * * *"])
    timezone: str | None = Field(default=None, max_length=64,
                                 description="IANA zone; the event's when omitted")
    format: str = Field(default="archive", max_length=32)
    media: list[str] | None = Field(default=None, max_length=10)
    profile: str = Field(default="full", max_length=16)
    recipients: list[str] = Field(default_factory=list, max_length=20)
    keep_last: int = Field(default=7, ge=1, le=service.MAX_KEEP_LAST)


@router.get("/{event_id}/backup-policy")
def read_policy(event: PolicyManager, db: Db) -> dict[str, Any]:
    """The policy, its ``next_run_at`` and ``last_result`` (newest scheduled export)."""
    return service.policy_document(db, service.get_policy(db, event.id))


@router.put("/{event_id}/backup-policy")
def put_policy(event: PolicyManager, body: PolicyFields, user: CurrentUser, db: Db
               ) -> dict[str, Any]:
    policy = service.put_policy(db, event, user, body.model_dump())
    document = service.policy_document(db, policy)
    record(db, event.id, user, "backup_policy.updated", "backup policy",
           {k: document[k] for k in ("cron", "timezone", "format", "media", "profile",
                                     "recipients", "keep_last")})
    return document


@router.delete("/{event_id}/backup-policy", status_code=204)
def delete_policy(event: PolicyManager, user: CurrentUser, db: Db) -> Response:
    service.delete_policy(db, service.get_policy(db, event.id))
    record(db, event.id, user, "backup_policy.deleted", "backup policy")
    return Response(status_code=204)
