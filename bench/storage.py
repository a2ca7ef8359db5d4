"""Storage benchmark: 500 MB streamed put and get per backend, throughput and peak RSS.

    .venv/bin/python bench/storage.py                 # all backends, 500 MB
    .venv/bin/python bench/storage.py --size-mb 200 --backends s3,azure

Each measurement runs in a fresh child process and reports that process's own peak RSS
(``ru_maxrss``), so the figure is what one put or one get costs, not what the parent or
the servers hold. Servers are the same local emulators the tests use (moto, fake-gcs-
server, Azurite, on 127.0.0.1): throughput is an upper bound set by loopback and the
emulator, not a prediction for a real cloud; the RSS bound is the point — it must stay
under 150 MB for a 500 MB put. ``memory`` keeps every object in RAM by design (tests
only), so its put and get run in one child and its RSS includes the object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024
RSS_LIMIT_MB = 150


def generated(total_mib: int) -> Iterator[bytes]:
    """Incompressible, deterministic per run, never held whole: 1 MiB stamped with a counter."""
    block = bytearray(os.urandom(MiB))
    for i in range(total_mib):
        block[:8] = i.to_bytes(8, "big")
        yield bytes(block)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(mode: str, url: str, size_mb: int) -> None:
    """Run one measurement in this (fresh) process and print a JSON line."""
    from eventport.storage import open_storage

    storage = open_storage(url)
    baseline = peak_rss_mb()
    out: dict[str, float | int | str] = {"baseline_rss_mb": round(baseline, 1)}
    if mode in ("put", "both"):
        started = time.perf_counter()
        result = storage.put_stream("bench/object.bin", generated(size_mb))
        elapsed = time.perf_counter() - started
        out.update(
            put_s=round(elapsed, 2),
            put_mb_s=round(result.size / MiB / elapsed, 1),
            put_rss_mb=round(peak_rss_mb(), 1),
            sha256=result.sha256,
        )
    if mode in ("get", "both"):
        started = time.perf_counter()
        sha = hashlib.sha256()
        size = 0
        for chunk in storage.open("bench/object.bin"):
            sha.update(chunk)
            size += len(chunk)
        elapsed = time.perf_counter() - started
        out.update(
            get_s=round(elapsed, 2),
            get_mb_s=round(size / MiB / elapsed, 1),
            get_rss_mb=round(peak_rss_mb(), 1),
            get_sha256=sha.hexdigest(),
            get_size=size,
        )
        storage.delete("bench/object.bin")
    print(json.dumps(out), flush=True)


def run_child(mode: str, url: str, size_mb: int, env: dict[str, str]) -> dict[str, float | str]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, url, "--size-mb", str(size_mb)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} on {url} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float | str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--backends", default="local,s3,gcs,azure,memory")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.size_mb)
        return 0

    sys.path.insert(0, str(REPO))
    from tests.storage import servers

    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
        EVENTPORT_SECRET_KEY="bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
    )
    failures = 0
    print(f"storage bench: {args.size_mb} MiB streamed put + get per backend, one child each")
    print(f"{'backend':8} {'put MB/s':>9} {'put RSS':>9} {'get MB/s':>9} {'get RSS':>9}  ok")
    with tempfile.TemporaryDirectory(prefix="eventport-bench-") as tmp:
        work = Path(tmp)
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            server: servers.Server | None = None
            (work / name).mkdir()
            if name == "local":
                url = f"file://{work / name / 'root'}"
            elif name == "memory":
                url = "memory://bench"
            elif name == "s3":
                server = servers.start_moto(work / name)
                url = f"s3://{servers.BUCKET}?endpoint_url={server.endpoint}"
            elif name == "gcs":
                server = servers.start_fake_gcs(work / name)
                url = f"gs://{servers.BUCKET}?endpoint_url={server.endpoint}"
            elif name == "azure":
                server = servers.start_azurite(work / name)
                url = f"az://{servers.BUCKET}?endpoint_url={server.endpoint}"
            else:
                raise SystemExit(f"unknown backend {name!r}")
            try:
                if name == "memory":
                    put = get = run_child("both", url, args.size_mb, env)
                else:
                    put = run_child("put", url, args.size_mb, env)
                    get = run_child("get", url, args.size_mb, env)
            finally:
                if server is not None:
                    server.stop()
            intact = put["sha256"] == get["get_sha256"]
            bounded = name == "memory" or float(put["put_rss_mb"]) < RSS_LIMIT_MB
            ok = intact and bounded
            failures += not ok
            note = "" if name != "memory" else "  (memory backend holds the object in RAM)"
            print(
                f"{name:8} {put['put_mb_s']:>9} {put['put_rss_mb']:>7}MB "
                f"{get['get_mb_s']:>9} {get['get_rss_mb']:>7}MB  "
                f"{'✓' if ok else '✗'}{note}",
                flush=True,
            )
    print(f"peak RSS target for the put: < {RSS_LIMIT_MB} MB (child process ru_maxrss)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
