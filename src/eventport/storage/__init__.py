"""Storage: one interface (:mod:`eventport.storage.base`), backends chosen by URL scheme.

``file://``, ``memory://``, ``s3://``, ``gs://``, ``az://`` — see docs/DESIGN.md for the URL
forms. Stores are built lazily and once per process (keyed by pid): some object-store
clients hang when used across a ``fork`` (Celery's prefork pool), so a child never
inherits its parent's client.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from contextlib import AbstractContextManager
from urllib.parse import urlsplit

from eventport.storage.base import (
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    PermanentStorageError,
    PutResult,
    Storage,
    StorageError,
    StorageWriter,
    TransientStorageError,
    content_disposition,
    validate_key,
)
from eventport.storage.signing import DownloadUrl

__all__ = [
    "InvalidKey",
    "ObjectInfo",
    "ObjectNotFound",
    "PermanentStorageError",
    "PutResult",
    "Storage",
    "StorageError",
    "StorageWriter",
    "TransientStorageError",
    "content_disposition",
    "deferred_sync",
    "get_storage",
    "open_storage",
    "validate_key",
]

#: scheme -> "module:factory"; a new backend is one file plus one line here.
BACKENDS: dict[str, str] = {
    "file": "eventport.storage.local:LocalStorage.from_url",
    "memory": "eventport.storage.memory:MemoryStorage.from_url",
    "s3": "eventport.storage.s3:S3Storage.from_url",
    "gs": "eventport.storage.gcs:GCSStorage.from_url",
    "az": "eventport.storage.azure:AzureStorage.from_url",
}
#: Backends that cannot sign URLs: their links point at Eventport's own download route,
#: built by the ``download_url`` they are given.
SELF_SERVED = frozenset({"file", "memory"})


def open_storage(url: str, *, download_url: DownloadUrl | None = None) -> Storage:
    """Build a backend from a storage URL (no caching; see :func:`get_storage`).

    ``download_url`` builds the link for a signed token on backends that cannot sign
    (local, memory); by default it is Eventport's download route on ``EVENTPORT_BASE_URL``.
    """
    scheme = urlsplit(url).scheme
    target = BACKENDS.get(scheme)
    if target is None:
        raise StorageError(
            f"unsupported storage URL scheme {scheme!r} in EVENTPORT_STORAGE_URL; "
            f"use one of: {', '.join(s + '://' for s in BACKENDS)}"
        )
    module_name, _, attr = target.partition(":")
    factory: object = importlib.import_module(module_name)
    for part in attr.split("."):
        factory = getattr(factory, part)
    if scheme not in SELF_SERVED:
        return factory(url)  # type: ignore[operator,no-any-return]
    if download_url is None:
        from eventport.links import file_download_url as download_url
    return factory(url, download_url=download_url)  # type: ignore[operator,no-any-return]


_lock = threading.Lock()
_cache: dict[tuple[int, str], Storage] = {}


def get_storage(url: str | None = None) -> Storage:
    """The process's storage for ``url`` (default: the configured one), built on first use."""
    if url is None:
        from eventport.config import get_settings

        url = get_settings().storage_url
    cache_key = (os.getpid(), url)
    with _lock:
        storage = _cache.get(cache_key)
        if storage is None:
            storage = open_storage(url)
            _cache[cache_key] = storage
        return storage


def reset_storage_cache() -> None:
    with _lock:
        _cache.clear()


def deferred_sync(storage: Storage) -> AbstractContextManager[None]:
    """A block whose puts become durable together at its end, where the backend can
    batch that (local disk: see ``LocalStorage.deferred_sync``); elsewhere a no-op —
    an object store's put is durable when it returns."""
    batch = getattr(storage, "deferred_sync", None)
    return batch() if callable(batch) else contextlib.nullcontext()


def round_trips(storage: Storage) -> bool:
    """Whether each call is a network round trip (object stores): then a few calls in
    flight hide the latency. Local disk and memory answer at once, and threads there
    only add GIL hand-offs and directory-lock contention (measured: 1,740 existence
    checks 0.07 s on one thread, 0.29 s on eight; 1,740 renames 0.36 s vs 0.9 s)."""
    return urlsplit(storage.url).scheme not in SELF_SERVED
