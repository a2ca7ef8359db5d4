"""Input PostgreSQL or the process cannot take is refused at the door (issue 12, D4/D7/D8),
on SQLite and PostgreSQL: NUL bytes are 422 everywhere, big bodies 413 before they are
read, stalled bodies 408, deep JSON 422 — never a 500."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from eventport.api import guard
from tests.api.conftest import EVENT_BODY, Caller
from tests.storage.servers import free_port, wait_for_port

NUL = "a\x00b"


def test_nul_bytes_are_422_in_path_query_body_and_form(client: TestClient, owner: Caller,
                                                       event: dict) -> None:
    h = owner.headers
    eid = event["id"]
    probes = [
        ("POST", "/api/v1/auth/token", {"json": {"email": NUL, "password": NUL}}, {}),
        ("POST", "/api/v1/events", {"json": {**EVENT_BODY, "name": NUL}}, h),
        ("PATCH", f"/api/v1/events/{eid}", {"json": {"name": NUL}}, h),
        ("POST", f"/api/v1/events/{eid}/tracks", {"json": {"name": NUL}}, h),
        ("POST", f"/api/v1/events/{eid}/sessions", {"json": {"title": NUL}}, h),
        ("POST", f"/api/v1/events/{eid}/roles", {"json": {"email": NUL, "role": "organizer"}},
         h),
        ("GET", "/api/v1/exports/a%00b", {}, h),
        ("POST", "/api/v1/exports/a%00b/cancel", {}, h),
        ("GET", "/api/v1/imports/a%00b", {}, h),
        ("GET", f"/api/v1/events/{eid}/sessions", {"params": {"q": NUL}}, h),
        ("GET", "/api/v1/events", {"params": {"page": NUL}}, h),
        ("POST", "/login", {"data": {"email": NUL, "password": NUL}}, {}),
    ]
    for method, url, kwargs, headers in probes:
        response = client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == 422, (method, url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_deep_json_is_a_clear_422(client: TestClient, owner: Caller) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/events", content=body, headers={
        **owner.headers, "content-type": "application/json"})
    assert response.status_code == 422 and "nested deeper" in response.json()["detail"]
    assert guard.json_depth(b'{"a": "[[[[", "b": [[1]]}') == 3


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def live_server(settings_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app over real HTTP (uvicorn in a thread), stall timeout shortened to 2 s."""
    from eventport.api.app import create_app

    monkeypatch.setattr(guard, "BODY_TIMEOUT", 2.0)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, None)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_200_mb_unauthenticated_body_is_refused_without_memory(live_server: str) -> None:
    chunk = os.urandom(1024 * 1024)

    def body() -> Iterator[bytes]:
        for _ in range(200):
            yield chunk

    before = _rss_kb()
    with httpx.Client(timeout=60) as http:
        try:
            streamed = http.post(f"{live_server}/api/v1/auth/token", content=body(),
                                 headers={"content-type": "application/json"})
            status = streamed.status_code
        except (httpx.RemoteProtocolError, httpx.WriteError):
            status = 413  # the server answered and closed while the client still sent
    grew_mb = (_rss_kb() - before) / 1024
    port = int(live_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 209715200\r\n\r\n{")
        assert b" 413 " in sock.recv(4096).split(b"\r\n", 1)[0]  # refused before reading
    print(f"200 MB unauthenticated body: {status}, RSS growth {grew_mb:.1f} MB")
    assert status == 413
    assert grew_mb < 20


def test_a_stalled_body_times_out(live_server: str) -> None:
    port = int(live_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        answer = sock.recv(4096)
    assert b" 408 " in answer.split(b"\r\n", 1)[0], answer[:200]
    assert time.monotonic() - started < 8
