"""Bounded retries with exponential backoff and full jitter for replayable storage calls.

Cloud clients already retry single HTTP requests (obstore and google-cloud-storage both
do, and only they can retry one part of a multipart upload without replaying the whole
stream). This layer sits above them for whole operations that are safe to repeat —
stat, list, delete, the start of a download, a small single-request put — and covers
what the clients give up on or do not treat as retryable (throttling, a reset mid-way).

Only :class:`TransientStorageError` is retried; everything else (permanent
misconfiguration, not-found, the caller's own exceptions) surfaces at once, so a wrong
bucket name fails in milliseconds instead of after a minute of pointless retries.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from eventport.storage.base import StorageError, TransientStorageError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to wait; the defaults give up after ~3 s of waiting."""

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base·2^n)].

        Randomising the whole interval spreads out clients that failed together (a
        throttled bucket, a restarted endpoint) instead of having them retry in lockstep.
        """
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


DEFAULT_POLICY = RetryPolicy()


def call_with_retry(
    fn: Callable[[], T],
    translate: Callable[[BaseException], BaseException],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "storage call",
    budget: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``fn``; map its failure through ``translate``; retry only transient ones.

    ``translate`` turns a client exception into a :class:`StorageError` subclass (or
    returns the exception unchanged for errors that are not the storage's, which are
    re-raised as they are).

    No retry starts once ``budget`` seconds (default ``EVENTPORT_STORAGE_RETRY_SECONDS``)
    have passed since the first attempt: the clients below already retry each request for
    that long, and retrying their give-up again multiplied the operator's budget (measured
    on Azure: a 3 s budget failed an export after 25 s, only when the network came back).
    """
    if budget is None:
        from eventport.config import get_settings

        budget = get_settings().storage_retry_seconds
    attempt, started = 0, clock()
    while True:
        try:
            return fn()
        except StorageError:
            raise
        except Exception as raw:
            err = translate(raw)
            if (not isinstance(err, TransientStorageError) or attempt + 1 >= policy.attempts
                    or clock() - started >= budget):
                if err is raw:
                    raise
                raise err from raw
            pause = policy.delay(attempt)
            log.warning(
                "%s failed (%s); retrying in %.2fs (attempt %d of %d)",
                what,
                err,
                pause,
                attempt + 2,
                policy.attempts,
            )
            sleep(pause)
            attempt += 1


def _retryable(err: BaseException) -> bool:
    """Worth waiting for: transient, or an unclassified storage error (a reset the client
    did not name); never a missing object, a bad key or a misconfiguration."""
    from eventport.storage.base import InvalidKey, ObjectNotFound, PermanentStorageError

    return isinstance(err, StorageError) and not isinstance(
        err, ObjectNotFound | PermanentStorageError | InvalidKey)


@dataclass
class Patience:
    """A time budget for riding out an outage (``EVENTPORT_STORAGE_RETRY_SECONDS``).

    The budget restarts whenever a call succeeds, so a long export survives several short
    outages, while one outage longer than the budget ends it with the original error.
    """

    seconds: float
    policy: RetryPolicy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, retried with full-jitter backoff while its failures are retryable."""
        started, attempt = self.clock(), 0
        while True:
            try:
                return fn()
            except Exception as err:
                if not _retryable(err) or self.clock() - started >= self.seconds:
                    raise
                self.wait(err, attempt, what, started)
                attempt += 1

    def wait(self, err: BaseException, attempt: int, what: str, started: float) -> None:
        left = max(0.0, self.seconds - (self.clock() - started))
        pause = min(left, max(0.05, self.policy.delay(attempt)))
        log.warning("%s failed (%s); retrying in %.1fs (%.0fs of patience left)",
                    what, err, pause, left)
        self.sleep(pause)

    def stream(self, open_at: Callable[[int], Iterable[bytes]], what: str) -> Iterator[bytes]:
        """A byte stream that survives outages: on a retryable error it reopens at the byte
        where it broke (a ranged read), so a consumer that cannot rewind — a zip entry
        being written — never sees a gap or a repeated byte."""
        position, started, attempt = 0, self.clock(), 0
        while True:
            try:
                for chunk in open_at(position):
                    position += len(chunk)
                    started, attempt = self.clock(), 0
                    yield chunk
                return
            except Exception as err:
                if not _retryable(err) or self.clock() - started >= self.seconds:
                    raise
                self.wait(err, attempt, f"{what} at byte {position}", started)
                attempt += 1


def abort_open_uploads(storage: Any, key: str, *, seconds: float = 30.0) -> None:
    """Make sure no multipart upload stays open for ``key`` (that key only, not keys it
    is a prefix of) after a write: on backends that can list them (S3), abort whatever
    is left, retrying through an outage for ``seconds``. Never raises — after a failure
    the caller is already reporting the original error — and what this cannot reach,
    the daily sweep aborts (jobs.maintenance)."""
    abort = getattr(storage, "abort_incomplete_uploads", None)
    if abort is None:
        return
    try:
        Patience(seconds).call(lambda: abort(key, exact=True), f"aborting uploads of {key}")
    except Exception:
        log.warning("could not abort open uploads of %s; the sweep will", key, exc_info=True)
