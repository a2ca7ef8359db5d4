"""jobs: exports record when their archive was verified; every job has a cancel flag

``export_jobs.verified_at``: an export is ``succeeded`` only after its stored object was
read back and checked (docs/DESIGN.md, *The archive*). ``import_jobs.cancel_requested``: the
cancel flag is part of the one job lifecycle (``eventport.job_lifecycle``).

Revision ID: 0003_proven_jobs
Revises: 0002_exports
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_proven_jobs"
down_revision: str | Sequence[str] | None = "0002_exports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_jobs") as batch:
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("cancel_requested", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("cancel_requested")
    with op.batch_alter_table("export_jobs") as batch:
        batch.drop_column("verified_at")
