"""``open_stored`` with a window: bounded ranged reads give back exactly the object."""

from __future__ import annotations

import os
import random

from eventport.imports.source import open_stored
from eventport.storage import Storage


def test_windowed_reads_return_the_same_bytes(storage: Storage) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    storage.put_stream("imports/w/upload", iter([data]))
    with open_stored(storage, "imports/w/upload", 4096, 1000) as whole:
        assert whole.read() == data  # sequential: windows of 1000, 2000, 4000, … bytes
    rng = random.Random(7)
    with open_stored(storage, "imports/w/upload", 4096, 1000) as file:
        for _ in range(200):
            start = rng.randrange(len(data))
            size = rng.choice((1, 10, 999, 1000, 1001, 70_000))
            file.seek(start)
            assert file.read(size) == data[start:start + size]
        file.seek(len(data) - 5)
        assert file.read(100) == data[-5:] and file.read(1) == b""
