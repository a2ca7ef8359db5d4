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

from eventport.events.media import sniff
from eventport.events.resources import ACCEPTED_TYPES
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData, MediaRef
from eventport.imports.importer import Staged
from eventport.imports.safezip import SafeZip
from eventport.storage import Storage, deferred_sync

PUBLISH_THREADS = 4
#: Threads staging a local upload's media (reading the zip, hashing, writing).
STAGE_THREADS = 3
#: Files a staging thread writes before fsyncing them together.
SYNC_BATCH = 32
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


class _Bytes:
    """Bytes staged so far, added to by the staging threads, read by the progress loop."""

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


def _stage_batch(job_id: str, storage: Storage, zf: SafeZip,
                 batch: list[tuple[int, MediaRef]], dry_run: bool,
                 on_bytes: Callable[[int], None]) -> list[Staged]:
    """A batch of files, made durable together at its end (fsyncs issued at once)."""
    with deferred_sync(storage):
        return [_stage_one(job_id, storage, zf, number, ref, dry_run, on_bytes)
                for number, ref in batch]


def _stage_parallel(run: Callable[[list[tuple[int, MediaRef]]], list[Staged]],
                    batches: list[list[tuple[int, MediaRef]]], report: Callable[[], None]
                    ) -> list[Staged]:
    """Batches on :data:`STAGE_THREADS` threads; progress reported from this thread."""
    out: list[Staged] = []
    with ThreadPoolExecutor(max_workers=STAGE_THREADS) as pool:
        pending = {pool.submit(run, batch) for batch in batches}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    out += future.result()  # the first failure stops the import
                report()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return out


def stage_media(job_id: str, progress: Progress, storage: Storage, zf: SafeZip,
                data: EventData, dry_run: bool, skip: set[str] | frozenset[str] = frozenset()
                ) -> dict[str, Staged]:
    """Copy every media file out of the zip (but those in ``skip``), checking as it goes.

    A local upload is read by :data:`STAGE_THREADS` threads at once (reading, hashing
    and writing overlap; each thread's batch of :data:`SYNC_BATCH` files is fsynced
    together, all before this returns, so before the rows naming them are committed)."""
    refs = data.media()
    todo = [(number, ref) for number, ref in enumerate(refs, start=1) if ref.path not in skip]
    total = sum(zf.info(ref.path).file_size for _, ref in todo)
    counter = _Bytes()
    progress("media", 0, total, force=True)
    parallel = zf.on_os_file() and len(todo) > 1

    def on_bytes(count: int) -> None:
        counter.add(count)
        if not parallel:
            progress("media", counter.done, total)

    batches = [todo[i:i + SYNC_BATCH] for i in range(0, len(todo), SYNC_BATCH)]

    def run(batch: list[tuple[int, MediaRef]]) -> list[Staged]:
        return _stage_batch(job_id, storage, zf, batch, dry_run, on_bytes)

    if parallel:
        written = _stage_parallel(run, batches,
                                  lambda: progress("media", counter.done, total))
    else:
        written = [staged for batch in batches for staged in run(batch)]
    by_path = {staged.ref.path: staged for staged in written}
    # unchanged in an update: the declared hash is the one the event holds
    return {ref.path: by_path.get(ref.path) or Staged(ref, None, "", ref.size or 0,
                                                      str(ref.sha256)) for ref in refs}


def publish(progress: Progress, storage: Storage, moves: list[tuple[str, str]]) -> None:
    """Move staged media to their final keys (idempotent: a retry skips what moved).

    Each thread moves a batch of :data:`SYNC_BATCH` files and makes the batch durable
    at its end (on local disk: the directories fsynced once per batch instead of once
    per file — 1,740 directory fsyncs cost ~1 s); all batches end before this returns,
    so before the job says it succeeded."""
    progress("publishing", 0, len(moves), force=True)

    def move_batch(batch: list[tuple[str, str]]) -> int:
        with deferred_sync(storage):
            for source, target in batch:
                if not storage.exists(target):
                    storage.move(source, target)
        return len(batch)

    batches = [moves[i:i + SYNC_BATCH] for i in range(0, len(moves), SYNC_BATCH)]
    done = 0
    # Server-side copies are latency-bound: a few in flight hide the round trips.
    with ThreadPoolExecutor(max_workers=PUBLISH_THREADS) as pool:
        for count in pool.map(move_batch, batches):
            done += count
            progress("publishing", done, len(moves))


__all__ = ["publish", "stage_media", "staging_prefix"]
