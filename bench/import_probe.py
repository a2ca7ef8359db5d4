"""Benchmark: what the request-time 409 check of a ``mode=create`` import reads.

    .venv/bin/python bench/import_probe.py                 # 2,000 speakers, 200 MB of photos
    .venv/bin/python bench/import_probe.py --archive FILE.zip

Stores the archive in a scratch local storage and reads it back the way a request does
(``open_stored``: ranged reads of the stored object), counting the bytes and ranged
opens storage served: first the probe (:func:`probe_upload`: zip directory,
manifest.json, event.json), then the worker's full read of every document
(:func:`read_upload`, media still unread) for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from eventport.imports.readers import probe_upload, read_upload
from eventport.imports.service import PROBE_WINDOW
from eventport.imports.source import open_stored
from eventport.storage.local import LocalStorage


class Counting(LocalStorage):
    """Local storage that counts what it serves."""

    served = 0
    opens = 0

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self.opens += 1
        for chunk in super().open(key, start=start, end=end):
            self.served += len(chunk)
            yield chunk


def synthetic(speakers: int, photo_bytes: int) -> bytes:
    """A version 1 archive: one event, ``speakers`` speakers with a photo each."""
    docs: dict[str, object] = {
        "event": {"id": 1, "identifier": "probe-bench", "name": "Probe bench",
                  "starts_at": "2026-01-10T09:00:00+01:00", "ends_at": "2026-01-11T18:00:00+01:00",
                  "timezone": "Europe/Berlin", "logo": None, "background": None},
        "speakers": [{"id": i, "name": f"Speaker {i}", "photo": f"media/images/speakers/{i}.jpg"}
                     for i in range(1, speakers + 1)],
        **{name: [] for name in ("sessions", "tracks", "session_types", "microlocations",
                                 "sponsors", "social_links", "forms")},
    }
    files = [(f"{name}.json", json.dumps(doc).encode()) for name, doc in docs.items()]
    files += [(f"media/images/speakers/{i}.jpg", os.urandom(photo_bytes))
              for i in range(1, speakers + 1)]
    manifest = {"format": "eventport-archive", "version": 1, "files": [
        {"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files]}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, data in files:
            zf.writestr(name, data)
        zf.writestr("manifest.json", json.dumps(manifest))
    return out.getvalue()


def measure(storage: Counting, key: str, label: str, read: object,
            window: int | None = None) -> None:
    storage.served = storage.opens = 0
    started = time.perf_counter()
    with open_stored(storage, key, window or 256 * 1024, window) as source:
        result = read(source)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    print(f"{label:<34} {elapsed * 1000:8.1f} ms  {storage.served / 1024:10.1f} KiB read  "
          f"{storage.opens:4d} ranged opens  -> {str(result)[:40]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archive", type=Path)
    parser.add_argument("--speakers", type=int, default=2000)
    parser.add_argument("--photo-kb", type=int, default=100)
    args = parser.parse_args()
    data = (args.archive.read_bytes() if args.archive
            else synthetic(args.speakers, args.photo_kb * 1024))
    with tempfile.TemporaryDirectory() as workdir:
        storage = Counting(Path(workdir))
        storage.put_stream("imports/bench/upload", iter([data]))
        print(f"archive: {len(data) / 1024 / 1024:.1f} MiB")
        measure(storage, "imports/bench/upload", "probe (request-time 409 check)",
                lambda f: probe_upload(f, None), PROBE_WINDOW)
        measure(storage, "imports/bench/upload", "probe, unbounded ranges",
                lambda f: probe_upload(f, None))
        measure(storage, "imports/bench/upload", "read every document (worker)",
                lambda f: (lambda d: (d[1] and d[1].close()) or d[0].event.uuid)(
                    read_upload(f, None)))


if __name__ == "__main__":
    main()
