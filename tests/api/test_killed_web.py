"""A real ``eventport web`` process SIGKILLed while it streams a media upload into S3
(moto) — issue 12: nothing may stay stored after the sweep. The killed process cannot
abort its multipart upload; the media row is never committed; the sweep aborts the upload
once it is older than :data:`eventport.leftovers.UPLOAD_MAX_AGE` (one day).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from eventport.accounts.service import create_user
from eventport.db import utcnow
from eventport.events.models import Event
from eventport.leftovers import UPLOAD_MAX_AGE, sweep_leftovers
from eventport.storage import get_storage
from tests.api.conftest import EVENT_BODY, PASSWORD
from tests.storage.servers import free_port, wait_for_port
from tests.support.celery import wait_until
from tests.support.cloud import Cloud, serve_storage

BOUNDARY = "eventport-killed-web"
SENT_BEFORE_KILL = 20 * 1024 * 1024  # two full 8 MiB parts: a real multipart upload


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite: the subject is the web process and storage, not the database."""
    return str(request.getfixturevalue("sqlite_database"))


@pytest.fixture
def s3(tmp_path: Path, settings_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    yield from serve_storage("s3", tmp_path / "s3", monkeypatch, "kw")


def _body(stop: threading.Event) -> Iterator[bytes]:
    """A multipart form whose file never ends: 20 MiB of a "JPEG", then it waits."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"logo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    yield b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(1024 * 1024 - 11)
    for _ in range(SENT_BEFORE_KILL // (1024 * 1024) - 1):
        yield os.urandom(1024 * 1024)
    stop.wait(60)


def _upload_until_killed(base: str, headers: dict[str, str], event_id: int,
                         stop: threading.Event) -> threading.Thread:
    def send() -> None:
        try:
            httpx.put(f"{base}/api/v1/events/{event_id}/logo", content=_body(stop),
                      headers={**headers, "Content-Type":
                               f"multipart/form-data; boundary={BOUNDARY}"}, timeout=60)
        except httpx.HTTPError:
            pass  # the server died under it: expected

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_web_process_killed_mid_media_upload_leaves_nothing_after_the_sweep(
        s3: Cloud, db: Session, tmp_path: Path) -> None:
    port = free_port()
    create_user(db, "kw@example.org", PASSWORD)
    db.commit()
    with open(tmp_path / "web.log", "wb") as log:
        web = subprocess.Popen([sys.executable, "-m", "eventport.cli", "web", "--port",
                                str(port)], env=dict(os.environ), stdout=log,
                               stderr=subprocess.STDOUT)
    stop = threading.Event()
    try:
        wait_for_port(port, web)
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{base}/api/v1/auth/token", json={
            "email": "kw@example.org", "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        event_id = httpx.post(f"{base}/api/v1/events", json=EVENT_BODY,
                              headers=headers).json()["id"]
        sender = _upload_until_killed(base, headers, event_id, stop)
        prefix = urlprefix(s3)
        open_before = wait_until(lambda: s3.open_uploads(prefix) or None, 30, 0.05,
                                 "the media upload to open on S3")
        killed_at = time.monotonic()
        web.send_signal(signal.SIGKILL)  # no abort, no rollback, no atexit
        web.wait(10)
    finally:
        stop.set()
        if web.poll() is None:
            web.kill()
            web.wait(10)
    sender.join(10)
    _check_after_kill(s3, db, event_id, prefix, open_before, killed_at, tmp_path)


def urlprefix(_: Cloud) -> str:
    """The key prefix Eventport's storage URL points at."""
    url = os.environ["EVENTPORT_STORAGE_URL"]
    return url.split("?", 1)[0].split("/", 3)[3]


def _check_after_kill(s3: Cloud, db: Session, event_id: int, prefix: str,
                      open_before: list[str], killed_at: float, tmp_path: Path) -> None:
    db.expire_all()
    event = db.get(Event, event_id)
    assert event is not None and event.logo is None, "a media row without its object"
    storage = get_storage()
    assert list(storage.list(f"events/{event_id}/")) == [], "a half-written media object"
    assert open_before and all("/media/" in key for key in open_before), open_before
    assert s3.open_uploads(prefix) == open_before
    # The sweep aborts uploads older than a day; moto reports every upload as initiated on
    # 2010-11-10, so the age rule cannot be seen here: the sweep runs as a day later would.
    later = utcnow() + UPLOAD_MAX_AGE + dt.timedelta(minutes=1)
    report = sweep_leftovers(db, storage, now=later)
    assert report.failed == [] and report.uploads_aborted == len(open_before)
    assert s3.open_uploads(prefix) == []
    assert list(storage.list("")) == []
    print(f"FAULT | s3: web SIGKILLed mid media upload ({SENT_BEFORE_KILL >> 20} MiB sent) | "
          f"request lost, no media row | nothing stored after the sweep | "
          f"{len(open_before)} after the kill, 0 after the sweep (which waits until the "
          f"upload is {UPLOAD_MAX_AGE.days} day old) | "
          f"{time.monotonic() - killed_at:.1f}s to sweep")
