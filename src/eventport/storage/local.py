"""Local-disk backend (``file:///abs/root`` or ``file://./relative/root``).

The embedded mode's storage, so it must be as safe as the cloud ones:

* every key goes through :func:`validate_key` *and* the resolved path is checked to stay
  under the root (symlinks included), so no key can reach outside it;
* writes go to a temp file in ``<root>/.tmp/`` (same filesystem), are fsynced and then
  ``os.replace``-d into place, so a reader sees the old object or the whole new one,
  never a partial one; an aborted write only ever leaves (and removes) its temp file;
* many small puts (an import staging thousands of media) can share their fsyncs:
  inside :meth:`LocalStorage.deferred_sync` a put is renamed into place at once but
  made durable only when the block ends — every file and each directory once, the
  fsyncs issued in parallel so the filesystem's journal commits them together;
* content type, metadata and download filename live in a JSON sidecar under
  ``<root>/.meta/`` (no xattrs: they vanish on copies, tar and many filesystems);
* signed URLs are HMAC tokens served by Eventport's own download route
  (:mod:`eventport.storage.signing`); the link's URL comes from the ``download_url``
  builder the store is opened with.

The top-level names ``.tmp`` and ``.meta`` are reserved and refused as keys.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from eventport.storage._common import (
    READ_SIZE,
    HashingWriter,
    PutStreamViaWriter,
    clamp_range,
    default_filename,
)
from eventport.storage.base import (
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    PermanentStorageError,
    PutResult,
    StorageError,
    validate_key,
    validate_metadata,
)
from eventport.storage.signing import DownloadUrl, signed_download_url

#: Start writing a file's dirty pages to disk every this many bytes (see _LocalWriter).
WRITEBACK_EVERY = 16 * 1024 * 1024

#: fsyncs in flight when a deferred-sync block ends (journal commits group them).
SYNC_THREADS = 8

TMP_DIR = ".tmp"
META_DIR = ".meta"
RESERVED = frozenset({TMP_DIR, META_DIR})


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: the directory entry must reach the disk too."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # deleted or moved on inside the block: nothing to keep
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _SyncBatch:
    """Files and directories written inside a :meth:`LocalStorage.deferred_sync` block."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.dirs: set[Path] = set()
        self._lock = threading.Lock()

    def add(self, files: tuple[str, ...], dirs: tuple[Path, ...]) -> None:
        with self._lock:
            self.files.update(files)
            self.dirs.update(dirs)

    def moved(self, renames: tuple[tuple[str, str], ...], dirs: tuple[Path, ...]) -> None:
        """Files renamed inside the block: the directories must reach the disk; a file's
        own fsync only if it was written in this block too (one made durable earlier
        needs none: fsyncing 3,480 renamed, clean files cost an import's publish ~1 s)."""
        with self._lock:
            for source, target in renames:
                if source in self.files:
                    self.files.discard(source)
                    self.files.add(target)
            self.dirs.update(dirs)

    def sync(self) -> None:
        """Every file first (data, then the renames that name it), in parallel."""
        with ThreadPoolExecutor(max_workers=SYNC_THREADS) as pool:
            for _ in pool.map(_fsync_file, sorted(self.files)):
                pass
            for _ in pool.map(_fsync_dir, sorted(self.dirs)):
                pass


#: The calling thread's open deferred-sync batch, if any (threads never share one).
_batch = threading.local()


def _open_batch() -> _SyncBatch | None:
    return getattr(_batch, "current", None)


class _LocalWriter(HashingWriter):
    """Writable file bound to a temp file; :meth:`close` makes it durable and hands the
    result to ``publish`` (:meth:`LocalStorage._commit`); otherwise the temp file is removed.

    Large objects start their way to the disk while they are written: every
    :data:`WRITEBACK_EVERY` bytes the kernel is asked to begin writing the pages just
    written (``POSIX_FADV_DONTNEED`` on dirty pages starts asynchronous writeback and
    drops nothing still dirty or in flight). Otherwise the kernel holds up to 10 % of RAM
    dirty and the final ``fsync`` waits for all of it; this way the disk works while the
    export computes, and the ``fsync`` at commit finds little left to do.
    """

    def __init__(self, fh: BinaryIO, key: str, publish: Callable[[PutResult], None]) -> None:
        super().__init__(key)
        self._fh = fh
        self._publish = publish
        self._unsynced_from = 0
        self._written = 0

    def _send(self, data: memoryview) -> None:
        self._fh.write(data)
        self._written += len(data)
        if self._written - self._unsynced_from >= WRITEBACK_EVERY:
            self._start_writeback()

    def _start_writeback(self) -> None:
        self._fh.flush()
        with contextlib.suppress(AttributeError, OSError):  # not on every platform / FS
            os.posix_fadvise(self._fh.fileno(), self._unsynced_from,
                             self._written - self._unsynced_from, os.POSIX_FADV_DONTNEED)
        self._unsynced_from = self._written

    def flush(self) -> None:
        self._fh.flush()

    def _commit(self, result: PutResult) -> None:
        self._fh.flush()
        if _open_batch() is None:
            os.fsync(self._fh.fileno())
        else:  # the block's end syncs it; its pages head for the disk meanwhile
            self._start_writeback()
        self._fh.close()  # the file is complete and closed before it is renamed into place
        self._publish(result)


