"""Identity that survives a move: two servers (own database, own storage), archives that
are byte-identical after a round trip, and updates that change exactly what changed."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from eventport.accounts.models import User
from eventport.accounts.service import create_user
from eventport.db import make_engine
from eventport.db.migrate import upgrade
from eventport.events import service as events
from eventport.events.media import store_media
from eventport.events.models import Event, MediaFile, ProgramSession, Speaker
from eventport.events.resources import RESOURCES
from eventport.storage import Storage, open_storage
from tests.conftest import PG_ADMIN_URL, _pg_url
from tests.imports.conftest import PDF, export_archive, jpeg, run


@dataclass
class Server:
    """A second Eventport: its own database and its own storage directory."""

    sessions: sessionmaker[Session]
    storage: Storage
    owner: User
    db: Session


@pytest.fixture
def server_b(database_url: str, tmp_path: Path, db: Session) -> Iterator[Server]:
    if database_url.startswith("postgresql"):
        name = f"eventport_b_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    else:
        name, url = "", f"sqlite:///{tmp_path / 'server-b.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    (tmp_path / "b-storage").mkdir()
    session = sessions()
    owner = create_user(session, "b-owner@example.org", "correct horse battery")
    session.commit()
    yield Server(sessions, open_storage(f"file://{tmp_path / 'b-storage'}"), owner, session)
    session.close()
    engine.dispose()
    if name:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_on(server: Server, archive: bytes, **kwargs: object) -> int:
    job = run(server.db, server.storage, server.owner, archive, sessions=server.sessions,
              **kwargs)  # type: ignore[arg-type]
    assert job.state == "succeeded", job.error
    assert job.event_id is not None
    return job.event_id


def test_export_import_export_on_two_servers_gives_the_same_bytes(
        db: Session, storage: Storage, full_event: Event, server_b: Server) -> None:
    first = export_archive(db, storage, full_event.id)
    assert sha(export_archive(db, storage, full_event.id)) == sha(first)  # deterministic
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert (manifest["format"], manifest["version"]) == ("eventport-archive", 2)
    assert manifest["event"] == {"id": full_event.uuid, "uuid": full_event.uuid,  # DESIGN
                                 "identifier": full_event.identifier, "name": full_event.name}
    event_b = import_on(server_b, first, filename="conf.zip")
    again = export_archive(server_b.db, server_b.storage, event_b)
    assert sha(again) == sha(first)
    imported = server_b.db.get(Event, event_b)
    assert imported is not None and imported.uuid == full_event.uuid
    assert len(server_b.db.scalars(select(MediaFile)).all()) == 7


def _change_a(db: Session, storage: Storage, event: Event) -> dict[str, str]:
    """Rename a session, move it to another room, delete a speaker, add a session with
    slides, replace a photo; returns the uuids involved."""
    talk = db.scalar(select(ProgramSession).where(ProgramSession.title == "Engines"))
    assert talk is not None
    rooms = {r.name: r for r in db.scalars(select(RESOURCES["microlocations"].model))}
    events.update_item(db, RESOURCES["sessions"], event, talk,
                       {"title": "Engines, revised", "microlocation_id": rooms["Room B"].id})
    grace = db.scalar(select(Speaker).where(Speaker.name == "Grace Hopper"))
    ada = db.scalar(select(Speaker).where(Speaker.name == "Ada Lovelace"))
    assert grace is not None and ada is not None
    gone = grace.uuid
    idea = db.scalar(select(ProgramSession).where(ProgramSession.title == "Unscheduled idea"))
    assert idea is not None
    events.delete_item(db, RESOURCES["speakers"], grace)
    new = events.create_item(db, RESOURCES["sessions"], event, RESOURCES["sessions"].fields
                             .model_validate({"title": "Late addition",
                                              "speaker_ids": [ada.id]}).model_dump())
    store_media(db, storage, event, new, RESOURCES["sessions"].media_slot("slides"),
                io.BytesIO(PDF + b"new"), "late.pdf", 10**8)
    store_media(db, storage, event, ada, RESOURCES["speakers"].media_slot("photo"),
                io.BytesIO(jpeg((0, 200, 0))), "ada-new.jpg", 10**8)
    db.commit()
    return {"talk": talk.uuid, "grace": gone, "new": new.uuid, "ada": ada.uuid,
            "idea": idea.uuid}


def test_update_plans_exactly_the_changes_and_then_nothing(
        db: Session, storage: Storage, full_event: Event, server_b: Server) -> None:
    event_b = import_on(server_b, export_archive(db, storage, full_event.id))
    changed = _change_a(db, storage, full_event)
    archive = export_archive(db, storage, full_event.id)

    dry = run(server_b.db, server_b.storage, server_b.owner, archive, mode="update",
              event_id=event_b, dry_run=True, sessions=server_b.sessions)
    assert dry.state == "succeeded", dry.error
    plan = dry.result["plan"]
    changes = {(c["kind"], c["uuid"]): (c["action"], c["fields"]) for c in plan["changes"]}
    assert changes == {
        ("sessions", changed["talk"]): ("updated", ["microlocation_id", "speaker_ids",
                                                    "title"]),
        ("speakers", changed["grace"]): ("deleted", []),
        ("sessions", changed["idea"]): ("updated", ["speaker_ids"]),  # lost its speaker
        ("sessions", changed["new"]): ("created", []),
        ("speakers", changed["ada"]): ("updated", ["photo"]),
    }
    assert plan["created"] == {"sessions": 1} and plan["deleted"] == {"speakers": 1}
    assert plan["updated"] == {"sessions": 2, "speakers": 1}
    # Only the new slides and the new photo are read out of the upload.
    assert dry.result["media_bytes"] == len(PDF + b"new") + len(jpeg((0, 200, 0)))

    import_on(server_b, archive, mode="update", event_id=event_b)
    server_b.db.expire_all()
    assert sha(export_archive(server_b.db, server_b.storage, event_b)) == sha(archive)

    again = run(server_b.db, server_b.storage, server_b.owner, archive, mode="update",
                event_id=event_b, sessions=server_b.sessions)
    assert again.state == "succeeded", again.error
    assert again.result["plan"]["changes"] == [] and again.result["media_bytes"] == 0
    assert again.result["plan"]["unchanged"]["sessions"] == 3


def test_uuids_are_in_every_get_and_survive_an_edit(client, db: Session, owner: User,  # type: ignore[no-untyped-def]
                                                     full_event: Event) -> None:
    from eventport.accounts.service import issue_token

    token, _ = issue_token(db, owner)
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    event = client.get(f"/api/v1/events/{full_event.id}", headers=headers).json()
    assert event["uuid"] == full_event.uuid
    for name in RESOURCES:
        items = client.get(f"/api/v1/events/{full_event.id}/{name}", headers=headers).json()
        rows = items["items"] if isinstance(items, dict) else items
        assert rows and all(uuid.UUID(row["uuid"]) for row in rows), name
    track = client.get(f"/api/v1/events/{full_event.id}/tracks", headers=headers).json()
    first = (track["items"] if isinstance(track, dict) else track)[0]
    patched = client.patch(f"/api/v1/events/{full_event.id}/tracks/{first['id']}",
                           headers=headers, json={"name": "Renamed", "uuid": str(uuid.uuid4())})
    assert patched.json().get("uuid", first["uuid"]) == first["uuid"]
