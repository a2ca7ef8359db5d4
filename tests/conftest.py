"""Shared fixtures: every database test runs on SQLite and on the running PostgreSQL.

Each database is created once per test session (per xdist worker) and migrated with
Alembic — the same path production takes; between tests every table is emptied.
PostgreSQL databases get a unique name and are dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from eventport import db as dbmod
from eventport.config import get_settings
from eventport.db import make_engine
from eventport.db.migrate import upgrade
from eventport.db.models import Base
from eventport.storage import reset_storage_cache

PG_ADMIN_URL = os.environ.get("EVENTPORT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped afterwards)."""
    name = f"eventport_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "eventport.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over both databases."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_database"))
    return str(request.getfixturevalue("sqlite_database"))


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def storage_root(tmp_path: Path) -> Path:
    root = tmp_path / "storage"
    root.mkdir()
    return root


@pytest.fixture
def settings_env(
    database_url: str, storage_root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """Points the settings at the test database and a fresh local storage root."""
    monkeypatch.setenv("EVENTPORT_DATABASE_URL", database_url)
    monkeypatch.setenv("EVENTPORT_STORAGE_URL", f"file://{storage_root}")
    monkeypatch.setenv("EVENTPORT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("EVENTPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EVENTPORT_BASE_URL", "http://testserver")
    monkeypatch.delenv("EVENTPORT_SMTP_URL", raising=False)
    get_settings.cache_clear()
    dbmod.reset_caches()
    reset_storage_cache()
    _empty_all_tables(dbmod.get_engine())
    yield
    dbmod.get_engine().dispose()
    get_settings.cache_clear()
    dbmod.reset_caches()
    reset_storage_cache()


@pytest.fixture
def db(settings_env: None) -> Iterator[Session]:
    session = dbmod.get_sessionmaker()()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def client(settings_env: None) -> Iterator[TestClient]:
    from eventport.api.app import create_app

    with TestClient(create_app()) as test_client:
        yield test_client
