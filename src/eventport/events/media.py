"""Uploading, serving and replacing program media through the storage layer.

The content type is sniffed from the first bytes (``filetype``), never taken from the
client, and must suit the slot: a renamed ``.exe`` is not a speaker photo. Bytes are
streamed to storage with a hard size limit; the old object is deleted only after the
new one is safely stored and the database row committed (the caller discards it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO

import filetype
from sqlalchemy.orm import Session

from eventport.errors import InvalidInput
from eventport.events.models import Event, MediaFile
from eventport.events.resources import (
    ACCEPTED_TYPES,
    KIND_DIRS,
    MediaSlot,
)
from eventport.naming import slugify, unique_prefix
from eventport.storage import Storage
from eventport.streams import chunks_of, limited, read_head

SNIFF_BYTES = 8192


def sniff(head: bytes) -> str | None:
    kind = filetype.guess(head)
    return kind.mime if kind is not None else None


def _accepted_type(head: bytes, slot: MediaSlot) -> str:
    """The sniffed content type of an upload's first bytes, if ``slot`` accepts it."""
    if not head:
        raise InvalidInput("the uploaded file is empty")
    content_type = sniff(head)
    accepted = ACCEPTED_TYPES[slot.kind]
    if content_type not in accepted:
        raise InvalidInput(
            f"{slot.name}: the file's content is {content_type or 'of an unknown type'}, "
            f"not an accepted {slot.kind.value} ({', '.join(accepted)})"
        )
    return content_type


def _names(event: Event, slot: MediaSlot, filename: str, content_type: str) -> tuple[str, str]:
    """The storage key and the download filename for an upload called ``filename``.

    The extension follows the sniffed content, never the client's name: a PNG uploaded
    as "logo.html" is stored (and downloaded) as .png.
    """
    stem, _, client_ext = filename.rpartition(".")
    detected = filetype.get_type(mime=content_type)
    ext = detected.extension if detected else "bin"
    if not stem:
        stem = client_ext
    key = (f"events/{event.id}/media/{KIND_DIRS[slot.kind]}/"
           f"{unique_prefix()}-{slugify(stem or filename, 40)}.{ext}")
    return key, f"{slugify(stem or filename, 60)}.{ext}"


def _attach(db: Session, storage: Storage, row: Any, slot: MediaSlot,
            media: MediaFile) -> str | None:
    """Put ``media`` in ``slot``, deleting the old row; the stored object goes on failure."""
    old: MediaFile | None = getattr(row, slot.name)
    db.add(media)
    try:
        db.flush()
        setattr(row, slot.name, media)
        old_key = None
        if old is not None:
            old_key = old.storage_key
            db.delete(old)
        db.flush()
    except Exception:
        storage.delete(media.storage_key)
        raise
    return old_key


def store_media(
    db: Session,
    storage: Storage,
    event: Event,
    row: Any,
    slot: MediaSlot,
    upload: Iterable[bytes] | BinaryIO,
    filename: str,
    max_bytes: int,
) -> tuple[MediaFile, str | None]:
    """Store an upload in ``slot`` of ``row``; returns the new file and the old key to discard.

    ``upload`` is consumed as a stream: the first bytes decide the type, the rest go
    straight to storage, and more than ``max_bytes`` aborts the write.
    """
    chunks = chunks_of(upload)
    head = read_head(chunks, SNIFF_BYTES)
    content_type = _accepted_type(head, slot)
    key, download_name = _names(event, slot, filename, content_type)
    result = storage.put_stream(key, limited(head, chunks, max_bytes),
                                content_type=content_type, filename=download_name)
    media = MediaFile(
        event_id=event.id,
        kind=slot.kind.value,
        storage_key=key,
        content_type=content_type,
        size=result.size,
        sha256=result.sha256,
        original_filename=filename[:255],
    )
    return media, _attach(db, storage, row, slot, media)


def remove_media(db: Session, row: Any, slot: MediaSlot) -> str | None:
    """Detach and delete the file in ``slot``; returns its key to discard after commit."""
    media: MediaFile | None = getattr(row, slot.name)
    if media is None:
        return None
    setattr(row, slot.name, None)
    db.delete(media)
    db.flush()
    return media.storage_key
