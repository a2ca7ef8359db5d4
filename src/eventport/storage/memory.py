"""In-process backend (``memory://`` or ``memory://name``) for tests and demos.

Objects live in a process-local dict guarded by a lock. Stores opened with the same URL
share one namespace, so code that calls :func:`eventport.storage.open_storage` twice (or
the download route via :func:`eventport.storage.get_storage`) sees the same objects;
use distinct names (``memory://test-123``) for isolation. It keeps the full contract —
atomic commit, abort leaves nothing, ranged reads, HMAC-signed URLs served by the same
download route as the local backend — so tests written against it stay honest.
Nothing survives the process, and every byte is held in RAM: not for production.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from eventport.storage._common import (
    READ_SIZE,
    HashingWriter,
    PutStreamViaWriter,
    clamp_range,
    default_filename,
)
from eventport.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    PutResult,
    StorageError,
    validate_key,
    validate_metadata,
)
from eventport.storage.signing import DownloadUrl, signed_download_url


@dataclass(frozen=True)
class _Object:
    data: bytes | bytearray  # a committed bytearray is never mutated again
    content_type: str
    metadata: Mapping[str, str]
    filename: str | None
    last_modified: dt.datetime


@dataclass
class _Namespace:
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: dict[str, _Object] = field(default_factory=dict)


_namespaces: dict[str, _Namespace] = {}
_namespaces_lock = threading.Lock()


class _MemoryWriter(HashingWriter):
    """Collects the object in RAM; :meth:`close` hands it to ``publish``."""

    def __init__(self, key: str, publish: Callable[[bytearray], None]) -> None:
        super().__init__(key)
        self._buf = bytearray()
        self._publish = publish

    def _send(self, data: memoryview) -> None:
        self._buf += data

    def _commit(self, result: PutResult) -> None:
        self._publish(self._buf)


class MemoryStorage(PutStreamViaWriter):
    """A dict of key -> bytes shared by every store opened with the same URL."""

    def __init__(self, name: str = "default", *, url: str | None = None,
                 download_url: DownloadUrl | None = None) -> None:
        self.url = url or f"memory://{name}"
        #: Builds the link a signed token travels in (Eventport's download route).
        self.download_url = download_url
        with _namespaces_lock:
            self._ns = _namespaces.setdefault(name, _Namespace())

    @classmethod
    def from_url(cls, url: str, *, download_url: DownloadUrl | None = None) -> MemoryStorage:
        parts = urlsplit(url)
        if parts.scheme != "memory":
            raise StorageError(f"memory storage needs a memory:// URL, got {url!r}")
        name = (parts.netloc + parts.path).strip("/") or "default"
        return cls(name, url=url, download_url=download_url)

    @contextlib.contextmanager
    def writer(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> Iterator[_MemoryWriter]:
        validate_key(key)
        validate_metadata(metadata)

        def publish(data: bytearray) -> None:
            obj = _Object(
                data=data,  # kept as is: joining parts would briefly double the memory
                content_type=content_type,
                metadata=dict(metadata or {}),
                filename=filename,
                last_modified=dt.datetime.now(dt.UTC),
            )
            with self._ns.lock:
                self._ns.objects[key] = obj

        w = _MemoryWriter(key, publish)
        yield w
        w.close()

    def _get(self, key: str) -> _Object:
        validate_key(key)
        with self._ns.lock:
            obj = self._ns.objects.get(key)
        if obj is None:
            raise ObjectNotFound(f"memory storage {self.url}: no object {key!r}")
        return obj

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        obj = self._get(key)
        start, end = clamp_range(start, end, len(obj.data))
        return self._read(obj.data, start, end if end is not None else len(obj.data))

    @staticmethod
    def _read(data: bytes | bytearray, start: int, end: int) -> Iterator[bytes]:
        view = memoryview(data)
        for offset in range(start, end, READ_SIZE):
            yield bytes(view[offset : min(offset + READ_SIZE, end)])

    def stat(self, key: str) -> ObjectInfo:
        obj = self._get(key)
        return ObjectInfo(
            key=key,
            size=len(obj.data),
            last_modified=obj.last_modified,
            content_type=obj.content_type,
            metadata=dict(obj.metadata),
        )

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._ns.lock:
            return key in self._ns.objects

    def filename(self, key: str) -> str | None:
        return self._get(key).filename

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._ns.lock:
            self._ns.objects.pop(key, None)

    def move(self, source: str, target: str) -> None:
        validate_key(source)
        validate_key(target)
        with self._ns.lock:
            obj = self._ns.objects.pop(source, None)
            if obj is None:
                raise ObjectNotFound(f"memory storage {self.url}: no object {source!r}")
            self._ns.objects[target] = obj

    def delete_prefix(self, prefix: str) -> int:
        validate_key(prefix, allow_prefix=True)
        with self._ns.lock:
            doomed = [k for k in self._ns.objects if k.startswith(prefix)]
            for k in doomed:
                del self._ns.objects[k]
        return len(doomed)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_key(prefix, allow_prefix=True)
        with self._ns.lock:
            items = sorted(
                ((k, o) for k, o in self._ns.objects.items() if k.startswith(prefix)),
                key=lambda item: item[0],
            )
        for key, obj in items:
            yield ObjectInfo(
                key=key,
                size=len(obj.data),
                last_modified=obj.last_modified,
                content_type=obj.content_type,
                metadata=dict(obj.metadata),
            )

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """An HMAC link to Eventport's download route, like the local backend's."""
        validate_key(key)
        with self._ns.lock:
            obj = self._ns.objects.get(key)
        name = filename or (obj.filename if obj else None) or default_filename(key)
        return signed_download_url(key, expires_in=expires_in, filename=name,
                                   download_url=self.download_url)

    def check(self) -> None:
        """Always reachable: it is this process's memory."""

    def clear(self) -> None:
        """Drop every object in this namespace (tests)."""
        with self._ns.lock:
            self._ns.objects.clear()
