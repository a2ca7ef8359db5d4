"""Accounts: passwords, bearer tokens and who may do what on which event.

Passwords are hashed with Argon2id (argon2-cffi). Tokens are 256-bit random strings of
which only the SHA-256 is stored, with an expiry, so a leaked database or log line
cannot be replayed. A user without a role on an event is told the event does not exist
(404), so ids in URLs never reveal other organizers' events.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from eventport.accounts.models import ApiToken, EventRole, Role, TokenKind, User
from eventport.accounts.permissions import DESCRIPTIONS, Permission, allows, lowest_role_with
from eventport.config import get_settings
from eventport.db.base import utcnow
from eventport.db.paging import paginate
from eventport.errors import Conflict, Forbidden, InvalidInput, NotFound

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both paths cost the same time.

    Made on first use, not at import: an Argon2 hash takes 64 MiB and a burst of threads,
    and every worker and CLI process imports this module (a worker's peak RSS was
    138 MB for it, 75 MB once started). The web app makes it when it is created
    (:func:`prepare_logins`), so not even the first unknown e-mail answers slower."""
    return _hasher.hash("not-a-real-password")


def prepare_logins() -> None:
    """Make what :func:`authenticate` needs before the first request (a process that
    serves logins calls this at start)."""
    _dummy_hash()

RANK = {Role.OWNER: 3, Role.ORGANIZER: 2, Role.COORGANIZER: 1}
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    db: Session, email: str, password: str, *, name: str = "", is_admin: bool = False
) -> User:
    email = email.strip().lower()
    check_password_rules(password)
    if db.scalar(select(User).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, name=name, password_hash=hash_password(password), is_admin=is_admin)
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, email: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")


def change_password(db: Session, user: User, current: str, new: str, *,
                    keep: ApiToken | None = None) -> None:
    """Change a password after checking the current one; every other session ends."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise Forbidden("the current password is wrong") from None
    set_password(db, user, new, keep=keep)


def set_password(db: Session, user: User, new: str, *, keep: ApiToken | None = None) -> None:
    """Set a new password and sign the user out everywhere (but ``keep``)."""
    check_password_rules(new)
    user.password_hash = hash_password(new)
    query = delete(ApiToken).where(ApiToken.user_id == user.id,
                                   ApiToken.kind != TokenKind.API.value)
    if keep is not None:
        query = query.where(ApiToken.id != keep.id)
    db.execute(query)
    db.flush()


def issue_token(db: Session, user: User, ttl: dt.timedelta | None = None, *,
                kind: TokenKind = TokenKind.LOGIN, name: str = "") -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    ttl = ttl or dt.timedelta(hours=get_settings().token_ttl_hours)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=utcnow() + ttl,
                   kind=kind.value, name=name)
    db.add(row)
    db.execute(delete(ApiToken).where(ApiToken.user_id == user.id,
                                      ApiToken.expires_at < utcnow()))
    db.flush()
    return token, row


def token_row(db: Session, token: str) -> ApiToken | None:
    """The live token row for a bearer string (None when unknown, expired or disabled)."""
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row


#: ``last_used_at`` is written at most this often per token (not on every request).
TOUCH_EVERY = dt.timedelta(minutes=10)


def user_for_token(db: Session, token: str, *, touch: bool = False) -> User | None:
    """The token's user; with ``touch``, note (coarsely) that the token was used."""
    row = token_row(db, token)
    if row is None:
        return None
    if touch and (row.last_used_at is None or row.last_used_at < utcnow() - TOUCH_EVERY):
        row.last_used_at = utcnow()
        db.commit()
    return row.user


def _tokens(user: User) -> Any:
    return (select(ApiToken).where(ApiToken.user_id == user.id,
                                   ApiToken.kind == TokenKind.API.value,
                                   ApiToken.expires_at > utcnow())
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))


def list_tokens(db: Session, user: User) -> list[ApiToken]:
    """The user's live named API tokens, newest first (sessions are not listed)."""
    return list(db.scalars(_tokens(user)))


def tokens_page(db: Session, user: User, page: int, per_page: int
                ) -> tuple[list[ApiToken], int]:
    """One page of :func:`list_tokens` and their total."""
    return paginate(db, _tokens(user), page, per_page)


def revoke_token_id(db: Session, user: User, token_id: int) -> None:
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.kind != TokenKind.API.value:
        raise NotFound(f"token {token_id} not found")
    db.delete(row)
    db.flush()


def revoke_token(db: Session, token: str) -> None:
    db.execute(delete(ApiToken).where(ApiToken.token_hash == _digest(token)))


