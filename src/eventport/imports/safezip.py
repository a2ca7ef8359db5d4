"""Opening an uploaded zip without trusting anything in it.

A zip's headers are written by whoever made the file. :class:`SafeZip` refuses, before a
single entry is extracted, names that could land outside a folder (``../``, absolute
paths, drive letters, backslashes, control characters), symlink entries, duplicate names
(also those equal after Unicode normalisation and case folding, which collide on many
filesystems), encrypted entries, exotic compression methods, overlapping entries (the
"overlapping files" bomb) and too many entries. Sizes and ratios are then enforced on
the bytes actually produced *while* reading, because the declared sizes are just more
untrusted header fields. Truncated or corrupt files become a clear :class:`ImportRefused`
instead of a ``zlib.error`` or a 500.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import stat
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from eventport.imports.errors import ImportRefused

READ_CHUNK = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: STORED and DEFLATE only: zipfile inflates a bz2/LZMA chunk in one unbounded call, so a
#: few hundred bytes could take gigabytes of memory before any limit is checked; and no
#: exporter we read (ours, Open Event) writes anything else.
_ALLOWED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
#: zip's fixed local file header length (the variable name/extra parts come on top)
_LOCAL_HEADER = 30


@dataclass(frozen=True)
class ZipLimits:
    """Ceilings for one upload; generous for real events, fatal for bombs."""

    max_entries: int = 200_000
    max_total_bytes: int = 64 * 1024**3  # uncompressed, summed over everything read
    max_ratio: int = 200  # uncompressed / compressed, per entry
    ratio_grace_bytes: int = 4 * 1024 * 1024  # tiny, very compressible JSON is fine
    max_document_bytes: int = 128 * 1024**2  # a JSON/XML document parsed in memory


class SafeZip:
    """A vetted, read-only view of a zip; use as a context manager."""

    def __init__(self, file: IO[bytes], limits: ZipLimits | None = None) -> None:
        self.limits = limits or ZipLimits()
        self._read_total = 0
        self._total_lock = threading.Lock()  # entries may be read by several threads
        self._file = file
        try:
            self._zip = zipfile.ZipFile(file)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
            raise ImportRefused(f"the file is not a readable zip (truncated or corrupt?): "
                                f"{exc}") from None
        if len(infos) > self.limits.max_entries:
            raise ImportRefused(f"the zip has {len(infos)} entries; at most "
                                f"{self.limits.max_entries} are accepted")
        self._entries: dict[str, zipfile.ZipInfo] = {}
        folded: dict[str, str] = {}
        for info in infos:
            name = check_name(info.filename)
            if is_symlink(info):
                raise ImportRefused(f"zip entry {name!r} is a symbolic link; links are refused")
            if info.flag_bits & 0x1:
                raise ImportRefused(f"zip entry {name!r} is encrypted")
            if info.compress_type not in _ALLOWED_METHODS:
                raise ImportRefused(f"zip entry {name!r} uses an unsupported compression "
                                    f"method ({info.compress_type})")
            key = unicodedata.normalize("NFC", name.rstrip("/")).casefold()
            if key in folded:
                raise ImportRefused(f"the zip contains {name!r} twice"
                                    + ("" if folded[key] == name else
                                       f" (as {folded[key]!r} and {name!r})"))
            folded[key] = name
            if not info.is_dir():
                self._entries[name] = info
        self._check_overlaps(infos)

    # -- vetting ------------------------------------------------------------------------

    @staticmethod
    def _check_overlaps(infos: list[zipfile.ZipInfo]) -> None:
        """Two entries sharing bytes is how a 40 KB zip expands to terabytes."""
        spans = sorted((i.header_offset, i.header_offset + _LOCAL_HEADER + i.compress_size,
                        i.filename) for i in infos)
        for (_, end, name), (start, _, following) in itertools.pairwise(spans):
            if start < end:
                raise ImportRefused(f"zip entries {name!r} and {following!r} overlap; "
                                    "the file is malformed or a zip bomb")

    # -- reading ------------------------------------------------------------------------

    def on_os_file(self) -> bool:
        """Whether the zip is read from an OS file (a local upload): then entries may be
        read by several threads at once cheaply (zipfile serialises each seek+read under
        its lock); over a ranged-GET stream every interleaved read would be a new request."""
        try:
            self._file.fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation is both
            return False
        return True

    def infolist(self) -> list[zipfile.ZipInfo]:
        """Every entry of the (vetted) directory, folders included, in zip order."""
        return self._zip.infolist()

    def names(self) -> list[str]:
        """File entries (no directories), in the order they appear in the zip."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._entries[name]
        except KeyError:
            raise ImportRefused(f"{name} is missing from the zip") from None

    def iter_bytes(self, name: str, *, limit: int | None = None) -> Iterator[bytes]:
        """Stream an entry, counting real bytes against every limit as they come."""
        info = self.info(name)
        compressed = max(info.compress_size, 1)
        produced = 0
        try:
            with self._zip.open(info) as handle:
                while True:
                    chunk = handle.read(READ_CHUNK)
                    if not chunk:
                        break
                    produced += len(chunk)
                    with self._total_lock:
                        self._read_total += len(chunk)
                    if produced > info.file_size:
                        raise ImportRefused(f"zip entry {name!r} is larger than its header says")
                    if limit is not None and produced > limit:
                        raise ImportRefused(f"{name} is larger than the {limit} bytes accepted "
                                            "for it")
                    if (produced > self.limits.ratio_grace_bytes
                            and produced / compressed > self.limits.max_ratio):
                        raise ImportRefused(
                            f"zip entry {name!r} expands more than {self.limits.max_ratio}× "
                            "(zip bomb?)")
                    if self._read_total > self.limits.max_total_bytes:
                        raise ImportRefused(
                            "the zip expands to more than "
                            f"{self.limits.max_total_bytes} bytes in total")
                    yield chunk
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError) as exc:
            raise ImportRefused(f"zip entry {name!r} cannot be read (truncated or corrupt "
                                f"file?): {exc}") from None
        if produced != info.file_size:
            raise ImportRefused(f"zip entry {name!r} is shorter than its header says "
                                "(truncated file?)")

    def read(self, name: str, *, limit: int | None = None) -> bytes:
        """A whole (small) entry, e.g. a JSON document, within the document limit."""
        limit = self.limits.max_document_bytes if limit is None else limit
        if self.info(name).file_size > limit:
            raise ImportRefused(f"{name} is larger than the {limit} bytes accepted for it")
        return b"".join(self.iter_bytes(name, limit=limit))

    def read_verified(self, name: str, size: int, sha256: str) -> bytes:
        """A small entry checked against what a manifest declares for it."""
        data = self.read(name)
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise ImportRefused(f"{name} does not match manifest.json (size or SHA-256 "
                                "differs); the archive was altered or damaged")
        return data

    def verify(self, name: str, size: int, sha256: str) -> None:
        """Stream an entry of any size and check it against its manifest line."""
        digest = hashlib.sha256()
        length = 0
        for chunk in self.iter_bytes(name):
            digest.update(chunk)
            length += len(chunk)
        if length != size or digest.hexdigest() != sha256:
            raise ImportRefused(f"{name} does not match manifest.json (size or SHA-256 "
                                "differs); the archive was altered or damaged")

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_symlink(info: zipfile.ZipInfo) -> bool:
    """Unix mode bits live in the high 16 bits of ``external_attr``."""
    return stat.S_ISLNK(info.external_attr >> 16)


def check_name(name: str) -> str:
    """Refuse any entry name that is not a plain relative path."""
    if not name or _CONTROL.search(name):
        raise ImportRefused(f"zip entry name {name!r} is empty or holds control characters")
    if "\\" in name:
        raise ImportRefused(f"zip entry {name!r} contains a backslash (path traversal?)")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ImportRefused(f"zip entry {name!r} is an absolute path")
    body = name[:-1] if name.endswith("/") else name
    for part in body.split("/"):
        if part == "..":
            raise ImportRefused(f"zip entry {name!r} leads outside the archive (../)")
        if part in ("", "."):
            raise ImportRefused(f"zip entry {name!r} has an empty or '.' path segment")
    return name
