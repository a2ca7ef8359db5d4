"""Feeds and job polling benchmark: p50/p99 latency against a real uvicorn server.

    .venv/bin/python bench/feeds.py [--talks 1000] [--requests 300]

1. Generates, in a temp dir (SQLite + local storage), a published public event with
   ``--talks`` accepted sessions and 600 speakers, an organizer with a bearer token and
   one export job of that event.
2. Starts ``uvicorn eventport.api.app:create_app`` (one process) and polls it over one
   keep-alive connection, one request at a time: each schedule feed plain and with
   ``If-None-Match`` (the ETag it got), and ``GET /api/v1/exports/{id}``.
3. Prints the first (cold, rendering) request per feed and p50/p99/max of the rest.

Target (issue 15): every feed and the job GET ≤ 50 ms p99 on an idle machine; a
conditional request costs no rendering. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FEEDS = ("ics", "xcs", "xml", "json")


def setup(root: Path, talks: int) -> tuple[str, str, str]:
    """Create the event, a token and a job; returns (identifier, token, job id)."""
    os.environ.update({
        "EVENTPORT_DATABASE_URL": f"sqlite:///{root}/bench.db",
        "EVENTPORT_STORAGE_URL": f"file://{root}/storage",
        "EVENTPORT_DATA_DIR": str(root / "data"),
        "EVENTPORT_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    })
    from sqlalchemy import select
    from tests.support.eventgen import generate_event

    from eventport.accounts.service import create_user, issue_token
    from eventport.db import session_scope
    from eventport.db.migrate import upgrade
    from eventport.events.models import Event, Microlocation, ProgramSession
    from eventport.exports import service
    from eventport.storage import get_storage

    upgrade()
    with session_scope() as db:
        owner = create_user(db, "bench@example.org", "bench-password")
        generated = generate_event(db, get_storage(), owner, name="Feeds Conf",
                                   sessions=talks, speakers=600)
        event = db.get(Event, generated.event_id)
        assert event is not None
        event.state, event.privacy = "published", "public"
        rooms = [Microlocation(event_id=event.id, name=f"Hall {n}") for n in range(8)]
        db.add_all(rooms)
        db.flush()
        sessions = db.scalars(select(ProgramSession).where(
            ProgramSession.event_id == event.id).order_by(ProgramSession.id)).all()
        for n, talk in enumerate(sessions):  # every talk scheduled in a room
            talk.microlocation_id = rooms[n % len(rooms)].id
        token, _ = issue_token(db, owner)
        job, _ = service.request_export(db, event, owner, "ical")
        return event.identifier, token, job.id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(root / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "eventport.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError((root / "server.log").read_text())


def timed(client: httpx.Client, url: str, n: int, headers: dict[str, str] | None = None,
          expect: int = 200) -> list[float]:
    """``n`` sequential requests; milliseconds each."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == expect, (url, response.status_code, response.text[:300])
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def row(name: str, times: list[float]) -> str:
    return (f"{name:<34}{statistics.median(times):>8.1f}{percentile(times, 0.99):>8.1f}"
            f"{max(times):>8.1f}{len(times):>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--talks", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="eventport-bench-feeds-"))
    server = None
    try:
        identifier, token, job_id = setup(root, args.talks)
        port = free_port()
        server = start_server(root, port)
        base = f"http://127.0.0.1:{port}"
        lines = []
        with httpx.Client(base_url=base, timeout=60) as client:
            for extension in FEEDS:
                url = f"/api/v1/events/{identifier}/schedule.{extension}"
                start = time.perf_counter()
                first = client.get(url)
                cold = (time.perf_counter() - start) * 1000
                assert first.status_code == 200, first.text[:300]
                lines.append(f"{'schedule.' + extension + ' (cold, renders)':<34}{cold:>8.1f}"
                             f"{'':>16}{1:>6}   {len(first.content) / 1e6:.2f} MB")
                lines.append(row(f"schedule.{extension}", timed(client, url, args.requests)))
                lines.append(row(f"schedule.{extension} If-None-Match",
                                 timed(client, url, args.requests,
                                       {"If-None-Match": first.headers["etag"]}, 304)))
            auth = {"Authorization": f"Bearer {token}"}
            timed(client, f"/api/v1/exports/{job_id}", 5, auth)
            lines.append(row("GET /api/v1/exports/{id}",
                             timed(client, f"/api/v1/exports/{job_id}", args.requests, auth)))
        print(f"{args.talks} talks; sequential requests over one keep-alive connection")
        print(f"{'request':<34}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'n':>6}")
        print("\n".join(lines))
        print("target: p99 <= 50 ms for every feed and the job GET (idle machine)")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
