"""A seekable, read-only file over a stored object, for reading an uploaded zip in place.

``zipfile`` needs to seek (the central directory is at the end), but an upload may be
gigabytes on S3. Instead of copying it to local disk first, :class:`StorageFile` serves
reads from ranged ``Storage.open`` streams: a sequential read keeps one stream open
(one GET per entry on object stores), a seek elsewhere opens a new one. Memory stays at
one chunk whatever the upload's size.

A stream opened at a position runs to the end of the object, and backends hand out
chunks of up to several megabytes: right for reading a zip's entries one after the
other, wasteful for a caller that reads a few small pieces (the 409 probe of an import
reads a zip's directory, manifest.json and event.json). With ``window`` each ranged
read asks for at most that many bytes (``end`` = position + window); a sequential read
that goes on opens the next window twice as large (up to :data:`MAX_WINDOW`), so a
large zip directory still takes a handful of requests, not hundreds.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import cast

from eventport.storage import ObjectNotFound, Storage

MAX_WINDOW = 8 * 1024 * 1024


class StorageFile(io.RawIOBase):
    def __init__(self, storage: Storage, key: str, size: int | None = None,
                 window: int | None = None) -> None:
        self._storage = storage
        self._key = key
        self._size = storage.stat(key).size if size is None else size
        self._window = self._first_window = window
        self._pos = 0
        self._stream: Iterator[bytes] | None = None
        self._stream_pos = -1
        self._pending = b""
        self._offset = 0  # how much of _pending was handed out already

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError("negative seek position")
        self._pos = pos
        return pos

    def _drop_stream(self) -> None:
        if self._stream is not None:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        self._stream = None
        self._pending = b""
        self._offset = 0
        self._stream_pos = -1

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = len(buffer)
        if want == 0 or self._pos >= self._size:
            return 0
        if self._stream is None or self._stream_pos != self._pos:
            self._open_at_pos()
        if self._offset >= len(self._pending):
            self._pending = next(self._stream, b"")  # type: ignore[arg-type]
            self._offset = 0
            if not self._pending and self._window is not None:
                self._window = min(self._window * 2, MAX_WINDOW)
                self._open_at_pos(sequential=True)  # the window is read: the next one
                self._pending = next(self._stream, b"")  # type: ignore[arg-type]
            if not self._pending:
                self._drop_stream()
                return 0
        n = min(want, len(self._pending) - self._offset)
        buffer[:n] = memoryview(self._pending)[self._offset:self._offset + n]
        self._offset += n
        self._pos += n
        self._stream_pos = self._pos
        return n

    def _open_at_pos(self, sequential: bool = False) -> None:
        self._drop_stream()
        if not sequential:
            self._window = self._first_window
        end = None if self._window is None else min(self._pos + self._window, self._size)
        self._stream = iter(self._storage.open(self._key, start=self._pos, end=end))
        self._stream_pos = self._pos

    def close(self) -> None:
        self._drop_stream()
        super().close()


def open_stored(storage: Storage, key: str, buffer_size: int = 256 * 1024,
                window: int | None = None) -> io.BufferedReader:
    """A buffered reader over a stored object (small random reads stay cheap); see the
    module docstring for ``window``.

    On local storage it is the object's file itself: no stream reopened on every seek,
    and readers may then use several threads (:meth:`SafeZip.on_os_file`)."""
    local_path = getattr(storage, "local_path", None)
    if callable(local_path):
        path = local_path(key)
        try:
            return cast(io.BufferedReader, open(path, "rb", buffering=buffer_size))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(f"local storage: no object {key!r}") from exc
    return io.BufferedReader(StorageFile(storage, key, window=window), buffer_size=buffer_size)
