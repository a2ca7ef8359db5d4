"""Fixtures for the web pages: people with and without roles, and signing in.

Page tests run through FastAPI's TestClient (no browser) on both databases; the browser
tests in ``test_browser.py`` start a real server and worker of their own (see
``live_server`` there).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.models import Role, User
from eventport.accounts.service import grant_role, hash_password
from eventport.events import service
from eventport.events.resources import RESOURCES

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
