"""Invitations: an owner names an e-mail address and a role; the invitee accepts by link.

The link carries a token signed with the secret key (itsdangerous) that names the
invitation row and expires with it. Accepting grants the role once: a person without an
account sets a password on the way in; a person with one proves it with their password.
Revoked, expired or used invitations are refused with the reason in words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts import service
from eventport.accounts.models import EventRole, Invitation, Role, User
from eventport.config import get_settings
from eventport.db.base import utcnow
from eventport.db.paging import paginate
from eventport.errors import Conflict, Forbidden, InvalidInput, NotFound

VALID_FOR = dt.timedelta(days=7)
_SALT = "eventport.invitation.v1"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SALT)


def invite(db: Session, event_id: int, email: str, role: Role, by: User | None
           ) -> tuple[Invitation, str]:
    """Create the invitation; returns it with the token for its link."""
    email = email.strip().lower()
    existing = service.user_by_email(db, email)
    if existing is not None and db.scalar(select(EventRole.id).where(
            EventRole.event_id == event_id, EventRole.user_id == existing.id)):
        raise Conflict(f"{email} already has a role on this event; change it on the team page")
    row = Invitation(event_id=event_id, email=email, role=role.value,
                     invited_by_id=by.id if by else None, expires_at=utcnow() + VALID_FOR)
    db.add(row)
    db.flush()
    return row, _serializer().dumps({"i": row.id, "e": email})


def _pending(event_id: int) -> Any:
    return select(Invitation).where(
        Invitation.event_id == event_id, Invitation.accepted_at.is_(None),
        Invitation.expires_at > utcnow()).order_by(Invitation.id)


def pending(db: Session, event_id: int) -> list[Invitation]:
    return list(db.scalars(_pending(event_id)))


def pending_page(db: Session, event_id: int, page: int, per_page: int
                 ) -> tuple[list[Invitation], int]:
    """One page of the event's open invitations (oldest first) and their total."""
    return paginate(db, _pending(event_id), page, per_page)


def revoke(db: Session, event_id: int, invitation_id: int) -> None:
    row = db.get(Invitation, invitation_id)
    if row is None or row.event_id != event_id:
        raise NotFound(f"invitation {invitation_id} not found")
    db.delete(row)
    db.flush()


def resolve(db: Session, token: str) -> Invitation:
    """The open invitation a token names, or an error saying why it cannot be used."""
    try:
        data = _serializer().loads(token, max_age=int(VALID_FOR.total_seconds()))
        row = db.get(Invitation, int(data["i"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound("this invitation link is not valid; ask for a new one") from None
    if row is None or row.email != data.get("e"):
        raise NotFound("this invitation was withdrawn; ask for a new one")
    if row.accepted_at is not None:
        raise Conflict("this invitation was already accepted; sign in instead")
    if row.expires_at <= utcnow():
        raise Conflict("this invitation has expired; ask for a new one")
    return row


def accept(db: Session, token: str, password: str, name: str = "") -> tuple[User, Invitation]:
    """Grant the invitation's role, creating the account (with ``password``) if needed."""
    row = resolve(db, token)
    user = service.user_by_email(db, row.email)
    if user is None:
        user = service.create_user(db, row.email, password, name=name)
    elif service.authenticate(db, row.email, password) is None:
        raise Forbidden("that is not the password of the existing account "
                        f"{row.email}; use it, or reset it first")
    if not user.is_active:
        raise InvalidInput("this account is disabled")
    service.grant_role(db, row.event_id, row.email, Role(row.role))
    row.accepted_at = utcnow()
    db.flush()
    return user, row
