"""Local-storage staging benchmark: many small puts, synced one by one vs in one batch.

    .venv/bin/python bench/fsync.py [--objects 1740] [--kb 100] [--repeat 3]

An import stages every media file of the upload (bench/export.py's event has 1,740)
before it commits the rows naming them. Each put on local disk used to cost four fsyncs
(object, sidecar, two directories); inside ``storage.deferred_sync`` they are issued
once per file and directory at the block's end, in parallel. Rounds alternate
(one-by-one, batched, one-by-one, …); prints each round, medians and fsync counts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time

from eventport.storage import deferred_sync
from eventport.storage import local as local_module
from eventport.storage.local import LocalStorage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--objects", type=int, default=1740)
    parser.add_argument("--kb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    blob = os.urandom(args.kb * 1024)
    fsyncs = 0
    real_fsync = os.fsync

    def counted(fd: int) -> None:
        nonlocal fsyncs
        fsyncs += 1
        real_fsync(fd)

    local_module.os.fsync = counted  # type: ignore[attr-defined]
    results: dict[str, list[float]] = {"one by one": [], "deferred_sync": []}
    for _ in range(args.repeat):
        for mode in results:
            root = tempfile.mkdtemp(prefix="eventport-bench-fsync-", dir=args.dir)
            storage = LocalStorage(root)
            fsyncs = 0
            start = time.perf_counter()
            with deferred_sync(storage) if mode == "deferred_sync" else contextlib.nullcontext():
                for n in range(args.objects):
                    storage.put_stream(f"imports/job/media/{n:06d}", [blob])
            results[mode].append(time.perf_counter() - start)
            print(f"{mode:<15}{results[mode][-1]:>8.2f} s{fsyncs:>8} fsyncs", flush=True)
            shutil.rmtree(root)
    for mode, walls in results.items():
        print(f"{mode:<15} median {statistics.median(walls):.2f} s "
              f"(min {min(walls):.2f}, max {max(walls):.2f})")


if __name__ == "__main__":
    main()
