"""The one storage interface every backend implements.

Everything that touches bytes at rest — program media, export archives, import uploads —
goes through :class:`Storage`, so an operator on S3 keeps everything on S3 and code above
this layer never knows which backend runs. The verbs are few on purpose (Warehouse's
lesson): put a stream, open a (ranged) stream, stat, delete, delete/list a prefix, sign.

Contract every backend keeps:

* ``put_stream`` / ``writer`` consume bytes as they are produced (multipart/resumable on
  cloud backends, temp file + atomic rename on disk); memory stays bounded by a few parts
  whatever the object size. If the producer raises, or the writer is left by an
  exception, the upload is aborted: no object, no partial object, no open multipart
  upload under the final key.
* Keys are ``/``-separated relative paths; :func:`validate_key` refuses anything else.
* ``open(key, start, end)`` yields the bytes ``[start, end)``; ``end=None`` means to the end.
* ``signed_url`` gives a URL a plain HTTP client can GET until it expires, served with
  ``Content-Disposition: attachment; filename=…`` when a filename was given at upload time
  or to ``signed_url``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import quote

MAX_KEY_LENGTH = 900
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024


class StorageError(Exception):
    """Base of all storage failures; the message names the backend, bucket/key and a hint."""


class ObjectNotFound(StorageError):
    pass


class InvalidKey(StorageError, ValueError):
    pass


class PermanentStorageError(StorageError):
    """Retrying will not help (403, missing bucket, bad credentials): fix the configuration."""


class TransientStorageError(StorageError):
    """Connection reset, 5xx, throttling — retried with backoff before it surfaces."""


@dataclass(frozen=True)
class PutResult:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: dt.datetime | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class StorageWriter(Protocol):
    """A writable binary file bound for one key (zipfile can write straight into it)."""

    def write(self, data: bytes, /) -> int: ...

    def tell(self) -> int: ...

    def flush(self) -> None: ...

    @property
    def result(self) -> PutResult | None:
        """Set once the writer has been closed successfully."""
        ...


@runtime_checkable
class Storage(Protocol):
    #: The URL this storage was built from, with any secret removed (for messages).
    url: str

    def put_stream(
        self,
        key: str,
        data: Iterable[bytes] | BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> PutResult: ...

    def writer(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> AbstractContextManager[StorageWriter]:
        """Commit on a clean exit, abort (leaving nothing) when the block raises."""
        ...

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...

    def stat(self, key: str) -> ObjectInfo: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove one object; a missing object is not an error."""
        ...

    def move(self, source: str, target: str) -> None:
        """Rename an object, server-side where the backend can, keeping its content type,
        metadata and filename; the target appears whole or not at all. Used to make
        staged objects live (imports) without streaming their bytes through Eventport."""
        ...

    def delete_prefix(self, prefix: str) -> int: ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str: ...

    def check(self) -> None:
        """Cheap reachability probe for /health; raises StorageError with a hint."""
        ...


_METADATA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def validate_metadata(metadata: Mapping[str, str] | None) -> None:
    """Metadata names every backend accepts: Azure wants C# identifiers, S3 lower case.

    Checked on every backend, the local one included, so a name that only Azure would
    refuse fails in the first test rather than in an operator's first export.
    """
    for name, value in (metadata or {}).items():
        if not _METADATA_NAME.match(name):
            raise InvalidKey(f"metadata name {name!r} must match [a-z][a-z0-9_]* "
                             "(Azure and S3 both accept only such names)")
        if not isinstance(value, str) or not value.isascii() or len(value) > 1024:
            raise InvalidKey(f"metadata {name!r} must be an ASCII string of ≤ 1024 characters")


_KEY_SEGMENT = re.compile(r"^[^\x00-\x1f\x7f\\]+$")


def validate_key(key: str, *, allow_prefix: bool = False) -> str:
    """Refuse keys that could escape a root or confuse a backend.

    Absolute paths, ``..``/``.`` segments, empty segments, backslashes, control
    characters (NUL included) and over-long keys are refused; a prefix may end with
    ``/`` (and may be empty) when ``allow_prefix`` is set.
    """
    if not isinstance(key, str):
        raise InvalidKey("storage key must be a string")
    if allow_prefix and key == "":
        return key
    if not key or len(key.encode("utf-8")) > MAX_KEY_LENGTH:
        raise InvalidKey(f"storage key must be 1..{MAX_KEY_LENGTH} bytes long")
    body = key[:-1] if allow_prefix and key.endswith("/") else key
    if body.startswith("/") or re.match(r"^[A-Za-z]:", body):
        raise InvalidKey(f"storage key {key!r} must be relative")
    for segment in body.split("/"):
        if segment in ("", ".", "..") or not _KEY_SEGMENT.match(segment):
            raise InvalidKey(f"storage key {key!r} has an invalid segment {segment!r}")
    return key


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and an RFC 6266/5987 UTF-8 ``filename*``.

    Browsers pick ``filename*`` when present; old clients fall back to the quoted name,
    from which quotes, backslashes and control characters are removed so the header
    cannot be broken out of.
    """
    fallback = (
        "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename).strip()
        or "download"
    )
    encoded = quote(filename, safe="")
    if encoded == fallback:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
