"""Fixtures for export tests: a demo event with media, callers with roles, a mailbox per
test, and the real Celery worker from :mod:`tests.support.celery` (sending mail to it)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import socket
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.models import Role
from eventport.accounts.service import create_user, grant_role
from eventport.events.demo import load_demo
from eventport.storage import get_storage
from tests.support.celery import (  # noqa: F401 - fixtures
    celery_worker,
    start_broker_worker,
    wait_until,
    worker_pool,
)
from tests.support.redis import own_redis, own_redis_down  # noqa: F401 - fixtures

PASSWORD = "correct horse battery"


# ---------------------------------------------------------------------------- SMTP sink
#
# The session's Celery workers are started once (two seconds each) with one SMTP URL, so
# the SMTP server is per session too; what is per test is the *mailbox*: every test's
# export requester has an address of its own, and a test only ever reads the mails sent
# to it — never another test's, whatever ran before or beside it.


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    handler: _Handler
    url: str


@dataclass
class Mailbox:
    """One test's mailbox on the session's SMTP server: the mails sent to ``address``."""

    server: SmtpServer
    address: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def messages(self) -> list[EmailMessage]:
        return [m for m in self.server.handler.messages if m["To"] == self.address]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    handler = _Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer(handler, f"smtp://127.0.0.1:{port}")
    controller.stop()


@pytest.fixture
def smtp_sink(smtp_server: SmtpServer) -> Mailbox:
    """This test's own mailbox; the demo event's owner (the requester) receives there."""
    return Mailbox(smtp_server, f"owner-{uuid.uuid4().hex[:12]}@mail.example")


@pytest.fixture(scope="session")
def celery_worker_env(smtp_server: SmtpServer) -> dict[str, str]:
    """Workers of this package send their e-mail to the session's SMTP server."""
    return {"EVENTPORT_SMTP_URL": smtp_server.url}


@pytest.fixture
def storage_root(worker_pool) -> Path:  # noqa: F811
    """Every export test uses the storage its session's workers use, so data a fixture
    stores before the worker fixture runs is where the worker looks."""
    root = worker_pool.storage_root
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture(autouse=True)
def _no_fsync_in_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the demo fsyncs ~160 times (half its time); durability is the storage
    suite's subject, not ours. Workers (subprocesses) still fsync."""
    import os

    monkeypatch.setattr(os, "fsync", lambda fd: None)


# ------------------------------------------------------------------------------ callers


def login(client: TestClient, email_address: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token",
                           json={"email": email_address, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class DemoEvent:
    id: int
    identifier: str
    owner_email: str
    headers: dict[str, str]


@pytest.fixture
def demo_event(client: TestClient, db: Session, smtp_sink: Mailbox) -> DemoEvent:
    """The realistic demo event (48 sessions, photos, logos, slides) and the token of an
    owner whose address is this test's own mailbox (:func:`smtp_sink`)."""
    event = load_demo(db, get_storage())
    assert event is not None
    create_user(db, smtp_sink.address, PASSWORD)
    grant_role(db, event.id, smtp_sink.address, Role.OWNER)
    db.commit()
    return DemoEvent(event.id, event.identifier, smtp_sink.address,
                     login(client, smtp_sink.address))


@pytest.fixture
def caller(client: TestClient, db: Session, demo_event: DemoEvent):
    """``caller(email, role or None)`` → auth headers of a new user (None: no role)."""

    def make(address: str, role: Role | None = None) -> dict[str, str]:
        create_user(db, address, PASSWORD)
        if role is not None:
            grant_role(db, demo_event.id, address, role)
        db.commit()
        return login(client, address)

    return make


# ------------------------------------------------------------------------------ archive


def verify_archive(data: bytes, tmp_path: Path | None = None) -> dict[str, Any]:
    """Check a zip with ``unzip -t`` and against its manifest; returns the manifest."""
    if tmp_path is not None:
        path = tmp_path / f"check-{hashlib.sha256(data).hexdigest()[:8]}.zip"
        path.write_bytes(data)
        result = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names[-1] == "manifest.json", "manifest must be written last"
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["format"] == "eventport-archive" and manifest["version"] == 2
        listed = {f["path"]: f for f in manifest["files"]}
        assert sorted(listed) == sorted(names[:-1])
        for name in names[:-1]:
            content = zf.read(name)
            assert listed[name]["size"] == len(content), name
            assert listed[name]["sha256"] == hashlib.sha256(content).hexdigest(), name
    return manifest
