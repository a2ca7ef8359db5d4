"""Users and tokens for API tests: an owner with an event, and other roles on it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.models import Role
from eventport.accounts.service import create_user, grant_role

PASSWORD = "correct horse battery"


@dataclass
class Caller:
    email: str
    headers: dict[str, str]


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def new_caller(client: TestClient, db: Session):
    def make(email: str) -> Caller:
        create_user(db, email, PASSWORD)
        db.commit()
        return Caller(email, login(client, email))

    return make


@pytest.fixture
def owner(new_caller) -> Caller:
    return new_caller("owner@example.org")


EVENT_BODY = {
    "name": "PyCon Test",
    "starts_at": "2026-03-27T09:00:00",
    "ends_at": "2026-03-30T18:00:00",
    "timezone": "Europe/Berlin",
    "location_name": "Messe Berlin",
}


@pytest.fixture
def event(client: TestClient, owner: Caller) -> dict:
    response = client.post("/api/v1/events", json=EVENT_BODY, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def with_role(client: TestClient, db: Session, new_caller, event: dict):
    def make(email: str, role: Role) -> Caller:
        caller = new_caller(email)
        grant_role(db, event["id"], email, role)
        db.commit()
        return caller

    return make
