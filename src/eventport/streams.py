"""Small helpers for byte streams that pass through Eventport without being staged."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


#: Chunks at least this large are hashed on a pool thread while the caller goes on.
BACKGROUND_HASH_MIN = 256 * 1024
_hash_pool: tuple[int, ThreadPoolExecutor] | None = None
_hash_pool_lock = threading.Lock()


def _hashers() -> ThreadPoolExecutor:
    """The process's hashing threads, as many as Python's default pool (cores + 4, at
    most 32: a web process hashing many uploads at once must not queue them on a few);
    made anew in a forked child (a pool's threads do not survive a fork, and a Celery
    prefork worker forks after import)."""
    global _hash_pool
    with _hash_pool_lock:
        if _hash_pool is None or _hash_pool[0] != os.getpid():
            _hash_pool = (os.getpid(), ThreadPoolExecutor(thread_name_prefix="sha256"))
        return _hash_pool[1]


def _immutable(chunk: bytes | bytearray | memoryview) -> bool:
    """Bytes nobody can change once ``update`` returns (a caller may reuse a buffer)."""
    return isinstance(chunk, bytes) or (isinstance(chunk, memoryview)
                                        and isinstance(chunk.obj, bytes))


class Sha256:
    """SHA-256 whose large chunks are hashed on a pool thread while the caller goes on
    (sends the chunk, reads the next, computes a CRC): ``hashlib`` releases the GIL, so
    on two cores the hash stops adding its ~0.5 s per 800 MB to whatever runs beside
    it. One chunk at most is in flight, so chunks are hashed in order and memory stays
    at one chunk; a chunk in a mutable buffer is hashed at once."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._pending: Future[None] | None = None

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._wait()
        if len(chunk) >= BACKGROUND_HASH_MIN and _immutable(chunk):
            self._pending = _hashers().submit(self._sha.update, chunk)
        else:
            self._sha.update(chunk)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def hexdigest(self) -> str:
        self._wait()
        return self._sha.hexdigest()

