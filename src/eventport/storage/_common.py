"""Small pieces every backend shares: chunking input, hashing, writers, bucket URLs.

Kept apart from :mod:`eventport.storage.base` (the public interface) so backends can
change these helpers without touching the contract other packages import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn, Protocol, cast
from urllib.parse import parse_qs, urlsplit, urlunsplit

from eventport.storage.base import DEFAULT_CHUNK_SIZE, PutResult, StorageError, StorageWriter
from eventport.storage.base import content_disposition as content_disposition
from eventport.streams import Sha256

#: Read size for file-like inputs and local files. 1 MiB keeps syscalls few while the
#: memory a put holds stays far below one upload part.
READ_SIZE = 1024 * 1024


def iter_input(data: Iterable[bytes] | BinaryIO, read_size: int = READ_SIZE) -> Iterator[bytes]:
    """Turn an iterable of bytes or a readable binary file into non-empty byte chunks.

    ``put_stream`` accepts both because callers have both (an upload's SpooledTemporaryFile,
    a generator from the zip writer); normalising here keeps each backend to one loop.
    """
    read = getattr(data, "read", None)
    if callable(read):
        while True:
            chunk = read(read_size)
            if not chunk:
                return
            yield bytes(chunk) if not isinstance(chunk, bytes) else chunk
    else:
        for chunk in cast(Iterable[bytes], data):
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(
                    f"put_stream expects bytes chunks, got {type(chunk).__name__}; "
                    "encode text before storing it"
                )
            if chunk:
                yield bytes(chunk) if not isinstance(chunk, bytes) else chunk


def rechunk(chunks: Iterable[bytes], size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """Regroup arbitrary chunks into pieces of exactly ``size`` bytes (the last may be short).

    Multipart uploads need parts of a minimum size (5 MiB on S3), while producers such as
    zipfile write in tiny pieces; this buffers at most one part.
    """
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


class Digest:
    """Running size + SHA-256 of what passed through, so a put never re-reads its object
    (hashed beside the sending: :class:`eventport.streams.Sha256`)."""

    def __init__(self) -> None:
        self._sha = Sha256()
        self.size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._sha.update(chunk)
        self.size += len(chunk)

    def result(self, key: str) -> PutResult:
        return PutResult(key=key, size=self.size, sha256=self._sha.hexdigest())


class HashingWriter:
    """The :class:`~eventport.storage.base.StorageWriter` half every backend shares.

    Counts and SHA-256-hashes bytes as they are written, so a put never re-reads its
    object, and answers the file-object questions producers such as zipfile ask.
    Subclasses send the bytes on (:meth:`_send`) and make the object visible
    (:meth:`_commit`); the backend's ``writer`` calls :meth:`close` on a clean exit.
    """

    def __init__(self, key: str) -> None:
        self._key = key
        self._digest = Digest()
        self._result: PutResult | None = None
        self.closed = False

    def _send(self, data: memoryview) -> None:  # pragma: no cover - overridden
        """Pass ``data`` on to the backend; raising keeps it out of the digest."""
        raise NotImplementedError

    def _commit(self, result: PutResult) -> None:
        """Make the written object visible under its key; raising leaves :attr:`result`
        unset. ``result`` is the object's size and hash, for backends that store them."""

    def write(self, data: bytes, /) -> int:
        if self.closed:
            raise ValueError("write to a closed storage writer")
        view = memoryview(data)
        self._send(view)
        self._digest.update(view)
        return len(view)

    def tell(self) -> int:
        return self._digest.size

    def flush(self) -> None:
        # Nothing can be pushed early: cloud backends send a part when it is full
        # (forcing a short part would break S3's 5 MiB minimum part size, and GCS cannot
        # flush without finalizing), so flush is a no-op for callers like zipfile.
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        # Never seekable, on disk too: producers (zipfile) must not rely on seeking back.
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        """Complete the object (called by the backend's ``writer`` on a clean exit)."""
        if self.closed:
            return
        self.closed = True
        result = self._digest.result(self._key)
        self._commit(result)
        self._result = result

    @property
    def result(self) -> PutResult | None:
        """Set once the writer has been closed successfully."""
        return self._result


