"""Proof that an archive is whole: what makes an export ``succeeded`` (docs/DESIGN.md).

An archive counts as written only when the stored object, read back, holds what its
manifest promises. :func:`verify_archive` checks, on any seekable file (a stored object
through :func:`eventport.imports.source.open_stored`, a local file, a decrypted spool):

1. the zip directory, the manifest and every JSON document, with the importer's own
   archive reader (so "verified" means "importable"), through :class:`SafeZip`
   (a few small ranged reads: the directory, the manifest, the documents);
2. every entry's size, CRC and SHA-256 against the manifest, and the whole object's size
   and SHA-256, in **one** sequential read of the object (bounded memory: a few chunks
   plus one inflate window, whatever the archive's size).

The cost is two SHA-256 passes over every byte (the entries', the whole object's) plus
the documents' validation. Given a separate chunk stream, the three run side by side:
the whole-object hash on a pool thread (:class:`eventport.streams.Sha256`), the
documents on another (``hashlib`` and ``zlib`` release the GIL on large buffers).
Every entry's CRC is checked too, although the whole object's SHA-256 already proves
the stored bytes are the written ones: a CRC our own writer got wrong makes an archive
other unzip tools refuse, and that must fail the export, not the restore (~0.15 s per
800 MB).

:func:`verify_stream` does the same for a stream that cannot seek (e.g. an age-decrypted
archive): it spools the bytes to a temporary file first. Everything raises
:class:`ArchiveInvalid` with a reason a person can act on.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from eventport.events.archive_layout import MANIFEST
from eventport.imports.errors import ImportRefused
from eventport.imports.readers.archive import read_archive
from eventport.imports.safezip import SafeZip
from eventport.streams import Sha256

READ_CHUNK = 1024 * 1024
#: At most this many inflated bytes are held at once (a hostile entry cannot bomb memory).
_INFLATE_WINDOW = 1024 * 1024
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_MAGIC = b"PK\x03\x04"


class ArchiveInvalid(Exception):
    """The archive is not what its manifest says; the message says what differs."""


@dataclass(frozen=True)
class Verified:
    """What the check proved."""

    size: int
    sha256: str
    entries: int
    media: int
    missing: int


class _Cursor:
    """A forward-only reader over chunks that knows its offset and hashes every byte."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = memoryview(b"")
        self.offset = 0
        self.hasher = Sha256()  # the whole object's, beside the entries' on this thread

    def _fill(self) -> bool:
        chunk = next(self._chunks, b"")
        if not chunk:
            return False
        self.hasher.update(chunk)
        self._buffer = memoryview(chunk)
        return True

    def take(self, count: int) -> Iterator[memoryview]:
        """The next ``count`` bytes, in pieces (views, not copies: media are hashed
        straight from the chunk read); the archive ending early is an error."""
        while count > 0:
            if not self._buffer and not self._fill():
                raise ArchiveInvalid(f"the archive ends at byte {self.offset}; it is truncated")
            piece = self._buffer[:count]
            self._buffer = self._buffer[len(piece):]
            self.offset += len(piece)
            count -= len(piece)
            yield piece

    def read(self, count: int) -> bytes:
        return b"".join(self.take(count))

    def skip_to(self, offset: int) -> None:
        if offset < self.offset:
            raise ArchiveInvalid(f"zip entries overlap at byte {offset}; the file is malformed")
        for _ in self.take(offset - self.offset):
            pass

    def drain(self) -> None:
        while self._buffer or self._fill():
            self.offset += len(self._buffer)
            self._buffer = memoryview(b"")


def _inflate(pieces: Iterator[memoryview], method: int) -> Iterator[bytes | memoryview]:
    if method == zipfile.ZIP_STORED:
        yield from pieces
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    for piece in pieces:
        data: bytes | memoryview = piece
        while data:
            yield inflater.decompress(data, _INFLATE_WINDOW)
            data = inflater.unconsumed_tail
    yield inflater.flush()
    if not inflater.eof:
        raise zlib.error("the compressed data ends early")


def _check_entry(cursor: _Cursor, info: zipfile.ZipInfo, expected: dict[str, Any] | None
                 ) -> None:
    """Read one entry at the cursor and compare it with the directory and the manifest."""
    cursor.skip_to(info.header_offset)
    magic, name_length, extra_length = _LOCAL_HEADER.unpack(cursor.read(_LOCAL_HEADER.size))
    if magic != _LOCAL_MAGIC:
        raise ArchiveInvalid(f"{info.filename}: no local header where the directory points")
    cursor.read(name_length + extra_length)
    digest, size, crc = hashlib.sha256(), 0, 0
    try:
        for data in _inflate(cursor.take(info.compress_size), info.compress_type):
            digest.update(data)
            crc = zlib.crc32(data, crc)
            size += len(data)
    except zlib.error as exc:
        raise ArchiveInvalid(f"{info.filename} cannot be inflated: {exc}") from None
    if size != info.file_size or crc != info.CRC:
        raise ArchiveInvalid(f"{info.filename}: its bytes do not match the zip directory "
                             "(size or CRC differs); the archive is damaged")
    if expected is not None and (size, digest.hexdigest()) != (expected["size"],
                                                               expected["sha256"]):
        raise ArchiveInvalid(f"{info.filename} does not match manifest.json (size or "
                             "SHA-256 differs); the archive is damaged")


