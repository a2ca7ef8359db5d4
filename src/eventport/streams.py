"""Small helpers for byte streams that pass through Eventport without being staged."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

from eventport.errors import PayloadTooLarge

CHUNK = 1024 * 1024


def chunks_of(source: Iterable[bytes] | BinaryIO, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """Iterate a file object or an iterable of bytes as chunks."""
    if hasattr(source, "read"):
        reader: BinaryIO = source  # type: ignore[assignment]
        while chunk := reader.read(chunk_size):
            yield chunk
    else:
        yield from source  # type: ignore[misc]


def read_head(chunks: Iterator[bytes], size: int) -> bytes:
    """At least ``size`` bytes from the front of ``chunks`` (fewer only at the end)."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= size:
            break
    return head


def limited(head: bytes, rest: Iterator[bytes], limit: int, what: str = "file"
            ) -> Iterator[bytes]:
    """``head`` then ``rest``, raising PayloadTooLarge as soon as ``limit`` is passed.

    Raised inside the stream, so the storage write consuming it aborts and leaves nothing.
    """
    total = len(head)
    message = f"the {what} is larger than the limit of {limit} bytes"
    if total > limit:
        raise PayloadTooLarge(message)
    yield head
    for chunk in rest:
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(message)
        yield chunk