def role_on(db: Session, user: User, event_id: int) -> Role | None:
    if user.is_admin:
        return Role.OWNER
    role = db.scalar(
        select(EventRole.role).where(EventRole.event_id == event_id, EventRole.user_id == user.id)
    )
    return Role(role) if role else None


def require(db: Session, user: User, event_id: int, permission: Permission) -> Role:
    """The caller's role if it allows ``permission``; NotFound (no role) / Forbidden."""
    role = role_on(db, user, event_id)
    if role is None:
        raise NotFound(f"event {event_id} not found")
    if not allows(role, permission):
        needed = lowest_role_with(permission)
        raise Forbidden(f"to {DESCRIPTIONS[permission]} you need the {needed.value} role "
                        f"or higher on this event; you are {role.value}")
    return role


def require_role(db: Session, user: User, event_id: int, minimum: Role) -> Role:
    """The caller's role on the event, or NotFound (no role) / Forbidden (too low)."""
    role = role_on(db, user, event_id)
    if role is None:
        raise NotFound(f"event {event_id} not found")
    if RANK[role] < RANK[minimum]:
        raise Forbidden(f"this needs the {minimum.value} role on the event; you are {role.value}")
    return role


def user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == email.strip().lower()))


def grant_role(db: Session, event_id: int, email: str, role: Role) -> EventRole:
    user = user_by_email(db, email)
    if user is None:
        raise InvalidInput(f"no user with e-mail {email}; invite them instead "
                           "(POST /api/v1/invitations)")
    existing = db.scalar(
        select(EventRole).where(EventRole.event_id == event_id, EventRole.user_id == user.id)
    )
    if existing is not None:
        if existing.role == Role.OWNER and role != Role.OWNER:
            _ensure_another_owner(db, event_id, existing)
        existing.role = role.value
        db.flush()
        return existing
    row = EventRole(event_id=event_id, user_id=user.id, role=role.value)
    db.add(row)
    db.flush()
    return row


def change_role(db: Session, event_id: int, role_id: int, role: Role) -> EventRole:
    row = db.get(EventRole, role_id)
    if row is None or row.event_id != event_id:
        raise NotFound(f"role {role_id} not found")
    if row.role == Role.OWNER and role != Role.OWNER:
        _ensure_another_owner(db, event_id, row)
    row.role = role.value
    db.flush()
    return row


def revoke_role(db: Session, event_id: int, role_id: int) -> None:
    row = db.get(EventRole, role_id)
    if row is None or row.event_id != event_id:
        raise NotFound(f"role {role_id} not found")
    if row.role == Role.OWNER:
        _ensure_another_owner(db, event_id, row)
    db.delete(row)
    db.flush()


def revoke_role_of(db: Session, event_id: int, email: str) -> tuple[str, str]:
    """Remove ``email``'s role on the event (DESIGN: ``DELETE …/roles?email=``).

    Clients know people by e-mail, not by our row ids, hence this second way in; the
    last owner stays, so an event is never left without someone who can manage it.
    Returns the e-mail and the role removed, for the audit entry.
    """
    user = user_by_email(db, email)
    row = None if user is None else db.scalar(
        select(EventRole).where(EventRole.event_id == event_id, EventRole.user_id == user.id))
    if row is None:
        raise NotFound(f"{email} has no role on this event")
    removed = (row.user.email, row.role)
    revoke_role(db, event_id, row.id)
    return removed


def _ensure_another_owner(db: Session, event_id: int, leaving: EventRole) -> None:
    owners = db.scalars(
        select(EventRole).where(EventRole.event_id == event_id, EventRole.role == Role.OWNER)
    ).all()
    if all(o.id == leaving.id for o in owners):
        raise Conflict("an event must keep at least one owner; add another owner first")


def list_roles(db: Session, event_id: int) -> list[EventRole]:
    return list(
        db.scalars(select(EventRole).where(EventRole.event_id == event_id).order_by(EventRole.id))
    )


def roles_page(db: Session, event_id: int, page: int, per_page: int
               ) -> tuple[list[EventRole], int]:
    """One page of the event's roles (oldest grant first) and their total."""
    query = select(EventRole).where(EventRole.event_id == event_id).order_by(EventRole.id)
    return paginate(db, query, page, per_page)


__all__ = [
    "Forbidden",
    "Permission",
    "authenticate",
    "change_password",
    "create_user",
    "grant_role",
    "issue_token",
    "list_roles",
    "require",
    "require_role",
    "revoke_role",
    "role_on",
    "user_for_token",
]
