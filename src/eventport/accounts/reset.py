"""Password reset by e-mail: a signed link, valid for an hour, usable once.

The token names the user and a fingerprint of the current password hash, so setting a
new password (by this link or any other way) makes every earlier link useless; nothing
is stored. Asking for a link never says whether the address has an account.
"""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from eventport.accounts import service
from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.errors import InvalidInput

VALID_SECONDS = 3600
_SALT = "eventport.password-reset.v1"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def token_for(db: Session, email: str) -> tuple[User, str] | None:
    user = service.user_by_email(db, email)
    if user is None or not user.is_active:
        return None
    return user, _serializer().dumps({"u": user.id, "h": _fingerprint(user)})


def user_for(db: Session, token: str) -> User:
    try:
        data = _serializer().loads(token, max_age=VALID_SECONDS)
        user = db.get(User, int(data["u"]))
    except SignatureExpired:
        raise InvalidInput("this reset link has expired; ask for a new one") from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidInput("this reset link is not valid; ask for a new one") from None
    if user is None or not user.is_active or data.get("h") != _fingerprint(user):
        raise InvalidInput("this reset link was already used; ask for a new one")
    return user


def reset(db: Session, token: str, new_password: str) -> User:
    user = user_for(db, token)
    service.set_password(db, user, new_password)
    return user
