"""Fixtures for import tests: an owner, a full event with every media kind, and helpers
to export it with the real archive exporter and to run an import synchronously."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.accounts.service import create_user
from eventport.db import get_sessionmaker
from eventport.events import service as events
from eventport.events.media import store_media
from eventport.events.models import Event, MediaFile
from eventport.events.resources import EVENT, RESOURCES
from eventport.exports.registry import ExportContext, get_exporter
from eventport.exports.snapshot import take_snapshot
from eventport.imports import service
from eventport.imports.models import ImportJob
from eventport.storage import Storage, get_storage
from tests.sample_data import DATA
from tests.storage.conftest import (  # noqa: F401 (fixtures: imports on object stores)
    azurite_server,
    download_server,
    gcs_server,
    make_storage,
    moto_server,
    service_account_file,
    storage_env,
)

FOSSASIA = DATA / "open-event" / "FOSSASIASummit2016"
SCHEDULES = DATA / "schedules"


def jpeg(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(out, "JPEG")
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 90, 200)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n" + b"slides " * 300 + b"\n%%EOF\n"
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 40
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 60


@pytest.fixture
def storage(settings_env: None) -> Storage:
    return get_storage()


@pytest.fixture
def owner(db: Session) -> User:
    user = create_user(db, "importer@example.org", "correct horse battery")
    db.commit()
    return user


def build_full_event(db: Session, storage: Storage, owner: User) -> Event:
    """An event with every entity, every relation and every media kind."""
    event = events.create_event(db, owner, EVENT.fields.model_validate({
        "name": "Round Trip Conf", "identifier": "round-trip-conf",
        "description": "All of it", "starts_at": "2026-05-04T09:00:00",
        "ends_at": "2026-05-06T18:00:00", "timezone": "Europe/Berlin",
        "location_name": "Hall 1", "latitude": 52.5, "longitude": 13.4,
        "contact_email": "team@example.org", "external_url": "https://example.org/",
        "background_url": "https://example.org/bg.jpg", "state": "published",
    }).model_dump())

    def make(name: str, data: dict[str, Any]) -> Any:
        resource = RESOURCES[name]
        return events.create_item(db, resource, event,
                                  resource.fields.model_validate(data).model_dump())

    room = make("microlocations", {"name": "Main Hall", "floor": 1, "position": 2})
    make("microlocations", {"name": "Room B"})
    track = make("tracks", {"name": "Engineering", "color": "#112233", "description": "x"})
    kind = make("session-types", {"name": "Talk", "length": 45})
    ada = make("speakers", {"name": "Ada Lovelace", "email": "ada@example.org",
                            "website": "https://ada.example.org/", "twitter": "@ada"})
    grace = make("speakers", {"name": "Grace Hopper", "photo_url": "https://x.org/g.jpg"})
    talk = make("sessions", {
        "title": "Engines", "starts_at": "2026-05-04T10:00:00",
        "ends_at": "2026-05-04T10:45:00", "state": "confirmed", "track_id": track.id,
        "session_type_id": kind.id, "microlocation_id": room.id,
        "speaker_ids": [ada.id, grace.id], "video_url": "https://video.example.org/1",
        "language": "en", "is_featured": True})
    make("sessions", {"title": "Unscheduled idea", "speaker_ids": [grace.id]})
    sponsor = make("sponsors", {"name": "Acme", "level": 2, "sponsor_type": "Gold",
                                "url": "https://acme.example.org/"})
    make("social-links", {"name": "Mastodon", "link": "https://social.example.org/@conf"})
    make("forms", {"form": "session", "field_identifier": "title", "is_required": True,
                   "is_included": True})
    limit = 10**8
    for row, slot, data, name in (
        (event, "logo", png(), "logo.png"), (event, "background", jpeg((1, 2, 3)), "bg.jpg"),
        (ada, "photo", jpeg(), "ada.jpg"), (sponsor, "logo", jpeg((9, 9, 9)), "acme.jpg"),
        (talk, "slides", PDF, "engines.pdf"), (talk, "audio", MP3, "engines.mp3"),
        (talk, "video", MP4, "engines.mp4"),
    ):
        resource = EVENT if row is event else next(
            r for r in RESOURCES.values() if isinstance(row, r.model))
        store_media(db, storage, event, row, resource.media_slot(slot), io.BytesIO(data),
                    name, limit)
    db.commit()
    return event


@pytest.fixture
def full_event(db: Session, storage: Storage, owner: User) -> Event:
    return build_full_event(db, storage, owner)


def export_archive(db: Session, storage: Storage, event_id: int) -> bytes:
    db.expire_all()
    snapshot = take_snapshot(db, event_id)
    out = io.BytesIO()
    ctx = ExportContext(options={}, open_media=lambda key: storage.open(key))
    get_exporter("archive")().write(snapshot, out, ctx)
    return out.getvalue()


def run(db: Session, storage: Storage, user: User, data: bytes, *, fmt: str | None = None,
        dry_run: bool = False, filename: str = "upload", mode: str = "create",
        event_id: int | None = None, sessions: Any = None) -> ImportJob:
    """Create the job as the API does and run it synchronously (as the task would)."""
    job = service.create_import_job(db, storage, user, io.BytesIO(data), filename,
                                    format=fmt, dry_run=dry_run, mode=mode, event_id=event_id)
    db.commit()
    service.run_import(job.id, storage=storage, sessions=sessions)
    db.expire_all()
    fresh = db.get(ImportJob, job.id)
    assert fresh is not None
    return fresh


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]],
              compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return out.getvalue()


def open_event_zip(folder: Path = FOSSASIA, extensionless: bool = True,
                   extra: list[tuple[str, bytes]] | None = None) -> bytes:
    entries = [((p.stem if extensionless else p.name), p.read_bytes())
               for p in sorted(folder.iterdir())]
    return zip_bytes(entries + (extra or []))


def row_counts(db: Session) -> dict[str, int]:
    counts = {"events": db.scalar(select(func.count()).select_from(Event)) or 0,
              "media": db.scalar(select(func.count()).select_from(MediaFile)) or 0}
    for name, resource in RESOURCES.items():
        counts[name] = db.scalar(select(func.count()).select_from(resource.model)) or 0
    return counts


def stored_keys(storage: Storage) -> set[str]:
    return {info.key for info in storage.list("")}


Sessions = Callable[[], Session]


@pytest.fixture
def sessions(settings_env: None) -> Sessions:
    return get_sessionmaker()
