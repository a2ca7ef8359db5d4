"""Engine and session factory, built from the settings once per process.

SQLite gets WAL and a busy timeout so the web server and the embedded worker can share
one file; PostgreSQL uses a small pool with pre-ping so a restarted server is survived.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from eventport.config import get_settings
from eventport.db.base import Base, UTCDateTime, utcnow

__all__ = ["Base", "UTCDateTime", "get_engine", "get_sessionmaker", "session_scope", "utcnow"]


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


@functools.cache
def get_engine(url: str | None = None) -> Engine:
    return make_engine(url or get_settings().database_url)


@functools.cache
def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    """Sessions over every table: a foreign key (an export's backup policy, say) can only be
    flushed once the model it points at is mapped, whichever command imported what."""
    import eventport.db.models  # noqa: F401  (registers every model's table)

    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any exception."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_caches() -> None:
    """Forget engines built from old settings (tests switch databases)."""
    get_sessionmaker.cache_clear()
    get_engine.cache_clear()
