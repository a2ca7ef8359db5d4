"""FastAPI dependencies: a database session, the calling user, the caller's event role.

Other ways to identify a caller than a bearer token (the web pages' session cookie) are
not registered here by importing anything: the composition root (:mod:`eventport.api.app`)
puts them in ``app.state.user_resolvers``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from eventport.accounts import service as accounts
from eventport.accounts.models import Role, User
from eventport.accounts.permissions import Permission
from eventport.config import get_settings
from eventport.db import get_sessionmaker
from eventport.errors import Unauthorized
from eventport.events.models import Event
from eventport.events.schemas import MAX_ID
from eventport.events.service import get_event
from eventport.storage import Storage, get_storage


def get_db() -> Iterator[Session]:
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.close()


Db = Annotated[Session, Depends(get_db)]


def storage() -> Storage:
    return get_storage()


StorageDep = Annotated[Storage, Depends(storage)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def site_url(request: Request) -> str:
    """The address links should use: ``EVENTPORT_BASE_URL``, else the one this request
    reached (scheme, host and port), so ``make run PORT=8100`` gives working links."""
    return (get_settings().base_url or str(request.base_url)).rstrip("/")


SiteUrl = Annotated[str, Depends(site_url)]


def current_user(request: Request, db: Db) -> User:
    token = bearer_token(request)
    user = accounts.user_for_token(db, token, touch=True) if token else None
    if user is None and token is None:
        # Each resolver takes the request and the DB session and returns a user or None.
        for resolve in getattr(request.app.state, "user_resolvers", ()):
            user = resolve(request, db)
            if user is not None:
                break
    if user is None:
        raise Unauthorized("a valid bearer token is required (POST /api/v1/auth/token)")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


#: Path ids are bounded so an absurd number is a 422, not a database overflow.
EventId = Annotated[int, Path(ge=1, le=MAX_ID)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]


class EventAccess:
    """Resolves ``{event_id}`` to the event if the caller's role allows ``needed``
    (a :class:`Permission` from the role matrix, or a minimum :class:`Role`)."""

    def __init__(self, needed: Permission | Role) -> None:
        self.needed = needed

    def __call__(self, event_id: EventId, user: CurrentUser, db: Db) -> Event:
        if isinstance(self.needed, Permission):
            accounts.require(db, user, event_id, self.needed)
        else:
            accounts.require_role(db, user, event_id, self.needed)
        return get_event(db, event_id)


def may(permission: Permission) -> Any:
    """``Annotated[Event, may(Permission.X)]``: the event, if the caller may do X on it."""
    return Depends(EventAccess(permission))


AnyRole = Annotated[Event, may(Permission.VIEW)]
ProgramEditor = Annotated[Event, may(Permission.EDIT_PROGRAM)]
EventEditor = Annotated[Event, may(Permission.EDIT_EVENT)]
TeamManager = Annotated[Event, may(Permission.MANAGE_TEAM)]
PolicyManager = Annotated[Event, may(Permission.MANAGE_BACKUPS)]
WebhookManager = Annotated[Event, may(Permission.MANAGE_WEBHOOKS)]
AuditReader = Annotated[Event, may(Permission.VIEW_AUDIT)]
OwnerRole = Annotated[Event, Depends(EventAccess(Role.OWNER))]
