"""workspace: named API tokens, invitations, sign-in throttling, export site address

Named API tokens (``name``, ``kind``, ``last_used_at``) so a person can list and revoke
them; invitations to an event by e-mail; failed sign-ins counted in the database so
several web processes share the limit; and the address an export was requested through,
for the links in its e-mail when no base URL is configured.

Revision ID: 0007_workspace
Revises: 0006_backups
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from eventport.db.base import UTCDateTime

revision: str = "0007_workspace"
down_revision: str | Sequence[str] | None = "0006_backups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("name", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="login"))
        batch.add_column(sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("export_jobs") as batch:
        batch.add_column(sa.Column("site_url", sa.String(300), nullable=True))
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.Integer(),
                  sa.ForeignKey("events.id", ondelete="CASCADE",
                                name="fk_invitations_event_id_events"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("invited_by_id", sa.Integer(),
                  sa.ForeignKey("users.id", ondelete="SET NULL",
                                name="fk_invitations_invited_by_id_users"), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_invitations_event_id", "invitations", ["event_id"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
    )
    for column in ("email", "client", "at"):
        op.create_index(f"ix_sign_in_failures_{column}", "sign_in_failures", [column])


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("invitations")
    with op.batch_alter_table("export_jobs") as batch:
        batch.drop_column("site_url")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("kind")
        batch.drop_column("name")
