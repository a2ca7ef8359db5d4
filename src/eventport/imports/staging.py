"""Media on their way in: staged out of the upload, published after the commit.

:func:`stage_media` streams each media file of the upload to ``imports/<job>/media/…``,
checking its size and SHA-256 (against the manifest, when the format has one) and its
content type (sniffed from the bytes; it must suit the slot). A dry run does the same
checks and discards the bytes. Files an update leaves unchanged are not read at all.

:func:`publish` moves staged files to their final keys once the rows are committed: a
rename on local disk, a server-side copy on object stores — no media byte passes
through the worker a second time — and idempotent, so a retry skips what moved.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TypeVar

from eventport.events.media import sniff
from eventport.events.resources import ACCEPTED_TYPES
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData, MediaRef
from eventport.imports.importer import Staged
from eventport.imports.safezip import SafeZip
from eventport.storage import Storage, deferred_sync, round_trips

PUBLISH_THREADS = 4
#: Threads staging a local upload's media (reading the zip, hashing, writing).
STAGE_THREADS = 3
SNIFF_BYTES = 8192

Progress = Callable[..., None]  # (stage, done, total, force=False)


def staging_prefix(job_id: str) -> str:
    return f"imports/{job_id}/"


def _check_type(ref: MediaRef, head: bytes) -> str:
    content_type = sniff(head) if head else None
    accepted = ACCEPTED_TYPES[ref.kind]
    if content_type not in accepted:
        raise ImportRefused(
            f"{ref.where}: {ref.path} holds {content_type or 'data of an unknown type'}, "
            f"not an accepted {ref.kind.value} ({', '.join(accepted)})")
    return content_type  # type: ignore[return-value]


class _Checked:
    """The bytes of one zip entry, counted (and hashed, when nothing else will) as they
    pass; the content type is known (and checked) before the first chunk leaves."""

    def __init__(self, zf: SafeZip, ref: MediaRef, on_bytes: Callable[[int], None],
                 hash_bytes: bool) -> None:
        self.zf, self.ref, self.on_bytes = zf, ref, on_bytes
        self.digest = hashlib.sha256() if hash_bytes else None
        self.size = 0
        self.type: str | None = None

    def chunks(self) -> Iterator[bytes]:
        pending = b""  # held back until the first bytes tell the content type
        for chunk in self.zf.iter_bytes(self.ref.path):
            if self.digest is not None:
                self.digest.update(chunk)
            self.size += len(chunk)
            self.on_bytes(len(chunk))
            if self.type is None:
                pending += chunk
                if len(pending) < SNIFF_BYTES:
                    continue
                self.type = _check_type(self.ref, pending[:SNIFF_BYTES])
                chunk, pending = pending, b""
            yield chunk
        if self.type is None:
            self.type = _check_type(self.ref, pending)
            yield pending


class _Counter:
    """Bytes (or files) done so far: added to by worker threads, read by the progress loop."""

    def __init__(self) -> None:
        self.done = 0
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count


def _stage_one(job_id: str, storage: Storage, zf: SafeZip, number: int, ref: MediaRef,
               dry_run: bool, on_bytes: Callable[[int], None]) -> Staged:
    """One media file to ``imports/<job>/media/<number>``, size and SHA-256 checked.

    The store's writer hashes what it writes, so its result is the file's SHA-256: the
    bytes are hashed once (twice cost ~0.7 s per 800 MB); a dry run hashes them here."""
    checked = _Checked(zf, ref, on_bytes, hash_bytes=dry_run)
    key = f"{staging_prefix(job_id)}media/{number:06d}"
    chunks = checked.chunks()
    first = next(chunks, b"")  # the generator yields only once the type is known
    if checked.digest is not None:  # a dry run: nothing is written
        for _ in chunks:
            pass
        size, sha = checked.size, checked.digest.hexdigest()
    else:
        result = storage.put_stream(key, itertools.chain([first], chunks),
                                    content_type=checked.type or "application/octet-stream",
                                    metadata={"import_job": job_id})
        size, sha = result.size, result.sha256
    if (ref.size is not None and size != ref.size) or (ref.sha256 and sha != ref.sha256):
        raise ImportRefused(f"{ref.path} does not match manifest.json (size or SHA-256 "
                            "differs); the archive was altered or damaged")
    return Staged(ref, key, str(checked.type), size, sha)


T = TypeVar("T")


class _Stopped(Exception):
    """Raised in a staging thread once the import is stopping (its cause is raised)."""


def _in_parallel(work: Callable[[T], None], items: list[T], threads: int, storage: Storage,
                 report: Callable[[], None], stop: threading.Event | None = None) -> None:
    """``work`` on every item, the items shared out over ``threads`` threads, each
    share inside one deferred-sync block (on local disk: each directory fsynced once per
    thread, not once per file or batch — 110 directory fsyncs cost an import ~1 s);
    every block ends, durable, before this returns. Progress is reported from this
    thread. The first failure (a thread's, or this thread's: a cancel seen by
    ``report``) sets ``stop``, which ends every share at its next item (``work`` may
    watch it too, to stop within a large item), and is raised."""
    shares = [share for share in (items[i::threads] for i in range(threads)) if share]
    stop = stop or threading.Event()

    def run(share: list[T]) -> None:
        with deferred_sync(storage):
            for item in share:
                if stop.is_set():
                    return
                work(item)

    with ThreadPoolExecutor(max_workers=max(len(shares), 1)) as pool:
        pending = {pool.submit(run, share) for share in shares}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
                report()
        except BaseException:
            stop.set()
            raise


def stage_media(job_id: str, progress: Progress, storage: Storage, zf: SafeZip,
                data: EventData, dry_run: bool, skip: set[str] | frozenset[str] = frozenset()
                ) -> dict[str, Staged]:
    """Copy every media file out of the zip (but those in ``skip``), checking as it goes.

    A local upload is read by :data:`STAGE_THREADS` threads at once (reading, hashing
    and writing overlap); every staged file is durable before this returns, so before
    the rows naming them are committed."""
    refs = data.media()
    todo = [(number, ref) for number, ref in enumerate(refs, start=1) if ref.path not in skip]
    total = sum(zf.info(ref.path).file_size for _, ref in todo)
    counter = _Counter()
    progress("media", 0, total, force=True)
    parallel = zf.on_os_file() and len(todo) > 1

    written: list[Staged] = []
    stop = threading.Event()

    def on_bytes(count: int) -> None:
        if stop.is_set():  # cancelled or failed: a large video is not staged to its end
            raise _Stopped
        counter.add(count)

    def work(item: tuple[int, MediaRef]) -> None:
        number, ref = item
        written.append(_stage_one(job_id, storage, zf, number, ref, dry_run, on_bytes))

    _in_parallel(work, todo, STAGE_THREADS if parallel else 1, storage,
                 lambda: progress("media", counter.done, total), stop)
    by_path = {staged.ref.path: staged for staged in written}
    # unchanged in an update: the declared hash is the one the event holds
    return {ref.path: by_path.get(ref.path) or Staged(ref, None, "", ref.size or 0,
                                                      str(ref.sha256)) for ref in refs}


def publish(progress: Progress, storage: Storage, moves: list[tuple[str, str]]) -> None:
    """Move staged media to their final keys (idempotent: a retry skips what moved);
    durable before this returns, so before the job says it succeeded."""
    progress("publishing", 0, len(moves), force=True)
    moved = _Counter()

    def move(item: tuple[str, str]) -> None:
        source, target = item
        if not storage.exists(target):
            storage.move(source, target)
        moved.add(1)

    # Server-side copies are latency-bound: a few in flight hide the round trips.
    _in_parallel(move, moves, PUBLISH_THREADS if round_trips(storage) else 1, storage,
                 lambda: progress("publishing", moved.done, len(moves)))


__all__ = ["publish", "stage_media", "staging_prefix"]
