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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from eventport.events.media import sniff
from eventport.events.resources import ACCEPTED_TYPES
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData, MediaRef
from eventport.imports.importer import Staged
from eventport.imports.safezip import SafeZip
from eventport.storage import Storage

PUBLISH_THREADS = 4
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
    """The bytes of one zip entry, hashed and counted as they pass; the content type is
    known (and checked) before the first chunk leaves."""

    def __init__(self, zf: SafeZip, ref: MediaRef, on_bytes: Callable[[int], None]) -> None:
        self.zf, self.ref, self.on_bytes = zf, ref, on_bytes
        self.digest = hashlib.sha256()
        self.size = 0
        self.type: str | None = None

    def chunks(self) -> Iterator[bytes]:
        pending = b""  # held back until the first bytes tell the content type
        for chunk in self.zf.iter_bytes(self.ref.path):
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


def stage_media(job_id: str, progress: Progress, storage: Storage, zf: SafeZip,
                data: EventData, dry_run: bool, skip: set[str] | frozenset[str] = frozenset()
                ) -> dict[str, Staged]:
    """Copy every media file out of the zip (but those in ``skip``), checking as it goes."""
    refs = data.media()
    total = sum(zf.info(ref.path).file_size for ref in refs if ref.path not in skip)
    done = 0
    staged: dict[str, Staged] = {}
    progress("media", 0, total, force=True)

    def count(size: int) -> None:
        nonlocal done
        done += size
        progress("media", done, total)

    for number, ref in enumerate(refs, start=1):
        if ref.path in skip:  # unchanged: the declared hash is the one the event holds
            staged[ref.path] = Staged(ref, None, "", ref.size or 0, str(ref.sha256))
            continue
        checked = _Checked(zf, ref, count)
        key = f"{staging_prefix(job_id)}media/{number:06d}"
        chunks = checked.chunks()
        first = next(chunks, b"")  # the generator yields only once the type is known
        if dry_run:
            for _ in chunks:
                pass
        else:
            storage.put_stream(key, itertools.chain([first], chunks),
                               content_type=checked.type or "application/octet-stream",
                               metadata={"import_job": job_id})
        sha = checked.digest.hexdigest()
        if (ref.size is not None and checked.size != ref.size) or (
                ref.sha256 and sha != ref.sha256):
            raise ImportRefused(f"{ref.path} does not match manifest.json (size or SHA-256 "
                                "differs); the archive was altered or damaged")
        staged[ref.path] = Staged(ref, key, str(checked.type), checked.size, sha)
    return staged


def publish(progress: Progress, storage: Storage, moves: list[tuple[str, str]]) -> None:
    """Move staged media to their final keys (idempotent: a retry skips what moved)."""
    progress("publishing", 0, len(moves), force=True)

    def copy(pair: tuple[str, str]) -> None:
        source, target = pair
        if not storage.exists(target):
            storage.move(source, target)

    # Server-side copies are latency-bound: a few in flight hide the round trips.
    with ThreadPoolExecutor(max_workers=PUBLISH_THREADS) as pool:
        for done, _ in enumerate(pool.map(copy, moves), start=1):
            progress("publishing", done, len(moves))


__all__ = ["publish", "stage_media", "staging_prefix"]
