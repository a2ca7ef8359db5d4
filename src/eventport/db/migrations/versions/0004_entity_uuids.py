"""a uuid on the event and every program entity, unique on this server; import modes

docs/DESIGN.md *Identity*: the uuid travels with the entity through export and import, so
two servers (and two versions of one source) can tell "the same session". Existing rows
get a fresh uuid each; sessions already had one, but importing one archive twice could
duplicate it, so a duplicate keeps its uuid only on its oldest row (the others get a
fresh one) before the unique index is created.

Revision ID: 0004_uuids
Revises: 0003_proven_jobs
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_uuids"
down_revision: str | Sequence[str] | None = "0003_proven_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables that get a new uuid column (sessions have one since 0001).
NEW = ("events", "microlocations", "tracks", "session_types", "speakers", "sponsors",
       "social_links", "custom_form_fields")
ALL = (*NEW, "sessions")


def _fill(table: str) -> None:
    """Give every row without a uuid (and every duplicate but the first) a fresh one."""
    conn = op.get_bind()
    rows_table = sa.table(table, sa.column("id", sa.Integer), sa.column("uuid", sa.String))
    rows = conn.execute(sa.select(rows_table.c.id, rows_table.c.uuid)
                        .order_by(rows_table.c.id)).all()
    seen: set[str] = set()
    for row_id, value in rows:
        if value and value not in seen:
            seen.add(value)
            continue
        fresh = str(uuid.uuid4())
        seen.add(fresh)
        conn.execute(rows_table.update().where(rows_table.c.id == row_id)
                     .values(uuid=fresh))


def upgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=16), nullable=False,
                                   server_default="create"))
    for table in NEW:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
    for table in ALL:
        _fill(table)
    for table in ALL:
        with op.batch_alter_table(table) as batch:
            batch.alter_column("uuid", existing_type=sa.String(length=36), nullable=False)
            batch.create_index(f"ix_{table}_uuid", ["uuid"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("mode")
    for table in ALL:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_uuid")
    for table in NEW:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("uuid")
