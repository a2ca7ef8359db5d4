"""Storage outages during an export, over a TCP proxy cut between Eventport and a real S3
server (moto): the export either succeeds *complete and verified* or fails with the cause
— never a succeeded archive missing a file that exists — and no multipart upload is left
open on the server afterwards (issue 12, D1 and D2)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.events.demo import load_demo
from eventport.events.models import Event, MediaFile, ProgramSession
from eventport.exports import service
from eventport.storage import get_storage, open_storage, reset_storage_cache
from tests.storage.servers import BUCKET, Server, start_moto
from tests.support.proxy import CuttableProxy

VIDEO_BYTES = 24 * 1024 * 1024  # > 2 parts of 8 MiB: the archive is a real multipart upload


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite only: the subject is storage; the job code is the same on both databases."""
    return str(request.getfixturevalue("sqlite_database"))


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_moto(tmp_path_factory.mktemp("moto-outages"))
    yield server
    server.stop()


@dataclass
class S3Event:
    event_id: int
    prefix: str
    proxy: CuttableProxy
    media: int


def _client(moto: Server) -> object:
    return boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _open_uploads(moto: Server, prefix: str) -> list[str]:
    listed = _client(moto).list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)  # type: ignore[attr-defined]
    return [u["Key"] for u in listed.get("Uploads", [])]


@pytest.fixture
def s3_event(settings_env: None, db: Session, moto: Server, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[S3Event]:
    """The demo event with its media on S3, plus one 24 MiB video; Eventport's storage
    reaches S3 through a proxy the test can cut."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    prefix = f"outage-{uuid.uuid4().hex[:8]}"
    proxy = CuttableProxy(moto.port)
    monkeypatch.setenv("EVENTPORT_STORAGE_URL", f"s3://{BUCKET}/{prefix}?endpoint_url="
                       f"{proxy.endpoint}&region=us-east-1")
    get_settings.cache_clear()
    reset_storage_cache()
    event = load_demo(db, get_storage())
    assert event is not None
    video = os.urandom(VIDEO_BYTES)
    key = f"events/{event.id}/media/video/big.mp4"
    get_storage().put_stream(key, [video], content_type="video/mp4")
    talk = db.scalars(select(ProgramSession).where(ProgramSession.event_id == event.id)).first()
    assert talk is not None
    talk.video = MediaFile(event_id=event.id, kind="video", storage_key=key,
                           content_type="video/mp4", size=len(video),
                           sha256=hashlib.sha256(video).hexdigest(), original_filename="big.mp4")
    db.commit()
    media = len(db.scalars(select(MediaFile).where(MediaFile.event_id == event.id)).all())
    yield S3Event(event.id, prefix, proxy, media)
    proxy.close()
    reset_storage_cache()


def _export_with_outage(db: Session, s3: S3Event, outage: float) -> tuple[str | None, float]:
    """Run the export; cut the proxy for ``outage`` seconds once the media stage started."""
    event = db.get(Event, s3.event_id)
    user = db.scalars(select(User)).first()
    job, _ = service.request_export(db, event, user, "archive", None)  # type: ignore[arg-type]
    cut = threading.Event()

    def on_progress(stage: str, done: int, total: int) -> None:
        if stage == "media" and done > 9 * 1024 * 1024 and not cut.is_set():
            cut.set()
            s3.proxy.cut()
            threading.Timer(outage, s3.proxy.restore).start()

    started = time.monotonic()
    service.run_export(job.id, notify=False, on_progress=on_progress)
    assert cut.is_set(), "the outage never happened: the media stage was too short"
    db.expire_all()
    return job.id, time.monotonic() - started


def _check_complete(db: Session, s3: S3Event, job_id: str, tmp_path: Path) -> dict[str, object]:
    db.expire_all()
    job = service.get_job(db, job_id)
    data = b"".join(get_storage().open(job.storage_key))  # type: ignore[arg-type]
    assert hashlib.sha256(data).hexdigest() == job.sha256
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        media = [n for n in zf.namelist() if n.startswith("media/")]
    assert manifest["missing"] == [] and len(media) == s3.media
    return manifest


@pytest.mark.parametrize("outage", [2.0, 20.0])
def test_outage_in_the_media_stage_is_ridden_out(db: Session, s3_event: S3Event, moto: Server,
                                                 outage: float, tmp_path: Path) -> None:
    job_id, took = _export_with_outage(db, s3_event, outage)
    job = service.get_job(db, job_id)
    assert job.state == "succeeded", job.error
    assert job.verified_at is not None
    _check_complete(db, s3_event, job_id, tmp_path)
    assert _open_uploads(moto, s3_event.prefix) == []
    print(f"FAULT outage {outage:.0f}s in media stage: succeeded, verified, complete; "
          f"export took {took:.1f}s; open uploads 0")


def test_outage_longer_than_the_patience_fails_with_the_cause(
        db: Session, s3_event: S3Event, moto: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTPORT_STORAGE_RETRY_SECONDS", "4")
    get_settings.cache_clear()
    reset_storage_cache()
    job_id, took = _export_with_outage(db, s3_event, 15.0)
    job = service.get_job(db, job_id)
    assert job.state == "failed"
    assert "abort" not in (job.error or "").lower() and "DELETE" not in (job.error or "")
    assert any(word in (job.error or "") for word in ("reach", "refused", "connect", "reset"))
    time.sleep(max(0.0, 15.0 - took) + 1)  # the outage is over: nothing may be left
    direct = open_storage(f"s3://{BUCKET}/{s3_event.prefix}?endpoint_url={moto.endpoint}"
                          "&region=us-east-1")
    assert list(direct.list(f"events/{s3_event.event_id}/exports/")) == []
    assert _open_uploads(moto, s3_event.prefix) == []
    print(f"FAULT outage 15s > patience 4s: failed ({job.error}); open uploads 0")


def test_the_sweep_aborts_uploads_a_killed_process_left_and_orphan_import_uploads(
        db: Session, s3_event: S3Event, moto: Server) -> None:
    """What a SIGKILLed web process leaves (an open multipart upload of a media file, an
    import upload without its job row) is gone after the sweep; a live import's is kept."""
    import datetime as dt

    from eventport.imports.models import ImportJob
    from eventport.leftovers import sweep_leftovers

    client = _client(moto)
    media_key = f"{s3_event.prefix}/events/{s3_event.event_id}/media/images/cut.jpg"
    client.create_multipart_upload(Bucket=BUCKET, Key=media_key)  # type: ignore[attr-defined]
    storage = get_storage()
    storage.put_stream("imports/0123456789abcdef0123456789abcdef/upload", [b"PK orphan"])
    live = ImportJob(original_filename="x.zip", state="queued", warnings=[], result={},
                     options={})
    db.add(live)
    db.commit()
    storage.put_stream(f"imports/{live.id}/upload", [b"PK live"])
    assert _open_uploads(moto, s3_event.prefix) == [media_key]
    report = sweep_leftovers(db, storage, upload_max_age=dt.timedelta(0),
                             orphan_grace=dt.timedelta(0))
    assert report.failed == [] and report.uploads_aborted == 1
    assert report.objects_deleted == ["imports/0123456789abcdef0123456789abcdef/upload"]
    assert _open_uploads(moto, s3_event.prefix) == []
    assert storage.exists(f"imports/{live.id}/upload")
