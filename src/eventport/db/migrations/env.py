"""Alembic environment: the database URL comes from Eventport's settings (or the caller)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from eventport.db import get_engine
from eventport.db.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or None
    with get_engine(url).connect() as conn:
        run_migrations(conn)
        conn.commit()
