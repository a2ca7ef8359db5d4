"""Cost of encrypting archives (``recipients``): the same export with and without.

    .venv/bin/python bench/encryption.py [--media-mb 800] [--dir /path]

Generates the bench event of ``bench/export.py`` (~800 MB of incompressible media) and
exports it with a fresh ``eventport worker`` each time, alternating plain and encrypted to
one age X25519 recipient (pyrage, streamed through an ``os.pipe``), twice each.
The plain export's job time includes the full read-back check (every entry against the
manifest and the importer's reader); the encrypted one can only check the stored
object's size and SHA-256 and its age header (the server has no key). Prints wall time, the job's
own time (claim → done, including the read-back verification) and the worker's peak RSS;
then decrypts the stored ``.zip.age`` with pyrage to a file and checks its manifest.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export import generate, mbps, run_eventport, setup_env

WRITE_CHILD = r"""
import json, sys, time
from pathlib import Path
from eventport.db import get_engine
from eventport.exports.encryption import sealing
from eventport.exports.formats.archive import ArchiveExporter
from eventport.exports.registry import ExportContext
from eventport.exports.snapshot import read_snapshot
from eventport.storage import get_storage

class Null:
    size = 0
    def write(self, data):
        self.size += len(data)
        return len(data)

options = json.loads(sys.argv[2])
storage = get_storage()
snapshot = read_snapshot(get_engine(), int(sys.argv[1]))
sink = Null()
start = time.perf_counter()
with sealing(sink, options) as out:
    ArchiveExporter().write(snapshot, out, ExportContext(
        options=options, open_media=lambda key: storage.open(key)))
wall = time.perf_counter() - start
status = Path("/proc/self/status").read_text()
hwm = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:")) / 1024
print(json.dumps({"wall": wall, "size": sink.size, "rss": hwm}))
"""


def write_only(env: dict[str, str], event_id: int, options: dict) -> dict[str, float]:
    """The export's write phase alone (snapshot → zip → [age] → a sink that discards),
    in its own process: the cost of encryption without storage or verification."""
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-c", WRITE_CHILD, str(event_id),
                          json.dumps(options)], env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--media-mb", type=int, default=800)
    parser.add_argument("--dir", default=None, help="where to put the temp dir")
    args = parser.parse_args()

    import pyrage

    root = Path(tempfile.mkdtemp(prefix="eventport-bench-age-", dir=args.dir))
    env = setup_env(root)
    try:
        event_id, media_bytes = generate(args.media_mb, "Bench Conf")
        print(f"generated event {event_id}: {media_bytes / 1e6:.0f} MB media")
        os.sync()
        identity = pyrage.x25519.Identity.generate()
        media = {"media": ["image", "document", "video"]}
        sealed_options = {**media, "recipients": [str(identity.to_public())]}
        # Alternate, twice each, and keep the faster run: the first export of a fresh
        # event pays for a cold page cache, and the machine is shared.
        runs: dict[str, list[dict[str, float]]] = {"plain": [], "sealed": []}
        for _ in range(2):
            runs["plain"].append(run_eventport(root, env, event_id, media))
            runs["sealed"].append(run_eventport(root, env, event_id, sealed_options))
        for name, rows in runs.items():
            print(f"{name}: wall " + ", ".join(f"{r['wall']:.2f}s" for r in rows)
                  + "; peak RSS " + ", ".join(f"{r['rss']:.0f} MB" for r in rows))
        plain = min(runs["plain"], key=lambda r: r["wall"])
        sealed = min(runs["sealed"], key=lambda r: r["wall"])
        print(f"\n{'export':<14}{'wall s':>9}{'job s':>9}{'MB/s':>9}{'MB':>9}{'peak RSS MB':>13}")
        for name, r in (("plain", plain), ("recipients=1", sealed)):
            print(f"{name:<14}{r['wall']:>9.2f}{r['job']:>9.2f}"
                  f"{mbps(r['size'], r['wall']):>9.0f}{r['size'] / 1e6:>9.0f}{r['rss']:>13.0f}")
        print(f"encryption costs {sealed['wall'] / plain['wall']:.2f}x the plain wall time, "
              f"{sealed['size'] - plain['size']} bytes of age framing")
        for name, options in (("plain", media), ("sealed", sealed_options),
                              ("plain", media), ("sealed", sealed_options)):
            r = write_only(env, event_id, options)
            print(f"write phase only, {name}: {r['wall']:.2f}s, {r['size'] / 1e6:.0f} MB, "
                  f"peak RSS {r['rss']:.0f} MB")
        stored = sorted((root / "storage").rglob("*.zip.age"))[-1]
        start = time.perf_counter()
        with open(stored, "rb") as src, open(root / "plain.zip", "wb") as dst:
            pyrage.decrypt_io(src, dst, [identity])
        print(f"pyrage decrypt of {stored.stat().st_size / 1e6:.0f} MB: "
              f"{time.perf_counter() - start:.2f}s")
        from eventport.exports.verify import verify_path

        checked = verify_path(str(root / "plain.zip"))
        print(f"decrypted archive verifies: {checked.entries} entries, sha256 "
              f"{checked.sha256[:16]}…")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
