"""Fixtures for backups, webhooks and the audit log: the API callers of tests/api, the
demo event, SMTP sink and real Celery worker of tests/exports, and a webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.api.conftest import event, new_caller, owner, with_role  # noqa: F401
from tests.exports.conftest import (  # noqa: F401
    _no_fsync_in_test_process,
    caller,
    celery_worker_env,
    demo_event,
    smtp_server,
    smtp_sink,
    storage_root,
)
from tests.support.celery import celery_worker, start_broker_worker, worker_pool  # noqa: F401


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering with ``statuses`` in turn (then 200)."""

    secret: str
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    redirect_to: str | None = None

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            expected = "sha256=" + hmac.new(receiver.secret.encode(), body,
                                            hashlib.sha256).hexdigest()
            given = self.headers.get("x-eventport-signature", "")
            receiver.received.append(Received(dict(self.headers), body,
                                              hmac.compare_digest(expected, given)))
            if receiver.redirect_to:
                self.send_response(307)
                self.send_header("Location", receiver.redirect_to)
            else:
                self.send_response(receiver.answer())
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver(secret="receiver-secret-0123456789")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


def payload(received: Received) -> dict[str, Any]:
    return json.loads(received.body)
