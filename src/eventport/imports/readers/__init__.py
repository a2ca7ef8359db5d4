"""Readers: one per import format, each turning an upload into :class:`EventData`.

Readers are pure (the design's rule): they read the upload they are handed and do no
database or network I/O. The format is taken from the request or detected here from the
first bytes and, for zips, from the names inside.
"""

from __future__ import annotations

from typing import IO

from eventport.imports.errors import ImportRefused
from eventport.imports.model import EventData
from eventport.imports.readers.archive import MANIFEST, read_archive
from eventport.imports.readers.frab_xml import read_frab_xml
from eventport.imports.readers.open_event import locate_documents, read_open_event
from eventport.imports.safezip import SafeZip, ZipLimits

FORMATS = ("archive", "open-event", "frab-xml")
ZIP_FORMATS = ("archive", "open-event")


def sniff_container(head: bytes) -> str | None:
    """``"zip"``, ``"xml"`` or ``"age"`` (an encrypted archive) from the first bytes."""
    if head.startswith(b"age-encryption.org/v1\n"):
        return "age"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "xml"
    return None


def check_format(fmt: str | None) -> str | None:
    if fmt is not None and fmt not in FORMATS:
        raise ImportRefused(f"unknown import format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def detect_zip_format(zf: SafeZip) -> str:
    if MANIFEST in zf:
        return "archive"
    if locate_documents(zf) is not None:
        return "open-event"
    raise ImportRefused("the zip is neither an Eventport archive (no manifest.json) nor an "
                        "Open Event export (no 'event' document)")


def read_upload(file: IO[bytes], fmt: str | None, limits: ZipLimits | None = None
                ) -> tuple[EventData, SafeZip | None]:
    """Read an upload; for zips the open :class:`SafeZip` comes back to stream media from."""
    check_format(fmt)
    head = file.read(512)
    file.seek(0)
    container = sniff_container(head)
    if fmt is None:
        if container is None:
            raise ImportRefused("cannot tell the file's format: it is neither a zip nor "
                                "XML; name the format (archive, open-event, frab-xml)")
        fmt = "frab-xml" if container == "xml" else None
    if fmt == "frab-xml":
        limit = (limits or ZipLimits()).max_document_bytes
        content = file.read(limit + 1)
        if len(content) > limit:
            raise ImportRefused(f"schedule.xml is larger than {limit} bytes")
        return read_frab_xml(content), None
    if container == "age":
        raise ImportRefused("this archive is encrypted (age): import it with its secret key "
                            "(the identity field of POST /api/v1/imports)")
    if container != "zip":
        raise ImportRefused(f"a {fmt or 'zip'} import must be a zip file")
    zf = SafeZip(file, limits)
    try:
        fmt = fmt or detect_zip_format(zf)
        data = read_archive(zf) if fmt == "archive" else read_open_event(zf)
    except BaseException:
        zf.close()
        raise
    return data, zf


__all__ = ["FORMATS", "EventData", "detect_zip_format", "read_upload", "sniff_container"]
