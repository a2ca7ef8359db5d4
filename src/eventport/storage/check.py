"""``eventport storage check``: prove the configured storage works, step by step.

What an operator runs right after setting credentials. Each step prints ✓ or ✗ with
what was done or what to fix; after a failure the remaining dependent steps are skipped
but the probe object is still deleted. The probe lives under ``eventport-check/`` with a
random name, so running the check on a live bucket touches nothing else.

For local and memory storage the signed URL points at Eventport's own web server
(``GET /api/v1/files/{token}``), which need not be running during the check, so the
token is verified with the signing module instead of over HTTP, and the output says so.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from eventport.storage.base import Storage, StorageError
from eventport.storage.signing import DOWNLOAD_ROUTE, verify_token

PROBE_PREFIX = "eventport-check/"
PROBE_FILENAME = "eventport-storage-check.bin"


class _StepFailed(Exception):
    pass


def _served_by_eventport(storage: Storage, url: str) -> bool:
    """True when the signed URL is Eventport's own download route (local/memory)."""
    from eventport.storage.local import LocalStorage
    from eventport.storage.memory import MemoryStorage

    if isinstance(storage, LocalStorage | MemoryStorage):
        return True
    route_prefix = DOWNLOAD_ROUTE.split("{", 1)[0]
    return route_prefix in urlsplit(url).path


def run_storage_check(storage: Storage, echo: Callable[[str], None]) -> bool:
    """Write, read back, range-read, stat, sign, fetch and delete a probe object.

    Returns True when every step passed. ``echo`` receives one line per step.
    """
    key = f"{PROBE_PREFIX}{uuid.uuid4().hex}.bin"
    payload = os.urandom(256 * 1024) + b"eventport storage check\n"
    digest = hashlib.sha256(payload).hexdigest()
    ok = True
    wrote = False

    def step(name: str, fn: Callable[[], str]) -> bool:
        nonlocal ok
        started = time.monotonic()
        try:
            detail = fn()
        except (StorageError, _StepFailed, httpx.HTTPError, OSError, ValueError) as exc:
            ok = False
            echo(f"✗ {name}: {exc}")
            return False
        echo(f"✓ {name}: {detail} ({(time.monotonic() - started) * 1000:.0f} ms)")
        return True

    echo(f"Checking storage {storage.url}")

    def reach() -> str:
        storage.check()
        return "reachable, credentials accepted"

    if not step("connect", reach):
        echo("Skipping the remaining steps: fix the problem above and run the check again.")
        return False

    def write() -> str:
        nonlocal wrote
        result = storage.put_stream(
            key,
            iter([payload[:100_000], payload[100_000:]]),
            content_type="application/octet-stream",
            metadata={"purpose": "eventport-storage-check"},
            filename=PROBE_FILENAME,
        )
        wrote = True
        if result.sha256 != digest or result.size != len(payload):
            raise _StepFailed("the size/SHA-256 reported for the upload do not match the data")
        return f"wrote {result.size} bytes to {key}"

    if step("write", write):

        def read() -> str:
            data = b"".join(storage.open(key))
            if hashlib.sha256(data).hexdigest() != digest:
                raise _StepFailed(
                    f"read back {len(data)} bytes that differ from what was written; "
                    "a proxy or gateway may be altering objects"
                )
            return f"read back {len(data)} bytes, SHA-256 matches"

        def range_read() -> str:
            data = b"".join(storage.open(key, start=1000, end=5096))
            if data != payload[1000:5096]:
                raise _StepFailed(
                    f"bytes 1000-5095 came back wrong ({len(data)} bytes); the endpoint "
                    "may not support Range requests"
                )
            return "bytes 1000-5095 match"

        def stat() -> str:
            info = storage.stat(key)
            if info.size != len(payload):
                raise _StepFailed(f"stat reports {info.size} bytes, expected {len(payload)}")
            return f"size {info.size}, content type {info.content_type}"

        def sign_and_fetch() -> str:
            url = storage.signed_url(key, expires_in=120, filename=PROBE_FILENAME)
            if _served_by_eventport(storage, url):
                token = urlsplit(url).path.rsplit("/", 1)[-1]
                grant = verify_token(token)
                if grant.key != key:
                    raise _StepFailed("the signed token names a different key")
                return (
                    "signed a download link and verified its token locally (this backend's "
                    "links are served by Eventport's web server at "
                    f"{url.split('/api/', 1)[0]}, which this check does not call)"
                )
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
            if hashlib.sha256(response.content).hexdigest() != digest:
                raise _StepFailed("the signed URL returned different bytes")
            disposition = response.headers.get("content-disposition", "")
            return (
                f"fetched {len(response.content)} bytes over HTTP, "
                f"Content-Disposition: {disposition!r}"
            )

        for name, fn in (
            ("read", read),
            ("range read", range_read),
            ("stat", stat),
            ("signed URL", sign_and_fetch),
        ):
            step(name, fn)

    if wrote:

        def delete() -> str:
            storage.delete(key)
            if storage.exists(key):
                raise _StepFailed("the probe object is still there after delete")
            return "probe object deleted"

        step("delete", delete)

    echo("Storage check passed." if ok else "Storage check FAILED: see the ✗ lines above.")
    return ok
