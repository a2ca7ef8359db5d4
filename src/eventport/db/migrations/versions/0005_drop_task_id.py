"""jobs: drop ``celery_task_id`` — the job row, not Celery, is the source of truth

The column was written nowhere: tasks are sent by name with the job id, a redelivery is
settled by the attempt fence (``eventport.job_lifecycle``), and a stale job is found by
its heartbeat, so nothing ever needed Celery's own task id.

Plain ``ALTER TABLE … DROP COLUMN`` on both databases (SQLite has it since 3.35): a batch
table copy on SQLite would have to rebuild the partial unique index of 0002 by hand.

Revision ID: 0005_drop_task_id
Revises: 0004_uuids
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_drop_task_id"
down_revision: str | Sequence[str] | None = "0004_uuids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("export_jobs", "import_jobs")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN celery_task_id")


def downgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("celery_task_id", sa.String(length=64), nullable=True))
