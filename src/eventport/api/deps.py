"""FastAPI dependencies: a database session, the calling user, the caller's event role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from eventport.accounts import service as accounts
from eventport.accounts.models import Role, User
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


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


#: Other ways to identify a caller (the web pages add their session cookie here).
#: Each takes the request and the DB session and returns a user or None.
USER_RESOLVERS: list = []


def current_user(request: Request, db: Db) -> User:
    token = _bearer(request)
    user = accounts.user_for_token(db, token) if token else None
    if user is None and token is None:
        for resolve in USER_RESOLVERS:
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
    """Resolves ``{event_id}`` to the event if the caller holds at least ``minimum``."""

    def __init__(self, minimum: Role) -> None:
        self.minimum = minimum

    def __call__(self, event_id: EventId, user: CurrentUser, db: Db) -> Event:
        accounts.require_role(db, user, event_id, self.minimum)
        return get_event(db, event_id)


AnyRole = Annotated[Event, Depends(EventAccess(Role.COORGANIZER))]
OwnerRole = Annotated[Event, Depends(EventAccess(Role.OWNER))]
