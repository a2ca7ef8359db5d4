"""Invitations to an event (owners invite by e-mail) and password reset by e-mail.

``POST /api/v1/invitations`` creates an invitation and mails its link (a web page that
lets a new person set a password and lands them on the event). When no mail server is
configured the response carries ``accept_url`` so the owner can pass it on.
``POST /api/v1/auth/password-reset`` always answers 202, whether the address has an
account or not, so it cannot be used to find out who has one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from eventport.accounts import invitations, reset
from eventport.accounts import service as accounts
from eventport.accounts.models import Invitation, Role
from eventport.accounts.permissions import Permission
from eventport.api.deps import CurrentUser, Db, ItemId, SiteUrl, TeamManager
from eventport.api.events import Page, PerPage, page_of
from eventport.events.schemas import Id
from eventport.events.service import get_event
from eventport.notify import account_mail

router = APIRouter(prefix="/api/v1", tags=["account"])


class InvitationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: Id
    email: Annotated[EmailStr, Field(max_length=320)]
    role: Role = Role.COORGANIZER


class Acceptance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=2000)
    password: str = Field(max_length=1000)
    name: str = Field(default="", max_length=200)


class ResetRequest(BaseModel):
    email: str = Field(max_length=320)


class ResetConfirmation(BaseModel):
    token: str = Field(max_length=2000)
    new_password: str = Field(max_length=1000)


def invitation_document(row: Invitation) -> dict[str, Any]:
    return {"id": row.id, "event_id": row.event_id, "email": row.email, "role": row.role,
            "created_at": row.created_at.isoformat(), "expires_at": row.expires_at.isoformat(),
            "accepted_at": row.accepted_at.isoformat() if row.accepted_at else None}


@router.post("/invitations", status_code=201)
def invite(body: InvitationRequest, user: CurrentUser, db: Db, site: SiteUrl
           ) -> dict[str, Any]:
    accounts.require(db, user, body.event_id, Permission.MANAGE_TEAM)
    event = get_event(db, body.event_id)
    row, token = invitations.invite(db, event.id, str(body.email), body.role, user)
    db.commit()
    link = f"{site}/invitations/{token}"
    sent = account_mail.send_invitation(row.email, event.name, row.role,
                                        user.name or user.email, link)
    document = {**invitation_document(row), "mail_sent": sent}
    if not sent:
        document["accept_url"] = link
    return document


@router.post("/invitations/accept")
def accept(body: Acceptance, db: Db) -> dict[str, Any]:
    user, row = invitations.accept(db, body.token, body.password, body.name)
    token, _ = accounts.issue_token(db, user)
    db.commit()
    return {"event_id": row.event_id, "role": row.role, "access_token": token,
            "token_type": "bearer"}


@router.get("/events/{event_id}/invitations")
def list_invitations(event: TeamManager, db: Db, page: Page = 1, per_page: PerPage = 50
                     ) -> dict[str, Any]:
    """Open invitations, oldest first, a page at a time like every list."""
    rows, total = invitations.pending_page(db, event.id, page, per_page)
    return page_of([invitation_document(r) for r in rows], total, page, per_page)


@router.delete("/events/{event_id}/invitations/{invitation_id}", status_code=204)
def revoke_invitation(event: TeamManager, invitation_id: ItemId, db: Db) -> Response:
    invitations.revoke(db, event.id, invitation_id)
    db.commit()
    return Response(status_code=204)


@router.post("/auth/password-reset", status_code=202)
def request_reset(body: ResetRequest, db: Db, site: SiteUrl) -> dict[str, str]:
    found = reset.token_for(db, body.email)
    if found is not None:
        user, token = found
        account_mail.send_password_reset(user.email, f"{site}/password-reset/{token}")
    return {"detail": "if an account has this address, a reset link is on its way"}


@router.post("/auth/password-reset/confirm", status_code=204)
def confirm_reset(body: ResetConfirmation, db: Db) -> Response:
    reset.reset(db, body.token, body.new_password)
    db.commit()
    return Response(status_code=204)
