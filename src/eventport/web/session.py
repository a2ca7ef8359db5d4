"""The web session: a signed cookie holding a CSRF secret and, once signed in, an API token.

Why a token inside the cookie rather than a user id: signing in issues an ordinary
:class:`~eventport.accounts.models.ApiToken` (hashed in the database, with an expiry),
so signing out revokes it server-side — a copied cookie stops working the moment its
owner signs out — and the pages authenticate exactly like API clients do, through
:func:`eventport.accounts.service.user_for_token`.

The cookie is signed with ``settings.secret_key`` (itsdangerous), ``HttpOnly`` (page
scripts never see the token), ``SameSite=Lax`` and ``Secure`` when the site is served
over https. Its CSRF secret is random per session and rotated at sign-in; forms carry it
in a hidden field and page scripts send it in the ``X-CSRF-Token`` header, which is
checked for every unsafe method authenticated by the cookie (bearer-token API clients
are not affected: a browser never attaches those by itself).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from eventport.accounts import service as accounts
from eventport.accounts.models import TokenKind, User
from eventport.config import get_settings
from eventport.errors import Forbidden

COOKIE_NAME = "eventport_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SALT = "eventport.web.session.v1"


@dataclass
class WebSession:
    """What the cookie carries; ``changed`` tells the response to (re)write it."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None
    changed: bool = False


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SALT)


def _max_age() -> int:
    return get_settings().token_ttl_hours * 3600


def load(request: Request) -> WebSession:
    """The request's session, or a fresh anonymous one (marked changed) when absent/invalid."""
    cached = request.scope.get("eventport.web_session")
    if isinstance(cached, WebSession):
        return cached
    raw = request.cookies.get(COOKIE_NAME)
    data: object = None
    if raw:
        try:
            data = _serializer().loads(raw, max_age=_max_age())
        except BadSignature:  # also covers SignatureExpired
            data = None
    if isinstance(data, dict) and isinstance(data.get("c"), str):
        token = data.get("t")
        session = WebSession(csrf=data["c"], token=token if isinstance(token, str) else None)
    else:
        session = WebSession(changed=True)
    request.scope["eventport.web_session"] = session
    return session


def save(response: Response, session: WebSession, request: Request) -> None:
    """Write the cookie when the session changed (sign-in, sign-out, first visit)."""
    if not session.changed:
        return
    settings = get_settings()
    payload: dict[str, str] = {"c": session.csrf}
    if session.token:
        payload["t"] = session.token
    response.set_cookie(
        COOKIE_NAME,
        _serializer().dumps(payload),
        max_age=_max_age(),
        path="/",
        httponly=True,
        samesite="lax",
        secure=(settings.base_url or str(request.base_url)).startswith("https://"),
    )


def csrf_matches(session: WebSession, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(session.csrf, str(supplied))


def user_for(request: Request, db: Session) -> User | None:
    """The signed-in user of this request's cookie, or None (no CSRF check: reads only)."""
    session = load(request)
    if not session.token:
        return None
    return accounts.user_for_token(db, session.token)


def sign_in(db: Session, request: Request, user: User) -> WebSession:
    """Issue a token for the user and start a new session (a new CSRF secret, too)."""
    token, _ = accounts.issue_token(db, user, kind=TokenKind.SESSION)
    session = WebSession(token=token, changed=True)
    request.scope["eventport.web_session"] = session
    return session


def sign_out(db: Session, request: Request) -> WebSession:
    """Revoke the session's token server-side and start a fresh anonymous session."""
    old = load(request)
    if old.token:
        accounts.revoke_token(db, old.token)
    session = WebSession(changed=True)
    request.scope["eventport.web_session"] = session
    return session


def resolve_api_user(request: Request, db: Session) -> User | None:
    """API hook (``app.state.user_resolvers``, set by the composition root): the cookie's
    user, CSRF-checked.

    The pages' scripts call the REST API with the cookie. A cross-site form or script
    can make the browser send that cookie too (SameSite=Lax still allows top-level
    POST navigations in some browsers' grace periods), but it cannot read the CSRF
    secret, so unsafe methods must echo it in the ``X-CSRF-Token`` header.
    """
    if COOKIE_NAME not in request.cookies:
        return None
    user = user_for(request, db)
    if user is None:
        return None
    if request.method.upper() not in SAFE_METHODS and not csrf_matches(
        load(request), request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(f"the {CSRF_HEADER} header is missing or does not match the session")
    request.state.session_token = load(request).token  # the session a password change keeps
    return user
