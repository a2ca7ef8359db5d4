"""Shared implementation of the S3 and Azure backends on top of obstore.

obstore (Rust ``object_store``) streams multipart uploads with bounded memory, aborts
them when the producer fails, does ranged/streamed reads and signs URLs offline — one
well-kept library instead of boto3 + azure-storage-blob (see README, architecture).
The two backends differ only in how the store is built and in error hints, so they
subclass :class:`ObstoreBackend` and override :meth:`_build_store` and the hint hooks.

Stores are created lazily and rebuilt when the process id changes: obstore's runtime
does not survive ``fork`` (Celery's prefork pool), so a child must never use a client its
parent created.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO, NoReturn

import obstore
import obstore.exceptions as obx

from eventport.storage._common import (
    ClientFileWriter,
    Digest,
    clamp_range,
    content_disposition,
    iter_input,
    rechunk,
)
from eventport.storage.base import (
    DEFAULT_CHUNK_SIZE,
    ObjectInfo,
    ObjectNotFound,
    PermanentStorageError,
    PutResult,
    StorageError,
    TransientStorageError,
    validate_key,
    validate_metadata,
)
from eventport.storage.retry import abort_open_uploads, call_with_retry

log = logging.getLogger(__name__)

#: Parts in flight per upload. With 8 MiB parts, an upload holds ~4 parts at most
#: (one being filled, two uploading, one in the client's buffer): ~32 MiB.
MAX_CONCURRENCY = 2


def client_retry() -> dict[str, Any]:
    """obstore's own per-request retries: it alone can retry one part of a multipart
    upload, so it is what rides out an outage while an export or upload is being written.
    Bounded by ``EVENTPORT_STORAGE_RETRY_SECONDS`` (backoff 0.1 s doubling up to 5 s)."""
    from eventport.config import get_settings

    seconds = get_settings().storage_retry_seconds
    return {
        # The time budget decides, not a count: connection refusals fail in microseconds,
        # so any small count runs out within seconds of an outage (measured: 18 in 5 s).
        "max_retries": 1_000_000,
        "retry_timeout": dt.timedelta(seconds=max(seconds, 1)),
        "backoff": {
            "init_backoff": dt.timedelta(milliseconds=100),
            "max_backoff": dt.timedelta(seconds=5),
            "base": 2,
        },
    }


CLIENT_OPTIONS: dict[str, Any] = {
    "connect_timeout": "10s",
    # Whole-request timeout; one 8 MiB part must fit in it even on a slow uplink.
    "timeout": "300s",
}
#: Attribute names obstore maps to HTTP headers; anything else is user metadata.
_HEADER_ATTRIBUTES = frozenset(
    {
        "content-disposition",
        "content-encoding",
        "content-language",
        "content-type",
        "cache-control",
        "storage-class",
    }
)
READ_CHUNK = 1024 * 1024

_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([^<]+)</Code>")
_CONNECT = re.compile(
    r"error sending request|tcp connect error|connection (refused|reset|closed)|"
    r"timed out|timeout|dns error|broken pipe|incomplete message|unexpected eof",
    re.IGNORECASE,
)


class RangeNotSatisfiable(StorageError):
    """A ranged read started at or past the end of the object (HTTP 416)."""


def short_message(exc: BaseException) -> str:
    """obstore messages carry a multi-line Rust debug dump; keep the first useful line."""
    text = str(exc).split("\n\nDebug source:", 1)[0].strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = re.sub(r":\s*<\?xml.*$", "", first)
    code = _CODE.search(text)
    if code and code.group(1) not in first:
        first += f" [{code.group(1)}]"
    return first[:400]


class ObstoreBackend:
    """Storage protocol over one obstore store (bucket/container + optional prefix)."""

    backend = "object storage"
    bucket_word = "bucket"
    #: Error codes meaning "the bucket/container itself is missing".
    missing_bucket_codes: frozenset[str] = frozenset()
    credentials_hint = "check the credentials"
    part_size = DEFAULT_CHUNK_SIZE

    def __init__(self, *, url: str, bucket: str, prefix: str, endpoint: str | None) -> None:
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        self._store_obj: Any = None
        self._store_pid: int | None = None
        self._lock = threading.Lock()

    # -- store lifecycle -----------------------------------------------------------------

    def _build_store(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def store(self) -> Any:
        """The obstore store for *this* process, built on first use (fork-safe)."""
        pid = os.getpid()
        with self._lock:
            if self._store_obj is None or self._store_pid != pid:
                try:
                    self._store_obj = self._build_store()
                except StorageError:
                    raise
                except Exception as exc:
                    raise PermanentStorageError(
                        f"{self.backend}: cannot configure storage for {self.url}: "
                        f"{short_message(exc)}. {self.credentials_hint}"
                    ) from exc
                self._store_pid = pid
            return self._store_obj

    # -- errors --------------------------------------------------------------------------

    def _where(self, key: str | None) -> str:
        place = f"{self.bucket_word} {self.bucket!r}"
        if key is not None:
            place += f", key {self._path(key)!r}" if self.prefix else f", key {key!r}"
        if self.endpoint:
            place += f" at {self.endpoint}"
        return place

    def translate(self, exc: BaseException, key: str | None = None) -> BaseException:
        """Map an obstore exception to the storage error family with an actionable hint."""
        if isinstance(exc, StorageError) or not isinstance(exc, obx.BaseError | OSError):
            return exc  # the caller's own exception (e.g. from its producer): untouched
        text = str(exc)
        msg = short_message(exc)
        status_match = _STATUS.search(text)
        status = int(status_match.group(1)) if status_match else None
        code_match = _CODE.search(text)
        code = code_match.group(1) if code_match else ""
        where = f"{self.backend}: {self._where(key)}"
        if code in self.missing_bucket_codes:
            return PermanentStorageError(
                f"{where}: the {self.bucket_word} does not exist ({msg}). Create it (Eventport "
                f"does not create {self.bucket_word}s) or fix the name in EVENTPORT_STORAGE_URL."
            )
        if isinstance(
            exc, obx.UnauthenticatedError | obx.PermissionDeniedError | PermissionError
        ) or (status in (401, 403)):
            return PermanentStorageError(f"{where}: access denied ({msg}). {self.credentials_hint}")
        if isinstance(exc, FileNotFoundError | obx.NotFoundError) or status == 404:
            return ObjectNotFound(f"{where}: object not found")
        if status is not None and (status >= 500 or status in (408, 429)):
            return TransientStorageError(
                f"{where}: the service answered {status} ({msg}); it kept failing after "
                "retries — try again later or check the service's status."
            )
        if status in (301, 307, 400):
            return PermanentStorageError(
                f"{where}: request refused ({msg}). Check the region and endpoint_url in "
                "EVENTPORT_STORAGE_URL."
            )
        if status == 416 or code == "InvalidRange" or "Wanted range starting at" in msg:
            return RangeNotSatisfiable(f"{where}: requested range starts past the end")
        if _CONNECT.search(msg):
            return TransientStorageError(
                f"{where}: cannot reach the service ({msg}). Check endpoint_url in "
                "EVENTPORT_STORAGE_URL, DNS and network/proxy settings, and that the "
                "service is up."
            )
        return StorageError(f"{where}: {msg}")

    def translate_write(self, exc: BaseException, key: str) -> BaseException:
        """As :meth:`translate`, but a 404 while uploading can only mean a missing bucket."""
        err = self.translate(exc, key)
        if isinstance(err, ObjectNotFound):
            return PermanentStorageError(
                f"{self.backend}: {self._where(key)}: upload refused with 404: the "
                f"{self.bucket_word} does not exist. Create it or fix the name in "
                "EVENTPORT_STORAGE_URL."
            )
        return err

    def _call(self, fn: Any, key: str | None, what: str) -> Any:
        return call_with_retry(
            fn, lambda e: self.translate(e, key), what=f"{self.backend} {what} {key or ''}"
        )

    # -- keys ----------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        # The prefix is handled by obstore's store (prefix=...); kept here for messages.
        return f"{self.prefix}/{key}" if self.prefix else key

    def _attributes(
        self, content_type: str, metadata: Mapping[str, str] | None, filename: str | None
    ) -> dict[str, str]:
        validate_metadata(metadata)
        attrs: dict[str, str] = {"Content-Type": content_type}
        if filename:
            # Signed URLs cannot carry a response-content-disposition through obstore,
            # so the filename is stored with the object and served on every GET.
            attrs["Content-Disposition"] = content_disposition(filename)
        for name, value in (metadata or {}).items():
            if name.lower() in _HEADER_ATTRIBUTES:
                raise ValueError(f"metadata key {name!r} is reserved for an HTTP header")
            attrs[name] = value
        return attrs

    # -- writing -------------------------------------------------------------------------

    def put_stream(
        self,
        key: str,
        data: Iterable[bytes] | BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> PutResult:
        validate_key(key)
        attrs = self._attributes(content_type, metadata, filename)
        store = self.store
        digest = Digest()
        parts = rechunk(iter_input(data), self.part_size)
        first = next(parts, b"")
        second = next(parts, None)
        if second is None:
            # Fits in one part: one atomic PUT, which can be retried as a whole.
            digest.update(first)
            call_with_retry(
                lambda: obstore.put(store, key, first, attributes=attrs, use_multipart=False),
                lambda e: self.translate_write(e, key),
                what=f"{self.backend} put {key}",
            )
            return digest.result(key)

        # Multipart, through the writer: the caller's stream is read here, in Python. Handed
        # to obstore.put as an iterator it would be read from inside obstore's runtime,
        # and a stream that itself reads from this store (an import staging a large video
        # out of an upload stored here) panics: "Cannot start a runtime from within a
        # runtime". The writer aborts the upload if the stream fails; no object appears.
        with self.writer(key, content_type=content_type, metadata=metadata,
                         filename=filename) as out:
            for part in itertools.chain((first, second), parts):
                out.write(part)
        assert out.result is not None
        return out.result

    @contextlib.contextmanager
    def writer(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> Iterator[ObstoreWriter]:
        validate_key(key)
        attrs = self._attributes(content_type, metadata, filename)
        try:
            raw = obstore.open_writer(
                self.store,
                key,
                attributes=attrs,
                buffer_size=self.part_size,
                max_concurrency=MAX_CONCURRENCY,
            )
        except Exception as exc:
            raise self.translate_write(exc, key) from exc
        w = ObstoreWriter(raw, key, self)
        try:
            yield w
            w.close()
        except BaseException as exc:
            # Leaving the block by an exception — or failing to complete — aborts the
            # multipart upload; the caller gets the original error, never the abort's.
            self._abort(raw, key, exc)
            raise
        self._drop_retried_uploads(key)

    def _drop_retried_uploads(self, key: str) -> None:
        """After a multipart upload completed, abort any other upload still open for
        ``key``: a create whose answer an outage swallowed is retried by the client, and
        the first upload it opened (unknown to us, billed until aborted) stays open
        otherwise. Keys are unique to their job, so nothing else writes there.
        Best-effort and brief: what this misses, the sweep aborts."""
        abort_open_uploads(self, key, seconds=5.0)

    def _abort(self, raw: Any, key: str, exc: BaseException) -> None:
        try:
            raw.__exit__(type(exc), exc, exc.__traceback__)
        except Exception:
            log.warning("%s: aborting the upload of %s failed; retrying", self.backend, key,
                        exc_info=True)
        abort_open_uploads(self, key)

    # -- reading -------------------------------------------------------------------------

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        validate_key(key)
        start, end = clamp_range(start, end)
        if end is not None and end == start:
            self.stat(key)  # still report a missing object
            return iter(())
        store = self.store
        options: Any = {}
        if end is not None:
            options["range"] = (start, end)
        elif start:
            options["range"] = {"offset": start}
        try:
            result = self._call(lambda: obstore.get(store, key, options=options), key, "get")
        except RangeNotSatisfiable:
            return iter(())  # start at or past the end: nothing to read
        return self._stream(result, key, start, end)

    def _stream(self, result: Any, key: str, start: int, end: int | None) -> Iterator[bytes]:
        """Yield the body; on a dropped connection resume from where it stopped (same ETag)."""
        etag = result.meta.get("e_tag")
        position = start
        resumes = 0
        while True:
            try:
                for chunk in result.stream(min_chunk_size=READ_CHUNK):
                    data = bytes(chunk)
                    position += len(data)
                    yield data
                return
            except Exception as exc:
                err = self.translate(exc, key)
                if not isinstance(err, TransientStorageError) or resumes >= 3:
                    if err is exc:
                        raise
                    raise err from exc
                resumes += 1
                log.warning(
                    "%s: read of %s broke at byte %d; resuming", self.backend, key, position
                )
                options: Any = {
                    "range": (position, end) if end is not None else {"offset": position}
                }
                if etag:
                    options["if_match"] = etag
                result = self._call(
                    lambda store=self.store, options=options: obstore.get(
                        store, key, options=options
                    ),
                    key,
                    "get",
                )

    def stat(self, key: str) -> ObjectInfo:
        validate_key(key)
        store = self.store
        result = self._call(lambda: obstore.get(store, key, options={"head": True}), key, "stat")
        return self._info(key, result.meta, result.attributes)

    def _info(
        self, key: str, meta: Mapping[str, Any], attrs: Mapping[str, str] | None
    ) -> ObjectInfo:
        attrs = attrs or {}
        content_type = None
        metadata: dict[str, str] = {}
        for name, value in attrs.items():
            if name.lower() == "content-type":
                content_type = value
            elif name.lower() not in _HEADER_ATTRIBUTES:
                metadata[name] = value
        return ObjectInfo(
            key=key,
            size=int(meta["size"]),
            last_modified=meta.get("last_modified"),
            content_type=content_type,
            metadata=metadata,
        )

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    # -- deleting and listing ------------------------------------------------------------

    def delete(self, key: str) -> None:
        validate_key(key)
        store = self.store
        try:
            self._call(lambda: obstore.delete(store, key), key, "delete")
        except ObjectNotFound:
            pass

    def move(self, source: str, target: str) -> None:
        """Server-side copy then delete (obstore's rename): no bytes pass through us."""
        validate_key(source)
        validate_key(target)
        store = self.store
        self._call(lambda: obstore.rename(store, source, target), source, "move")

    def _list_meta(self, prefix: str) -> Iterator[Mapping[str, Any]]:
        validate_key(prefix, allow_prefix=True)
        # obstore lists by path segments; emulate a plain string prefix (S3 semantics)
        # by listing the deepest complete "directory" and filtering.
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        store = self.store
        stream = self._call(
            lambda: iter(obstore.list(store, prefix=directory or None, chunk_size=1000)),
            None,
            "list",
        )
        while True:
            try:
                batch = next(stream)
            except StopIteration:
                return
            except Exception as exc:
                raise self.translate(exc) from exc
            for meta in batch:
                if str(meta["path"]).startswith(prefix):
                    yield meta

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` (plain string prefix). Listing APIs return no
        attributes, so ``content_type`` and ``metadata`` are empty here; use :meth:`stat`."""
        for meta in self._list_meta(prefix):
            yield self._info(str(meta["path"]), meta, None)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        batch: list[str] = []
        store = self.store
        for meta in list(self._list_meta(prefix)):
            batch.append(str(meta["path"]))
            if len(batch) == 500:
                paths = batch
                self._call(lambda paths=paths: obstore.delete(store, paths), None, "delete")
                count += len(batch)
                batch = []
        if batch:
            self._call(lambda: obstore.delete(store, batch), None, "delete")
            count += len(batch)
        return count

    # -- URLs and health -----------------------------------------------------------------

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A presigned GET URL, signed locally with the configured credentials.

        The download filename is the one given at upload time (stored as the object's
        Content-Disposition): obstore cannot add ``response-content-disposition`` to the
        signature. A different ``filename`` here is logged and not applied.
        """
        validate_key(key)
        if expires_in <= 0:
            raise ValueError(f"expires_in must be positive, got {expires_in}")
        if filename:
            log.debug(
                "%s: filename %r for %s is taken from upload time", self.backend, filename, key
            )
        store = self.store
        return str(
            self._call(
                lambda: obstore.sign(store, "GET", key, dt.timedelta(seconds=expires_in)),
                key,
                "sign",
            )
        )

    def check(self) -> None:
        """List at most one object: proves the endpoint, credentials and bucket at once."""
        store = self.store

        def probe() -> None:
            stream = obstore.list(store, chunk_size=1)
            with contextlib.suppress(StopIteration):
                next(iter(stream))

        self._call(probe, None, "check")


class ObstoreWriter(ClientFileWriter):
    """StorageWriter over obstore's WritableFile, hashing as bytes pass through."""

    def _reraise(self, exc: Exception) -> NoReturn:
        # An exception translate_write does not know goes on as it is, not chained to itself.
        err = self._backend.translate_write(exc, self._key)
        if err is exc:
            raise exc
        raise err from exc
