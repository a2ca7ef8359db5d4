"""HMAC download tokens for backends without a signing service (local disk, memory).

Cloud stores sign their own URLs; a local disk cannot, so Eventport's web server serves
those downloads itself and this module mints and checks the tokens. Which URL carries a
token is not this module's business: the backend is given a :data:`DownloadUrl` builder
(:func:`eventport.storage.open_storage`). A token binds the key, the expiry and the
download filename under an HMAC-SHA256 of ``EVENTPORT_SECRET_KEY`` — changing any of
them, or using it after expiry, is refused. The secret is domain-separated so a token
for downloads can never be replayed as, say, a session cookie signed with the same key.

Token format: ``base64url(JSON payload) "." base64url(HMAC)`` — URL-safe, no padding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from eventport.storage.base import StorageError, validate_key

#: Builds the absolute URL that serves the object a token names.
DownloadUrl = Callable[[str], str]
_PURPOSE = b"eventport.storage.download-url.v1"


class InvalidToken(StorageError):
    """The token is malformed or its signature does not match (tampered or wrong key)."""


class ExpiredToken(InvalidToken):
    """The signature is good but the expiry has passed."""


@dataclass(frozen=True)
class DownloadGrant:
    key: str
    expires_at: int
    filename: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derived_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()


def _secret(secret_key: str | None) -> str:
    if secret_key is not None:
        return secret_key
    from eventport.config import get_settings

    return get_settings().secret_key


def make_token(
    key: str,
    *,
    expires_in: int,
    filename: str,
    secret_key: str | None = None,
    now: float | None = None,
) -> str:
    """Sign ``key`` for ``expires_in`` seconds, to be served as ``filename``."""
    validate_key(key)
    if expires_in <= 0:
        raise ValueError(f"expires_in must be positive, got {expires_in}")
    expires_at = int((time.time() if now is None else now) + expires_in)
    payload = json.dumps(
        {"k": key, "e": expires_at, "f": filename}, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    body = _b64(payload)
    sig = hmac.new(_derived_key(_secret(secret_key)), body.encode("ascii"), hashlib.sha256)
    return f"{body}.{_b64(sig.digest())}"


def verify_token(
    token: str, *, secret_key: str | None = None, now: float | None = None
) -> DownloadGrant:
    """Return the grant a token carries, or raise :class:`InvalidToken` / :class:`ExpiredToken`.

    The signature is compared in constant time before the payload is even parsed, so a
    forged payload is never interpreted.
    """
    body, sep, sig_text = token.partition(".")
    if not sep or not body or not sig_text:
        raise InvalidToken("download token is malformed")
    try:
        sig = _unb64(sig_text)
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("download token signature is malformed") from exc
    expected = hmac.new(
        _derived_key(_secret(secret_key)), body.encode("ascii", "replace"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(sig, expected):
        raise InvalidToken("download token signature does not match")
    try:
        payload = json.loads(_unb64(body))
        grant = DownloadGrant(
            key=str(payload["k"]), expires_at=int(payload["e"]), filename=str(payload["f"])
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidToken("download token payload is malformed") from exc
    if (time.time() if now is None else now) >= grant.expires_at:
        raise ExpiredToken("download link has expired; request a new one")
    validate_key(grant.key)
    return grant


def signed_download_url(
    key: str, *, expires_in: int, filename: str, download_url: DownloadUrl | None
) -> str:
    """A token for ``key`` inside the URL ``download_url`` builds for it."""
    if download_url is None:
        raise StorageError(
            "this store was opened without a download URL builder; open it with "
            "eventport.storage.open_storage() to sign links"
        )
    return download_url(make_token(key, expires_in=expires_in, filename=filename))