class _TranslatesWrites(Protocol):
    def translate_write(self, exc: BaseException, key: str) -> BaseException: ...


class ClientFileWriter(HashingWriter):
    """A :class:`HashingWriter` over a client library's writable file (obstore's
    WritableFile, GCS's BlobWriter): ``close`` on it completes the upload, and its
    errors become storage errors through the backend's ``translate_write``."""

    def __init__(self, raw: Any, key: str, backend: _TranslatesWrites) -> None:
        super().__init__(key)
        self._raw = raw
        self._backend = backend

    def _send(self, data: memoryview) -> None:
        try:
            self._raw.write(data)
        except Exception as exc:
            self._reraise(exc)

    def _commit(self, result: PutResult) -> None:
        try:
            self._raw.close()
        except Exception as exc:
            self._reraise(exc)

    def _reraise(self, exc: Exception) -> NoReturn:
        raise self._backend.translate_write(exc, self._key) from exc


class _HasWriter(Protocol):
    def writer(
        self,
        key: str,
        *,
        content_type: str = ...,
        metadata: Mapping[str, str] | None = ...,
        filename: str | None = ...,
    ) -> AbstractContextManager[StorageWriter]: ...


class PutStreamViaWriter:
    """``put_stream`` for backends whose ``writer`` already streams, hashes and aborts.

    Writing every chunk into ``writer()`` keeps one code path per backend, so a put and
    a writer commit, abort and hash the same way.
    """

    def put_stream(
        self: _HasWriter,
        key: str,
        data: Iterable[bytes] | BinaryIO,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> PutResult:
        with self.writer(key, content_type=content_type, metadata=metadata, filename=filename) as w:
            for chunk in iter_input(data):
                w.write(chunk)
        assert w.result is not None
        return w.result


def default_filename(key: str) -> str:
    """The last key segment: what a browser would call the file without other advice."""
    return key.rsplit("/", 1)[-1]


def join_key(prefix: str, key: str) -> str:
    """Join a backend's configured prefix (``s3://bucket/prefix``) and a key."""
    return f"{prefix}/{key}" if prefix else key


def strip_prefix(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path.startswith(prefix + "/"):
        raise ValueError(f"object path {path!r} is outside the prefix {prefix!r}")
    return path[len(prefix) + 1 :]


def clamp_range(start: int, end: int | None, size: int | None = None) -> tuple[int, int | None]:
    """Validate a ``[start, end)`` request and clip it to ``size`` when known."""
    if start < 0:
        raise ValueError(f"range start must be >= 0, got {start}")
    if end is not None and end < start:
        raise ValueError(f"range end {end} is before start {start}")
    if size is not None:
        start = min(start, size)
        end = size if end is None else min(end, size)
    return start, end


@dataclass(frozen=True)
class BucketURL:
    """The parts of ``scheme://bucket/prefix?option=value`` a cloud backend is built from."""

    bucket: str
    prefix: str
    endpoint: str | None
    #: Every query option, the last value of each (checked against the allowed names).
    options: Mapping[str, str]
    url: str


def parse_bucket_url(
    url: str,
    *,
    name: str,
    scheme: str,
    article: str,
    options: Sequence[str],
    credentials_from: str | None = None,
) -> BucketURL:
    """Split a cloud storage URL, refusing another scheme and unknown options.

    With ``credentials_from`` (the environment variables to use instead), a user or
    password in the URL is refused too: the URL ends up in logs.
    """
    parts = urlsplit(url)
    if parts.scheme != scheme:
        raise StorageError(f"{name} storage needs {article} {scheme}:// URL, got {url!r}")
    if credentials_from and (parts.username or parts.password):
        raise StorageError(
            f"do not put credentials in EVENTPORT_STORAGE_URL; set {credentials_from} instead"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - set(options)
    if unknown:
        raise StorageError(
            f"unknown {name} storage URL option(s) {sorted(unknown)}; "
            f"supported: {', '.join(options)}"
        )
    return BucketURL(
        bucket=parts.hostname or "",
        prefix=parts.path.strip("/"),
        endpoint=query.get("endpoint_url") or None,
        options=query,
        url=urlunsplit(parts),
    )
