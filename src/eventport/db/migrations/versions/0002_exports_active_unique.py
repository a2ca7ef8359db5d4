"""exports: at most one active job per (event, format, options)

The API deduplicates identical export requests; this partial unique index makes that
hold under concurrent requests too (two web processes, two clicks): the second insert
fails and the service returns the job that won.

Revision ID: 0002_exports
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_exports"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = sa.text("state IN ('queued', 'running')")


def upgrade() -> None:
    op.create_index(
        "uq_export_jobs_active",
        "export_jobs",
        ["event_id", "format", "options_key"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_export_jobs_active", table_name="export_jobs")