class LocalStorage(PutStreamViaWriter):
    """Objects as plain files under one root directory."""

    def __init__(self, root: str | os.PathLike[str], *, url: str | None = None,
                 download_url: DownloadUrl | None = None) -> None:
        root_path = Path(root).expanduser()
        try:
            root_path.mkdir(parents=True, exist_ok=True)
            (root_path / TMP_DIR).mkdir(exist_ok=True)
            (root_path / META_DIR).mkdir(exist_ok=True)
        except OSError as exc:
            raise PermanentStorageError(
                f"local storage: cannot create the storage directory {root_path}: "
                f"{exc.strerror}. Check EVENTPORT_STORAGE_URL and that the user running "
                "Eventport may write there."
            ) from exc
        self.root = Path(os.path.realpath(root_path))
        self._tmp = self.root / TMP_DIR
        self._meta = self.root / META_DIR
        self.url = url or self.root.as_uri()
        #: Builds the link a signed token travels in (Eventport's download route).
        self.download_url = download_url

    @classmethod
    def from_url(cls, url: str, *, download_url: DownloadUrl | None = None) -> LocalStorage:
        """``file:///abs/path`` or ``file://./rel/path`` (relative to the working directory)."""
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise StorageError(f"local storage needs a file:// URL, got {url!r}")
        if parts.netloc in ("", "localhost"):
            path = unquote(parts.path)
        elif parts.netloc in (".", ".."):
            path = parts.netloc + unquote(parts.path)
        else:
            raise StorageError(
                f"local storage URL {url!r} names a host; use file:///absolute/path or "
                "file://./relative/path"
            )
        if not path:
            raise StorageError(f"local storage URL {url!r} has no path")
        return cls(path, url=url, download_url=download_url)

    # -- paths ---------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """Resolve ``key`` under the root, refusing anything that would land outside it."""
        validate_key(key)
        if key.split("/", 1)[0] in RESERVED:
            raise InvalidKey(f"storage key {key!r} uses a name reserved by local storage")
        path = Path(os.path.realpath(self.root / key))
        if path == self.root or not path.is_relative_to(self.root):
            raise InvalidKey(f"storage key {key!r} resolves outside the storage root")
        return path

    def local_path(self, key: str) -> Path:
        """The file that holds ``key`` (it may not exist): for readers in this process
        that do better with an OS file than with :meth:`open`'s stream — seeking inside
        an uploaded zip, several threads reading entries at once (imports, read-back)."""
        return self._path(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta / (key + ".json")

    def _read_meta(self, key: str) -> dict[str, Any]:
        try:
            with open(self._meta_path(key), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Puts made by this thread inside the block skip their own fsyncs; leaving the
        block makes all of them durable at once (also when the block raises).

        For callers that write many objects before one point where they must all be
        durable — an import stages its media, then commits the rows naming them: the
        block ends before that commit. Objects are visible to readers at once, as
        always; only a crash inside the block can lose them. Nested blocks sync at the
        outermost end; other threads are not affected.
        """
        if _open_batch() is not None:
            yield
            return
        batch = _SyncBatch()
        _batch.current = batch
        try:
            yield
        finally:
            _batch.current = None
            batch.sync()

    @contextlib.contextmanager
    def writer(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> Iterator[_LocalWriter]:
        target = self._path(key)
        validate_metadata(metadata)
        if target.is_dir():
            raise StorageError(
                f"local storage: key {key!r} is a folder of other objects, not an object"
            )
        self._tmp.mkdir(exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-", suffix=".part")
        tmp_path = Path(tmp_name)
        committed = False

        def publish(result: PutResult) -> None:
            self._commit(key, tmp_path, target, result, content_type, metadata, filename)

        try:
            with os.fdopen(fd, "wb") as fh:
                w = _LocalWriter(fh, key, publish)
                yield w
                w.close()
            committed = True
        finally:
            if not committed:
                with contextlib.suppress(FileNotFoundError):
                    tmp_path.unlink()

    def _commit(
        self,
        key: str,
        tmp_path: Path,
        target: Path,
        result: PutResult,
        content_type: str,
        metadata: Mapping[str, str] | None,
        filename: str | None,
    ) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StorageError(
                f"local storage: cannot store {key!r}: a parent folder of that key is an "
                "object (an object key cannot also be a prefix on local disk)"
            ) from exc
        sidecar = {
            "content_type": content_type,
            "metadata": dict(metadata or {}),
            "filename": filename,
            "size": result.size,
            "sha256": result.sha256,
        }
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        batch = _open_batch()
        fd, meta_tmp = tempfile.mkstemp(dir=self._tmp, prefix="meta-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(sidecar, fh, ensure_ascii=False)
                fh.flush()
                if batch is None:
                    os.fsync(fh.fileno())
            # Object first, then its sidecar: the bytes are the source of truth and stat
            # takes size and time from the file itself.
            os.replace(tmp_path, target)
            os.replace(meta_tmp, meta_path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(meta_tmp)
        if batch is not None:
            batch.add((str(target), str(meta_path)), (target.parent, meta_path.parent))
            return
        _fsync_dir(target.parent)
        _fsync_dir(meta_path.parent)

    # -- reading -------------------------------------------------------------------------

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = open(path, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(f"local storage: no object {key!r}") from exc
        size = os.fstat(fh.fileno()).st_size
        start, end = clamp_range(start, end, size)
        return self._read(fh, start, end)

    @staticmethod
    def _read(fh: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
        with fh:
            fh.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = fh.read(READ_SIZE if remaining is None else min(READ_SIZE, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(f"local storage: no object {key!r}") from exc
        if not path.is_file():
            raise ObjectNotFound(f"local storage: {key!r} is a prefix, not an object")
        meta = self._read_meta(key)
        return ObjectInfo(
            key=key,
            size=st.st_size,
            last_modified=dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC),
            content_type=meta.get("content_type") or "application/octet-stream",
            metadata=dict(meta.get("metadata") or {}),
        )

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def filename(self, key: str) -> str | None:
        """The download filename given at upload time, if any."""
        value = self._read_meta(key).get("filename")
        return value if isinstance(value, str) and value else None

    # -- deleting and listing ------------------------------------------------------------

    def _prune(self, start: Path, stop: Path) -> None:
        """Remove now-empty directories from ``start`` up to (not including) ``stop``."""
        current = start
        while current != stop and current.is_relative_to(stop):
            try:
                current.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                return  # not empty (or not ours to remove): stop here
            current = current.parent

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except IsADirectoryError:
            return
        meta_path = self._meta_path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            meta_path.unlink()
        self._prune(path.parent, self.root)
        self._prune(meta_path.parent, self._meta)

    def move(self, source: str, target: str) -> None:
        """A rename on the same filesystem: atomic and free whatever the size."""
        source_path, target_path = self._path(source), self._path(target)
        if not source_path.is_file():
            raise ObjectNotFound(f"local storage: no object {source!r}")
        try:
            target_path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StorageError(
                f"local storage: cannot move to {target!r}: a parent folder of that key is "
                "an object"
            ) from exc
        source_meta, target_meta = self._meta_path(source), self._meta_path(target)
        target_meta.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source_path, target_path)
        with contextlib.suppress(FileNotFoundError):
            os.replace(source_meta, target_meta)
        batch = _open_batch()
        if batch is not None:  # the renames (and what was put in this block) sync there
            batch.moved(((str(source_path), str(target_path)),
                         (str(source_meta), str(target_meta))),
                        (target_path.parent, target_meta.parent))
        else:
            _fsync_dir(target_path.parent)
        self._prune(source_path.parent, self.root)
        self._prune(source_meta.parent, self._meta)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for info in list(self.list(prefix)):
            self.delete(info.key)
            count += 1
        return count

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (a plain string prefix, as on S3), by key."""
        validate_key(prefix, allow_prefix=True)
        # Walk only the deepest directory the prefix fixes, not the whole root.
        base_rel = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        base = self.root / base_rel if base_rel else self.root
        if not base.is_dir() or not Path(os.path.realpath(base)).is_relative_to(self.root):
            return
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d not in RESERVED]
                rel_dir = ""
            for name in filenames:
                key = f"{rel_dir}/{name}" if rel_dir else name
                key = key.replace(os.sep, "/")
                if key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            try:
                yield self.stat(key)
            except (ObjectNotFound, InvalidKey):
                continue  # deleted while listing, or a symlink pointing out of the root

    # -- URLs and health -----------------------------------------------------------------

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """An expiring HMAC token inside the URL the ``download_url`` builder makes."""
        self._path(key)
        name = filename or self.filename(key) or default_filename(key)
        return signed_download_url(key, expires_in=expires_in, filename=name,
                                   download_url=self.download_url)

    def check(self) -> None:
        if not self.root.is_dir():
            raise PermanentStorageError(
                f"local storage: {self.root} is not a directory; check EVENTPORT_STORAGE_URL"
            )
        if not os.access(self._tmp, os.W_OK) or not os.access(self.root, os.W_OK):
            raise PermanentStorageError(
                f"local storage: {self.root} is not writable by this user (uid {os.getuid()}); "
                "fix its permissions or point EVENTPORT_STORAGE_URL elsewhere"
            )
