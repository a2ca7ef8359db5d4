"""Sign-in rate limiting: failures counted per address and per client, in the database.

A password guesser gets ``MAX_PER_EMAIL`` tries per address and ``MAX_PER_CLIENT`` per
client address within ``WINDOW``; then every sign-in for that address (or from that
client) is refused with 429 and a ``Retry-After`` until the oldest failure ages out —
the right password included, so a guesser learns nothing from the refusal. A successful
sign-in clears the address's count. The rows live in the database so several web
processes share one limit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from eventport.accounts.models import SignInFailure
from eventport.db.base import utcnow
from eventport.errors import TooManyRequests

WINDOW = dt.timedelta(minutes=15)
MAX_PER_EMAIL = 10
MAX_PER_CLIENT = 50


def _oldest_blocking(db: Session, column: InstrumentedAttribute[str], value: str, limit: int
                     ) -> dt.datetime | None:
    since = utcnow() - WINDOW
    where = (column == value, SignInFailure.at > since)
    count = db.scalar(select(func.count()).select_from(SignInFailure).where(*where)) or 0
    if count < limit:
        return None
    return db.scalar(select(func.min(SignInFailure.at)).where(*where))


def check(db: Session, email: str, client: str) -> None:
    """Raise :class:`TooManyRequests` while the address or the client is locked out."""
    email = email.strip().lower()
    for column, value, limit in ((SignInFailure.email, email, MAX_PER_EMAIL),
                                 (SignInFailure.client, client, MAX_PER_CLIENT)):
        oldest = _oldest_blocking(db, column, value, limit)
        if oldest is not None:
            wait = max(1, int((oldest + WINDOW - utcnow()).total_seconds()) + 1)
            raise TooManyRequests(
                f"too many failed sign-ins; try again in {max(1, round(wait / 60))} minute(s)",
                retry_after=wait)


def record_failure(db: Session, email: str, client: str) -> None:
    db.add(SignInFailure(email=email.strip().lower()[:320], client=client[:64], at=utcnow()))
    db.execute(delete(SignInFailure).where(SignInFailure.at < utcnow() - 2 * WINDOW))
    db.flush()


def clear(db: Session, email: str) -> None:
    db.execute(delete(SignInFailure).where(SignInFailure.email == email.strip().lower()))
