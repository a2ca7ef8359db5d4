"""Readers: one per import format, registered once, each turning an upload into
:class:`EventData`.

The registry (:data:`READERS`: identifier, label, container, detect, read) is what the
API, the web page, the CLI and the OpenAPI description enumerate, as the exporter
registry is for exports. The format is decided once, here: taken from the request, or
detected from the first bytes (zip, XML, JSON) and, for zips, from the names inside.

Readers are pure (the design's rule): they read the upload they are handed and do no
database or network I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from eventport.events.archive_layout import MANIFEST
from eventport.events.resources import PROGRAM
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData
from eventport.imports.readers.archive import probe_archive, read_archive
from eventport.imports.readers.frab_json import probe_frab_json, read_frab_json
from eventport.imports.readers.frab_xml import probe_frab_xml, read_frab_xml
from eventport.imports.readers.open_event import (
    locate_documents,
    probe_open_event,
    read_open_event,
)
from eventport.imports.safezip import SafeZip, ZipLimits
from eventport.naming import derived_uuid


@dataclass(frozen=True)
class Reader:
    identifier: str
    label: str
    container: str  # "zip", "xml" or "json": what the first bytes must be
    detect: Callable[[Any], bool]  # zips: given the SafeZip; others: always True
    #: (zips: the SafeZip, others: the file's bytes; the zone for a source naming none)
    read: Callable[[Any, str | None], EventData]
    #: The event uuid, cheaply: the uuid itself, or the event alone (no program, no
    #: media) for :func:`assign_uuids` to complete. The 409 of a ``create`` import.
    probe: Callable[[Any], EventData | str]


READERS: dict[str, Reader] = {reader.identifier: reader for reader in (
    Reader("archive", "Eventport archive (.zip)", "zip", lambda zf: MANIFEST in zf,
           read_archive, probe_archive),
    Reader("open-event", "Open Event export (.zip)", "zip",
           lambda zf: locate_documents(zf) is not None, read_open_event, probe_open_event),
    Reader("frab-xml", "frab / Pentabarf schedule.xml", "xml", lambda _: True, read_frab_xml,
           probe_frab_xml),
    Reader("frab-json", "frab / pretalx schedule.json", "json", lambda _: True,
           read_frab_json, probe_frab_json),
)}
FORMATS = tuple(READERS)


def sniff_container(head: bytes) -> str | None:
    """``"zip"``, ``"xml"``, ``"json"`` or ``"age"`` (an encrypted archive, see
    imports/encrypted.py) from the first bytes, or None."""
    if head.startswith(b"age-encryption.org/v1\n"):
        return "age"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "xml"
    if text.startswith(b"{"):
        return "json"
    return None


def check_format(fmt: str | None) -> str | None:
    if fmt is not None and fmt not in READERS:
        raise ImportRefused(f"unknown import format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return fmt


def check_container(fmt: str | None, container: str | None) -> None:
    """Refuse an upload whose first bytes cannot be the (named or any) format."""
    if container is not None and (fmt is None or READERS[fmt].container == container):
        return
    if container == "age" and fmt is not None and READERS[fmt].container == "zip":
        return  # decrypted before it is read (imports/encrypted.py)
    expected = {"zip": "a zip", "xml": "an XML file", "json": "a JSON file"}
    what = expected[READERS[fmt].container] if fmt else "a zip, XML or JSON file"
    raise ImportRefused(f"the upload is not {what}")


def detect_zip_format(zf: SafeZip) -> str:
    for reader in READERS.values():
        if reader.container == "zip" and reader.detect(zf):
            return reader.identifier
    raise ImportRefused("the zip is neither an Eventport archive (no manifest.json) nor an "
                        "Open Event export (no 'event' document)")


def assign_uuids(data: EventData) -> EventData:
    """Every entity the source gave no uuid gets one derived from the source's identity
    (format, conference, kind, the source's own id): re-reading the same source — or its
    next version — gives the same uuids, so an import can update instead of duplicate."""
    name = data.event.values.get("name")
    conference = data.identifier or name or "event"
    if data.event.uuid is None:
        data.event.uuid = derived_uuid(data.format, conference, "event")
    for resource in PROGRAM:
        for item in data.items[resource.name]:
            if item.uuid is None:
                item.uuid = derived_uuid(data.format, conference, resource.name, item.source_id)
    return data


def _open_source(file: IO[bytes], fmt: str | None, limits: ZipLimits | None
                 ) -> tuple[Reader, bytes | SafeZip]:
    """The reader for the upload and what it reads: the document's bytes, or an open
    :class:`SafeZip` (the caller closes it)."""
    check_format(fmt)
    head = file.read(512)
    file.seek(0)
    container = sniff_container(head)
    check_container(fmt, container)
    if container == "age":
        raise ImportRefused("this archive is encrypted (age): import it with its secret key "
                            "(the identity field of POST /api/v1/imports)")
    if container != "zip":
        limit = (limits or ZipLimits()).max_document_bytes
        content = file.read(limit + 1)
        if len(content) > limit:
            raise ImportRefused(f"the {container} file is larger than {limit} bytes")
        name = fmt or next(r for r in READERS if READERS[r].container == container)
        return READERS[name], content
    zf = SafeZip(file, limits)
    try:
        return READERS[fmt or detect_zip_format(zf)], zf
    except BaseException:
        zf.close()
        raise


def read_upload(file: IO[bytes], fmt: str | None, limits: ZipLimits | None = None,
                zone: str | None = None) -> tuple[EventData, SafeZip | None]:
    """Read an upload; for zips the open :class:`SafeZip` comes back to stream media from.

    Every entity of the result has a uuid (the source's, or one derived from it).
    ``zone`` (an IANA name) is the time zone of a source that names none; a source that
    names one keeps it, and a warning says so when it differs."""
    reader, source = _open_source(file, fmt, limits)
    if not isinstance(source, SafeZip):
        return assign_uuids(reader.read(source, zone)), None
    try:
        data = reader.read(source, zone)
    except BaseException:
        source.close()
        raise
    return assign_uuids(data), source


def probe_upload(file: IO[bytes], fmt: str | None, limits: ZipLimits | None = None) -> str:
    """The uuid the upload's event will have, read as little as the format allows: an
    archive's manifest.json and event.json, an Open Event event document, a frab file's
    conference. Raises :class:`ImportRefused` as :func:`read_upload` would."""
    reader, source = _open_source(file, fmt, limits)
    try:
        found = reader.probe(source)
    finally:
        if isinstance(source, SafeZip):
            source.close()
    if isinstance(found, str):
        return found
    return str(assign_uuids(found).event.uuid)


__all__ = ["FORMATS", "READERS", "EventData", "Reader", "check_container", "check_format",
           "detect_zip_format", "probe_upload", "read_upload", "sniff_container"]