def check_entries(chunks: Iterable[bytes], infos: list[zipfile.ZipInfo],
                  listed: dict[str, dict[str, Any]]) -> tuple[int, str]:
    """One sequential pass: every entry against directory and manifest; (size, sha256)."""
    cursor = _Cursor(chunks)
    try:
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.is_dir():
                continue
            _check_entry(cursor, info, None if info.filename == MANIFEST
                         else listed.get(info.filename))
        cursor.drain()
    finally:
        digest = cursor.hasher.hexdigest()
    return cursor.offset, digest


def _read_listed(zf: SafeZip) -> tuple[dict[str, dict[str, Any]], int, int]:
    """The manifest's files, and how many media it lists and reports missing."""
    manifest = json_manifest(zf)
    listed = {f["path"]: f for f in manifest.get("files", []) if isinstance(f, dict)}
    media = sum(1 for path in listed if path.startswith("media/"))
    missing = manifest.get("missing") or []
    return listed, media, len(missing) if isinstance(missing, list) else 0


def json_manifest(zf: SafeZip) -> dict[str, Any]:
    manifest = json.loads(zf.read(MANIFEST))
    if not isinstance(manifest, dict):
        raise ArchiveInvalid("manifest.json is not a JSON object")
    return manifest


def _documents(zf: SafeZip) -> None:
    """The documents, parsed by the importer's reader (so "verified" means "importable")."""
    try:
        read_archive(zf)
    except ImportRefused as exc:
        raise ArchiveInvalid(exc.detail) from None
    except (ValueError, RecursionError, zipfile.BadZipFile) as exc:
        raise ArchiveInvalid(f"manifest.json cannot be read: {exc}") from None


def _directory(zf: SafeZip) -> tuple[dict[str, dict[str, Any]], int, int,
                                     list[zipfile.ZipInfo]]:
    """The manifest's files, media and missing counts, and the zip directory; when the
    manifest is unusable, the reader says why first (it has the clearer words)."""
    try:
        listed, media, missing = _read_listed(zf)
    except (ValueError, RecursionError, zipfile.BadZipFile, ImportRefused,
            ArchiveInvalid) as exc:
        _documents(zf)
        if isinstance(exc, ArchiveInvalid):
            raise
        if isinstance(exc, ImportRefused):
            raise ArchiveInvalid(exc.detail) from None
        raise ArchiveInvalid(f"manifest.json cannot be read: {exc}") from None
    return listed, media, missing, zf.infolist()


def _check_beside_documents(zf: SafeZip, chunks: Iterable[bytes],
                            infos: list[zipfile.ZipInfo], listed: dict[str, dict[str, Any]]
                            ) -> tuple[int, str]:
    """The sequential pass over ``chunks`` while another thread parses the documents
    (through ``zf``'s own reads); a document's error is reported before the pass's, as
    when the two ran one after the other."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-docs") as pool:
        documents = pool.submit(_documents, zf)
        try:
            result = check_entries(chunks, infos, listed)
        except BaseException:
            documents.result()  # raises the document's error, if there is one
            raise
        documents.result()
    return result


def verify_archive(file: IO[bytes], chunks: Iterable[bytes] | None = None, *,
                   size: int | None = None, sha256: str | None = None) -> Verified:
    """Check a seekable archive file; ``chunks`` (the whole object from its first byte,
    e.g. one streamed GET) replaces reading ``file`` again for the sequential pass, and
    then the documents are parsed (from ``file``) during that pass.
    ``size``/``sha256``: what the writer recorded for the whole object, checked too."""
    try:
        zf = SafeZip(file)
    except ImportRefused as exc:
        raise ArchiveInvalid(exc.detail) from None
    with zf:
        listed, media, missing, infos = _directory(zf)
        if chunks is None:
            _documents(zf)
            file.seek(0)
            chunks = iter(lambda: file.read(READ_CHUNK), b"")
            total, digest = check_entries(chunks, infos, listed)
        else:
            total, digest = _check_beside_documents(zf, chunks, infos, listed)
    if size is not None and total != size:
        raise ArchiveInvalid(f"the stored object has {total} bytes, {size} were written")
    if sha256 is not None and digest != sha256:
        raise ArchiveInvalid("the stored object's SHA-256 differs from what was written")
    return Verified(total, digest, len(infos), media, missing)


def verify_stream(chunks: Iterable[bytes]) -> Verified:
    """Check an archive that arrives as a stream (e.g. decrypted on the fly): spooled to a
    temporary file (memory up to 8 MB, disk beyond), then :func:`verify_archive`."""
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        return verify_archive(spool)  # type: ignore[arg-type]


def verify_path(path: str) -> Verified:
    """Check an archive file on disk (``eventport verify FILE``)."""
    with open(path, "rb") as fh:
        return verify_archive(fh)
