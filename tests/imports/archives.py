"""Hand-made Eventport archives (no database): a valid base to break in hostile tests."""

from __future__ import annotations

import hashlib
import json
import zipfile
from typing import Any

from tests.imports.conftest import MP3, PDF, jpeg, zip_bytes

DOCS = ("sessions", "speakers", "tracks", "session_types", "microlocations", "sponsors",
        "social_links", "forms")


def base_documents() -> dict[str, Any]:
    return {
        "event": {"id": 7, "identifier": "hand-made", "name": "Hand made",
                  "starts_at": "2026-01-10T09:00:00+01:00",
                  "ends_at": "2026-01-11T18:00:00+01:00", "timezone": "Europe/Berlin",
                  "logo": None, "background": None},
        "tracks": [{"id": 4, "name": "Main"}],
        "microlocations": [{"id": 2, "name": "Room"}],
        "session_types": [{"id": 3, "name": "Talk", "length": 30}],
        "speakers": [{"id": 9, "name": "Ada", "photo": "media/images/speakers/9-ada.jpg",
                      "session_ids": [11]}],
        "sessions": [{"id": 11, "title": "Hello", "track_id": 4, "microlocation_id": 2,
                      "session_type_id": 3, "speaker_ids": [9],
                      "starts_at": "2026-01-10T10:00:00+01:00",
                      "ends_at": "2026-01-10T10:30:00+01:00",
                      "slides": "media/documents/sessions/11-hello-slides.pdf",
                      "audio": "media/audio/sessions/11-hello-audio.mp3", "video": None,
                      "uuid": "6f1c1d7e-6c1e-4f55-9d0b-7f3a9a1d2b3c"}],
        "sponsors": [], "social_links": [], "forms": [],
    }


def base_media() -> dict[str, bytes]:
    return {"media/images/speakers/9-ada.jpg": jpeg(),
            "media/documents/sessions/11-hello-slides.pdf": PDF,
            "media/audio/sessions/11-hello-audio.mp3": MP3}


def make_archive(documents: dict[str, Any] | None = None, media: dict[str, bytes] | None = None,
                 *, manifest_patch: dict[str, Any] | None = None,
                 tamper: dict[str, bytes] | None = None, drop: tuple[str, ...] = (),
                 extra: list[tuple[str | zipfile.ZipInfo, bytes]] | None = None) -> bytes:
    """A v1 archive; ``tamper`` replaces bytes *after* hashing (manifest stays old)."""
    documents = base_documents() if documents is None else documents
    media = base_media() if media is None else media
    files: list[tuple[str, bytes]] = [
        (f"{name}.json", json.dumps(doc).encode()) for name, doc in documents.items()
    ]
    files += sorted(media.items())
    files = [(n, d) for n, d in files if n not in drop]
    manifest: dict[str, Any] = {
        "format": "eventport-archive", "version": 1, "generator": "tests",
        "files": [{"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest(),
                   "content_type": "application/octet-stream"} for n, d in files],
    }
    manifest.update(manifest_patch or {})
    tamper = tamper or {}
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [
        (n, tamper.get(n, d)) for n, d in files]
    entries += extra or []
    entries.append(("manifest.json", json.dumps(manifest).encode()))
    return zip_bytes(entries)


__all__ = ["DOCS", "PDF", "base_documents", "base_media", "make_archive"]
