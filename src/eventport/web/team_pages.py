"""The team page (roles and invitations) and the page an invitation link opens.

Granting, changing and removing roles and inviting are done by ``team.js`` through the
REST API; accepting an invitation is a plain form here, because the invitee has no
session yet: it creates the account (or checks its password), grants the role, signs
the person in and lands them on the event.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from eventport.accounts import invitations
from eventport.accounts import service as accounts
from eventport.accounts.models import Role
from eventport.accounts.permissions import DESCRIPTIONS, MATRIX, Permission, allows
from eventport.api.deps import Db, EventId
from eventport.errors import EventportError
from eventport.events.service import get_event
from eventport.web import session as web_session
from eventport.web.pages import PageUser, error_page, event_for, page_router, redirect, render

router = page_router()
ROLE_ORDER = (Role.OWNER, Role.ORGANIZER, Role.COORGANIZER)


def matrix_rows() -> list[tuple[str, list[bool]]]:
    return [(DESCRIPTIONS[p], [p in MATRIX[r] for r in ROLE_ORDER]) for p in Permission]


@router.get("/events/{event_id}/team")
def team_page(request: Request, event_id: EventId, user: PageUser, db: Db) -> Response:
    event, role = event_for(db, user, event_id)
    manage = allows(role, Permission.MANAGE_TEAM)
    return render(request, "event_team.html", {
        "event": event, "role": role, "tab": "team", "manage": manage,
        "members": accounts.list_roles(db, event.id),
        "pending": invitations.pending(db, event.id) if manage else [],
        "roles": ROLE_ORDER, "matrix": matrix_rows(), "me": user.id})


def _invitation_page(request: Request, db: Db, token: str, error: str | None = None,
                     status: int = 200) -> Response:
    try:
        row = invitations.resolve(db, token)
    except EventportError as exc:
        return error_page(request, exc.status, "Invitation not usable", exc.detail)
    return render(request, "invitation.html", {
        "invitation": row, "event": get_event(db, row.event_id), "token": token,
        "has_account": accounts.user_by_email(db, row.email) is not None, "error": error},
        status_code=status)


@router.get("/invitations/{token}")
def invitation_page(request: Request, token: str, db: Db) -> Response:
    return _invitation_page(request, db, token[:2000])


@router.post("/invitations/{token}")
def accept_invitation(
    request: Request, token: str, db: Db,
    password: Annotated[str, Form(max_length=1000)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    token = token[:2000]
    session = web_session.load(request)
    if session.changed or not web_session.csrf_matches(session, csrf_token):
        return _invitation_page(request, db, token, "The form expired; please try again.", 403)
    try:
        user, row = invitations.accept(db, token, password, name.strip())
    except EventportError as exc:
        db.rollback()
        return _invitation_page(request, db, token, exc.detail, exc.status)
    web_session.sign_in(db, request, user)
    db.commit()
    return redirect(f"/events/{row.event_id}", request)
