"""Generate big events fast (bulk ORM inserts, random media streamed into storage).

Used by the multi-process export test and ``bench/export.py``; any package needing a
large event can use it. Media are incompressible random bytes — the worst case for an
archive and the honest case for throughput — recorded with their true size and SHA-256
exactly as an upload would be.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.events import service
from eventport.events.models import Event, MediaFile, ProgramSession, Speaker
from eventport.storage import Storage

CHUNK = 1024 * 1024


#: The first bytes of each generated media type, so the files sniff as what they claim
#: to be and an exported generated event can be imported again (bench/import.py).
MAGIC = {"image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
         "application/pdf": b"%PDF-1.4\n",
         "video/mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"}


def _random_stream(size: int, sha: hashlib._Hash, head: bytes = b"") -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = os.urandom(min(CHUNK, left))
        if head and left == size:
            chunk = (head + chunk[len(head):])[:len(chunk)]
        sha.update(chunk)
        left -= len(chunk)
        yield chunk


@dataclass
class GeneratedEvent:
    event_id: int
    media_bytes: int
    media_files: int


def _media(db: Session, storage: Storage, event_id: int, kind: str, folder: str,
           content_type: str, ext: str, size: int) -> MediaFile:
    sha = hashlib.sha256()
    key = f"events/{event_id}/media/{folder}/{secrets.token_hex(8)}-gen.{ext}"
    result = storage.put_stream(key, _random_stream(size, sha, MAGIC.get(content_type, b"")),
                                content_type=content_type)
    media = MediaFile(event_id=event_id, kind=kind, storage_key=key, content_type=content_type,
                      size=result.size, sha256=sha.hexdigest(), original_filename=f"gen.{ext}")
    db.add(media)
    return media


def generate_event(db: Session, storage: Storage, owner: User, *, name: str = "Big Event",
                   sessions: int = 100, speakers: int = 80, photo_bytes: int = 0,
                   video_files: int = 0, video_bytes: int = 0, slides_files: int = 0,
                   slides_bytes: int = 0) -> GeneratedEvent:
    """An event with ``sessions`` sessions, ``speakers`` speakers (each with a photo of
    ``photo_bytes`` if > 0) and some sessions with videos/slides; commits."""
    start = dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC)
    event: Event = service.create_event(db, owner, {
        "name": name, "starts_at": start, "ends_at": start + dt.timedelta(days=5),
        "timezone": "Europe/Berlin", "location_name": "Generated Hall"})
    total = count = 0
    people = []
    for i in range(speakers):
        speaker = Speaker(event_id=event.id, name=f"Speaker {i:05d}",
                          email=f"speaker{i}@example.org", organisation="Gen Org",
                          short_biography=("Speaks about generated things. " * 4).strip())
        if photo_bytes:
            speaker.photo = _media(db, storage, event.id, "image", "images", "image/jpeg",
                                   "jpg", photo_bytes)
            total, count = total + photo_bytes, count + 1
        people.append(speaker)
    db.add_all(people)
    rows = []
    for i in range(sessions):
        begins = start + dt.timedelta(minutes=30 * (i % 200), days=i // 200 % 5)
        row = ProgramSession(event_id=event.id, title=f"Session {i:05d}: generated talk",
                             short_abstract=("An abstract. " * 10).strip(), state="accepted",
                             starts_at=begins, ends_at=begins + dt.timedelta(minutes=25),
                             speakers=[people[i % len(people)]] if people else [])
        if i < video_files:
            row.video = _media(db, storage, event.id, "video", "video", "video/mp4", "mp4",
                               video_bytes)
            total, count = total + video_bytes, count + 1
        if i < slides_files:
            row.slides = _media(db, storage, event.id, "document", "documents",
                                "application/pdf", "pdf", slides_bytes)
            total, count = total + slides_bytes, count + 1
        rows.append(row)
    db.add_all(rows)
    db.commit()
    return GeneratedEvent(event.id, total, count)
