"""Imports through the real job service on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from typing import Any

import pytest
import xmlschema
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import EventRole, User
from eventport.events.models import Event, ProgramSession
from eventport.exports.registry import ExportContext, get_exporter
from eventport.exports.snapshot import take_snapshot
from eventport.storage import Storage
from tests.imports.archives import base_documents, make_archive
from tests.imports.conftest import (
    DATA,
    MP3,
    SCHEDULES,
    export_archive,
    open_event_zip,
    row_counts,
    run,
    stored_keys,
)
from tests.imports.test_hostile import BILLION_LAUGHS, hash_mismatch, truncated


def _documents(archive: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON documents of an archive and its media paths -> SHA-256."""
    import json

    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        docs = {n[:-5]: json.loads(zf.read(n)) for n in zf.namelist()
                if n.endswith(".json") and "/" not in n and n != "manifest.json"}
    return docs, {f["path"]: f["sha256"] for f in manifest["files"]
                  if f["path"].startswith("media/")}


def test_round_trip_archive_on_one_server(db: Session, storage: Storage, owner: User,
                                          full_event: Event) -> None:
    """Same server: ``create`` is refused (the event is here), ``copy`` makes a twin."""
    first = export_archive(db, storage, full_event.id)
    refused = run(db, storage, owner, first, filename="conf.zip")
    assert refused.state == "failed"
    assert "'round-trip-conf'" in str(refused.error) and "mode=update" in str(refused.error)
    job = run(db, storage, owner, first, filename="conf.zip", mode="copy")
    assert job.state == "succeeded", job.error
    assert job.event_id and job.event_id != full_event.id
    # The identifier was taken (same server), so a new one was given and reported.
    assert any("identifier" in w for w in job.warnings)
    second = export_archive(db, storage, job.event_id)
    docs1, media1 = _documents(first)
    docs2, media2 = _documents(second)
    uuids1 = {d["uuid"] for docs in docs1.values() for d in (docs if isinstance(docs, list)
                                                                else [docs])}
    uuids2 = {d["uuid"] for docs in docs2.values() for d in (docs if isinstance(docs, list)
                                                                else [docs])}
    assert len(uuids1) == len(uuids2) == 12 and not uuids1 & uuids2  # a copy: fresh uuids
    assert {k: len(v) for k, v in docs1.items() if isinstance(v, list)} == {
        k: len(v) for k, v in docs2.items() if isinstance(v, list)}
    assert sorted(media1.values()) == sorted(media2.values()) and len(media1) == 7
    role = db.scalar(select(EventRole).where(EventRole.event_id == job.event_id))
    assert role is not None and role.user_id == owner.id and role.role == "owner"
    # Staging area gone; every media row's object exists.
    assert not [k for k in stored_keys(storage) if k.startswith("imports/")]


def test_dry_run_counts_and_writes_nothing(db: Session, storage: Storage, owner: User,
                                           full_event: Event) -> None:
    archive = export_archive(db, storage, full_event.id)
    before, keys = row_counts(db), stored_keys(storage)
    job = run(db, storage, owner, archive, dry_run=True, mode="copy")
    assert job.state == "succeeded", job.error
    assert job.result["counts"]["sessions"] == 2 and job.result["counts"]["media"] == 7
    assert job.result["media_bytes"] > 0
    assert job.event_id is None
    # Nothing written but the kept upload, for POST /imports/{id}/apply (imports/kept.py).
    assert row_counts(db) == before
    assert stored_keys(storage) == keys | {f"imports/{job.id}/upload"} == keys | {
        job.staging_key}


def _media_type_mismatch() -> bytes:
    media = {"media/images/speakers/9-ada.jpg": b"MZ\x90\x00" + b"\0" * 300,
             "media/documents/sessions/11-hello-slides.pdf": b"%PDF-1.4\n",
             "media/audio/sessions/11-hello-audio.mp3": MP3}
    return make_archive(media=media)


def _dangling() -> bytes:
    docs = base_documents()
    docs["sessions"][0]["speaker_ids"] = [9, 77]
    return make_archive(docs)


@pytest.mark.parametrize(("builder", "message"), [
    (_media_type_mismatch, "not an accepted image"),
    (hash_mismatch, "does not match manifest.json"),
    (truncated, "truncated"),
    (_dangling, "sessions.json entry 1: speaker 77 does not exist"),
    (lambda: BILLION_LAUGHS, "DTD or entities"),
])
def test_refused_import_leaves_nothing(db: Session, storage: Storage, owner: User,
                                       builder: Any, message: str) -> None:
    before, keys = row_counts(db), stored_keys(storage)
    job = run(db, storage, owner, builder())
    assert job.state == "failed"
    assert message in (job.error or "")
    assert row_counts(db) == before
    assert stored_keys(storage) == keys


