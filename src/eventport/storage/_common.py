"""Small pieces every backend shares: chunking input, hashing, Content-Disposition.

Kept apart from :mod:`eventport.storage.base` (the public interface) so backends can
change these helpers without touching the contract other packages import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast
from urllib.parse import quote

from eventport.storage.base import DEFAULT_CHUNK_SIZE, PutResult

#: Read size for file-like inputs and local files. 1 MiB keeps syscalls few while the
#: memory a put holds stays far below one upload part.
READ_SIZE = 1024 * 1024


def iter_input(data: Iterable[bytes] | BinaryIO, read_size: int = READ_SIZE) -> Iterator[bytes]:
    """Turn an iterable of bytes or a readable binary file into non-empty byte chunks.

    ``put_stream`` accepts both because callers have both (an upload's SpooledTemporaryFile,
    a generator from the zip writer); normalising here keeps each backend to one loop.
    """
    read = getattr(data, "read", None)
    if callable(read):
        while True:
            chunk = read(read_size)
            if not chunk:
                return
            yield bytes(chunk) if not isinstance(chunk, bytes) else chunk
    else:
        for chunk in cast(Iterable[bytes], data):
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(
                    f"put_stream expects bytes chunks, got {type(chunk).__name__}; "
                    "encode text before storing it"
                )
            if chunk:
                yield bytes(chunk) if not isinstance(chunk, bytes) else chunk


def rechunk(chunks: Iterable[bytes], size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """Regroup arbitrary chunks into pieces of exactly ``size`` bytes (the last may be short).

    Multipart uploads need parts of a minimum size (5 MiB on S3), while producers such as
    zipfile write in tiny pieces; this buffers at most one part.
    """
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


class Digest:
    """Running size + SHA-256 of what passed through, so a put never re-reads its object."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._sha.update(chunk)
        self.size += len(chunk)

    def result(self, key: str) -> PutResult:
        return PutResult(key=key, size=self.size, sha256=self._sha.hexdigest())


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


def default_filename(key: str) -> str:
    """The last key segment: what a browser would call the file without other advice."""
    return key.rsplit("/", 1)[-1]


def join_key(prefix: str, key: str) -> str:
    """Join a backend's configured prefix (``s3://bucket/prefix``) and a key."""
    return f"{prefix}/{key}" if prefix else key


def strip_prefix(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path.startswith(prefix + "/"):
        raise ValueError(f"object path {path!r} is outside the prefix {prefix!r}")
    return path[len(prefix) + 1 :]


def clamp_range(start: int, end: int | None, size: int | None = None) -> tuple[int, int | None]:
    """Validate a ``[start, end)`` request and clip it to ``size`` when known."""
    if start < 0:
        raise ValueError(f"range start must be >= 0, got {start}")
    if end is not None and end < start:
        raise ValueError(f"range end {end} is before start {start}")
    if size is not None:
        start = min(start, size)
        end = size if end is None else min(end, size)
    return start, end
