"""The running SHA-256 of a put: large chunks are hashed on a pool thread while the
next is sent, so the order of chunks and buffers a caller reuses must not change it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from eventport.storage.local import LocalStorage
from eventport.streams import BACKGROUND_HASH_MIN


def test_the_put_hash_is_the_stored_bytes_hash_whatever_the_chunks(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    reused = bytearray(os.urandom(BACKGROUND_HASH_MIN * 2))
    sent: list[bytes] = []
    with storage.writer("k") as out:
        for size in (5, BACKGROUND_HASH_MIN, 3 * BACKGROUND_HASH_MIN, 1, BACKGROUND_HASH_MIN + 7):
            chunk = os.urandom(size)
            out.write(chunk)
            sent.append(chunk)
        for _ in range(3):  # a caller refilling one buffer between writes
            out.write(reused)
            sent.append(bytes(reused))
            reused[:] = os.urandom(len(reused))
    stored = b"".join(storage.open("k"))
    assert stored == b"".join(sent)
    assert out.result is not None
    assert out.result.sha256 == hashlib.sha256(stored).hexdigest()
    assert out.result.size == len(stored)
