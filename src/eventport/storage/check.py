"""``eventport storage check``: prove the configured storage works, step by step.

What an operator runs right after setting credentials. Each step prints ✓ or ✗ with
what was done or what to fix; after a failure the remaining dependent steps are skipped
but the probe object is still deleted. The probe lives under ``eventport-check/`` with a
random name, so running the check on a live bucket touches nothing else.

For local and memory storage the signed URL points at Eventport's own web server, which
need not be running during the check, so the token is verified with the signing module
instead of over HTTP, and the output says so.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from eventport.naming import unique_prefix
from eventport.storage.base import Storage, StorageError
from eventport.storage.signing import verify_token

PROBE_PREFIX = "eventport-check/"
PROBE_FILENAME = "eventport-storage-check.bin"
_STEP_ERRORS = (StorageError, httpx.HTTPError, OSError, ValueError)


class _StepFailed(Exception):
    pass


def _served_by_eventport(storage: Storage) -> bool:
    """True when the backend cannot sign, so its links point at Eventport's own route."""
    from eventport.storage.local import LocalStorage
    from eventport.storage.memory import MemoryStorage

    return isinstance(storage, LocalStorage | MemoryStorage)


class _Probe:
    """One probe object and the steps run on it, each returning what it proved."""

    def __init__(self, storage: Storage, echo: Callable[[str], None]) -> None:
        self.storage = storage
        self.echo = echo
        self.key = f"{PROBE_PREFIX}{unique_prefix()}.bin"
        self.payload = os.urandom(256 * 1024) + b"eventport storage check\n"
        self.digest = hashlib.sha256(self.payload).hexdigest()
        self.ok = True
        self.wrote = False

    def step(self, name: str, fn: Callable[[], str]) -> bool:
        """Run one step, print ✓ or ✗ with its detail; a failure marks the check failed."""
        started = time.monotonic()
        try:
            detail = fn()
        except (_StepFailed, *_STEP_ERRORS) as exc:
            self.ok = False
            self.echo(f"✗ {name}: {exc}")
            return False
        self.echo(f"✓ {name}: {detail} ({(time.monotonic() - started) * 1000:.0f} ms)")
        return True

    def reach(self) -> str:
        self.storage.check()
        return "reachable, credentials accepted"

    def write(self) -> str:
        result = self.storage.put_stream(
            self.key,
            iter([self.payload[:100_000], self.payload[100_000:]]),
            content_type="application/octet-stream",
            metadata={"purpose": "eventport-storage-check"},
            filename=PROBE_FILENAME,
        )
        self.wrote = True
        if result.sha256 != self.digest or result.size != len(self.payload):
            raise _StepFailed("the size/SHA-256 reported for the upload do not match the data")
        return f"wrote {result.size} bytes to {self.key}"

    def read(self) -> str:
        data = b"".join(self.storage.open(self.key))
        if hashlib.sha256(data).hexdigest() != self.digest:
            raise _StepFailed(
                f"read back {len(data)} bytes that differ from what was written; "
                "a proxy or gateway may be altering objects"
            )
        return f"read back {len(data)} bytes, SHA-256 matches"

    def range_read(self) -> str:
        data = b"".join(self.storage.open(self.key, start=1000, end=5096))
        if data != self.payload[1000:5096]:
            raise _StepFailed(
                f"bytes 1000-5095 came back wrong ({len(data)} bytes); the endpoint "
                "may not support Range requests"
            )
        return "bytes 1000-5095 match"

    def stat(self) -> str:
        info = self.storage.stat(self.key)
        if info.size != len(self.payload):
            raise _StepFailed(f"stat reports {info.size} bytes, expected {len(self.payload)}")
        return f"size {info.size}, content type {info.content_type}"

    def sign_and_fetch(self) -> str:
        url = self.storage.signed_url(self.key, expires_in=120, filename=PROBE_FILENAME)
        if _served_by_eventport(self.storage):
            return self._verify_locally(url)
        return self._fetch(url)

    def _verify_locally(self, url: str) -> str:
        parts = urlsplit(url)
        if verify_token(parts.path.rsplit("/", 1)[-1]).key != self.key:
            raise _StepFailed("the signed token names a different key")
        return (
            "signed a download link and verified its token locally (this backend's "
            "links are served by Eventport's web server at "
            f"{parts.scheme}://{parts.netloc}, which this check does not call)"
        )

    def _fetch(self, url: str) -> str:
        try:
            response = httpx.get(url, timeout=30.0, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise _StepFailed(
                f"could not fetch the signed URL ({exc}); clients must be able to reach "
                f"{urlsplit(url).netloc} — check endpoint_url/public host settings"
            ) from exc
        if response.status_code != 200:
            raise _StepFailed(
                f"fetching the signed URL gave HTTP {response.status_code}: "
                f"{response.text[:200]!r}. Check that the credentials may sign URLs "
                "(S3: not a session that expires first; GCS: a service-account key; "
                "Azure: an account key) and that the clock is right"
            )
        if hashlib.sha256(response.content).hexdigest() != self.digest:
            raise _StepFailed("the signed URL returned different bytes")
        disposition = response.headers.get("content-disposition", "")
        return (
            f"fetched {len(response.content)} bytes over HTTP, "
            f"Content-Disposition: {disposition!r}"
        )

    def delete(self) -> str:
        self.storage.delete(self.key)
        if self.storage.exists(self.key):
            raise _StepFailed("the probe object is still there after delete")
        return "probe object deleted"


def run_storage_check(storage: Storage, echo: Callable[[str], None]) -> bool:
    """Write, read back, range-read, stat, sign, fetch and delete a probe object.

    Returns True when every step passed. ``echo`` receives one line per step, after a
    single ``Checking storage <url>`` header.
    """
    probe = _Probe(storage, echo)
    echo(f"Checking storage {storage.url}")
    if not probe.step("connect", probe.reach):
        echo("Skipping the remaining steps: fix the problem above and run the check again.")
        return False
    if probe.step("write", probe.write):
        for name, fn in (("read", probe.read), ("range read", probe.range_read),
                         ("stat", probe.stat), ("signed URL", probe.sign_and_fetch)):
            probe.step(name, fn)
    if probe.wrote:
        probe.step("delete", probe.delete)
    echo("Storage check passed." if probe.ok else "Storage check FAILED: see the ✗ lines above.")
    return probe.ok