def test_failure_inside_the_transaction_rolls_everything_back(
        db: Session, storage: Storage, owner: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row the service layer refuses late (after media were staged) undoes it all."""
    from eventport.events import service as events

    real = events.check_period

    def flaky(starts_at: Any, ends_at: Any, what: str) -> None:
        # The session rule is checked as the rows are written (bulk insert, after the
        # event, its media rows and the speakers are already in the transaction).
        if what == "session":
            raise events.InvalidInput("ends_at is before starts_at")
        real(starts_at, ends_at, what)

    monkeypatch.setattr(events, "check_period", flaky)
    before, keys = row_counts(db), stored_keys(storage)
    job = run(db, storage, owner, make_archive())
    assert job.state == "failed"
    assert job.error == "sessions.json entry 1: ends_at is before starts_at"
    assert row_counts(db) == before and stored_keys(storage) == keys


def test_fossasia_imports_and_reexports_valid_schedule(db: Session, storage: Storage,
                                                       owner: User) -> None:
    job = run(db, storage, owner, open_event_zip(), filename="FOSSASIASummit2016.zip")
    assert job.state == "succeeded", job.error
    counts = row_counts(db)
    assert (counts["sessions"], counts["speakers"], counts["tracks"],
            counts["microlocations"], counts["sponsors"]) == (491, 187, 18, 17, 11)
    talk = db.scalar(select(ProgramSession).where(ProgramSession.event_id == job.event_id,
                                                  ProgramSession.title == "Grand Opening"))
    assert talk is not None and talk.track and talk.microlocation and talk.session_type
    assert [s.name for s in talk.speakers] == ["Hong Phuc Dang"]
    _assert_valid_schedule(db, job.event_id)


def _assert_valid_schedule(db: Session, event_id: int | None) -> None:
    assert event_id is not None
    snapshot = take_snapshot(db, event_id)
    xml = get_exporter("pentabarf")().render(snapshot, ExportContext())
    schema = xmlschema.XMLSchema(str(DATA / "voc-schedule" / "xsd" / "schedule.xml.xsd"))
    schema.validate(xml.decode())


@pytest.mark.parametrize("name", ["fosdem-2007-schedule.xml",
                                  "pretalx-fixture-frab_schedule_minimal_2.xml"])
def test_frab_imports_and_reexports_valid_schedule(db: Session, storage: Storage, owner: User,
                                                   name: str) -> None:
    raw = (SCHEDULES / name).read_bytes()
    job = run(db, storage, owner, raw, filename=name)
    assert job.state == "succeeded", job.error
    if name.startswith("fosdem"):
        counts = row_counts(db)
        assert (counts["sessions"], counts["speakers"]) == (215, 244)  # distinct person ids
    _assert_valid_schedule(db, job.event_id)


def test_two_imports_at_once_do_not_interfere(db: Session, storage: Storage, owner: User,
                                              full_event: Event) -> None:
    from eventport.imports import service

    archive = export_archive(db, storage, full_event.id)
    other = make_archive()
    jobs = []
    for data in (archive, other):
        job = service.create_import_job(db, storage, owner, io.BytesIO(data), "x.zip",
                                        mode="copy")
        jobs.append(job.id)
    db.commit()
    threads = [threading.Thread(target=service.run_import, args=(job_id,),
                                kwargs={"storage": storage}) for job_id in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    db.expire_all()
    results = [db.get(service.ImportJob, job_id) for job_id in jobs]
    assert [j.state for j in results if j] == ["succeeded", "succeeded"], [
        j.error for j in results if j]
    a, b = (db.get(Event, j.event_id) for j in results if j)
    assert a and b and a.id != b.id
    counts = {e.id: len(take_snapshot(db, e.id).media) for e in (a, b)}
    assert counts == {a.id: 7, b.id: 3}
    for event in (a, b):
        for entry in take_snapshot(db, event.id).media:
            digest = hashlib.sha256(b"".join(storage.open(entry.storage_key))).hexdigest()
            assert digest == entry.sha256


def test_hostile_identifier_in_an_archive_is_refused(db: Session, storage: Storage,
                                                     owner: User) -> None:
    """An identifier ends up in URLs, file names and headers: a crafted one is refused."""
    documents = base_documents()
    documents["event"]["identifier"] = 'evil"; filename="x.html\r\nX-Injected: 1'
    before, keys = row_counts(db), stored_keys(storage)
    job = run(db, storage, owner, make_archive(documents))
    assert job.state == "failed"
    assert "event.json: identifier" in (job.error or "")
    assert row_counts(db) == before
    assert stored_keys(storage) == keys
