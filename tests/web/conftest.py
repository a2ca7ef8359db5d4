"""Fixtures for the web pages: people with and without roles, and signing in.

Page tests run through FastAPI's TestClient (no browser) on both databases; the browser
tests in ``test_browser.py`` start a real server and worker of their own (see
``live_server`` there).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.models import Role, User
from eventport.accounts.service import grant_role, hash_password
from eventport.events import service
from eventport.events.resources import RESOURCES
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, DESKTOP

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD,
            next: str = "/events") -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/signin")
    assert page.status_code == 200
    response = client.post("/signin", data={
        "email": email, "password": password, "csrf_token": csrf_from(page.text),
        "next": next}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/events").text)


@functools.cache
def _password_hash() -> str:
    """Argon2 is slow on purpose; hash the shared test password once per process."""
    return hash_password(PASSWORD)


def add_user(db: Session, email: str) -> User:
    user = User(email=email, name="", password_hash=_password_hash())
    db.add(user)
    db.flush()
    return user


@dataclass
class World:
    event_id: int
    owner: str
    coorganizer: str
    stranger: str


@pytest.fixture
def world(db: Session) -> World:
    """An event with a small program; an owner, a coorganizer and a stranger."""
    owner = add_user(db, "owner@example.org")
    add_user(db, "coorg@example.org")
    add_user(db, "stranger@example.org")
    start = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
    event = service.create_event(db, owner, {
        "name": "Web Test Con", "starts_at": start, "ends_at": start + dt.timedelta(days=1),
        "timezone": "Europe/Berlin", "location_name": "Hall <B>",
    })
    room = service.create_item(db, RESOURCES["microlocations"], event, {"name": "Room Ada"})
    service.create_item(db, RESOURCES["sessions"], event, {
        "title": "Streaming <archives>", "starts_at": start + dt.timedelta(hours=1),
        "ends_at": start + dt.timedelta(hours=2), "microlocation_id": room.id})
    service.create_item(db, RESOURCES["sessions"], event, {"title": "Unscheduled idea"})
    grant_role(db, event.id, "coorg@example.org", Role.COORGANIZER)
    db.commit()
    return World(event.id, "owner@example.org", "coorg@example.org", "stranger@example.org")


# ------------------------------------------------------------------ browser fixtures


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/system-deps.sh` (installs "
                    "Debian's chromium); Playwright must not download a browser")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, live_server) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    """Opens pages in fresh browser contexts; fails the test on any console error,
    page error or failed request (``allow`` lists expected console texts)."""
    contexts = []
    problems: list[str] = []

    def make(viewport: dict[str, int] = DESKTOP, allow: tuple[str, ...] = ()) -> object:
        context = browser.new_context(viewport=viewport, accept_downloads=True,  # type: ignore[attr-defined]
                                      base_url=live_server.url)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()

        def on_console(message) -> None:  # type: ignore[no-untyped-def]
            if message.type == "error" and not any(a in message.text for a in allow):
                problems.append(f"console error on {page.url}: {message.text}")

        def on_failed(request) -> None:  # type: ignore[no-untyped-def]
            failure = request.failure or ""
            if "ERR_ABORTED" not in failure:  # downloads and navigations away abort
                problems.append(f"request failed on {page.url}: {request.url} {failure}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"page error on {page.url}: {error}"))
        page.on("requestfailed", on_failed)
        return page

    yield make
    for context in contexts:
        context.close()
    if problems:
        pytest.fail("browser reported errors:\n" + "\n".join(problems)
                    + "\n" + live_server.log_tails())
