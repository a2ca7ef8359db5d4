"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 14:35:37.661939
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import eventport.db.base

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("location_name", sa.String(length=300), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("logo_id", sa.Integer(), nullable=True),
        sa.Column("logo_url", sa.String(length=1000), nullable=False),
        sa.Column("background_id", sa.Integer(), nullable=True),
        sa.Column("background_url", sa.String(length=1000), nullable=False),
        sa.Column("owner_name", sa.String(length=300), nullable=False),
        sa.Column("owner_description", sa.Text(), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("external_url", sa.String(length=1000), nullable=False),
        sa.Column("ticket_url", sa.String(length=1000), nullable=False),
        sa.Column("privacy", sa.String(length=16), nullable=False),
        sa.Column("code_of_conduct", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_identifier"), ["identifier"], unique=True)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=True)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "custom_form_fields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=50), nullable=False),
        sa.Column("field_identifier", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("is_required", sa.Boolean(), nullable=False),
        sa.Column("is_included", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_custom_form_fields_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_form_fields")),
    )
    with op.batch_alter_table("custom_form_fields", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_custom_form_fields_event_id"), ["event_id"], unique=False
        )

    op.create_table(
        "event_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_roles_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_event_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_roles")),
        sa.UniqueConstraint("event_id", "user_id", name=op.f("uq_event_roles_event_id")),
    )
    with op.batch_alter_table("event_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_roles_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_roles_user_id"), ["user_id"], unique=False)

    op.create_table(
        "export_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("options_key", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress_stage", sa.String(length=50), nullable=False),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("celery_task_id", sa.String(length=64), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("expires_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_export_jobs_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_export_jobs_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_jobs_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_jobs_state"), ["state"], unique=False)

    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress_stage", sa.String(length=50), nullable=False),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("staging_key", sa.String(length=512), nullable=True),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("upload_size", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("celery_task_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_import_jobs_event_id_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_import_jobs_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_jobs_state"), ["state"], unique=False)

    op.create_table(
        "media_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_media_files_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_media_files_storage_key")),
    )
    with op.batch_alter_table("media_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_files_event_id"), ["event_id"], unique=False)

    # events <-> media_files reference each other: add the event's media keys last.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_events_logo_id_media_files"),
            "media_files",
            ["logo_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_events_background_id_media_files"),
            "media_files",
            ["background_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "microlocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_microlocations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_microlocations")),
    )
    with op.batch_alter_table("microlocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_microlocations_event_id"), ["event_id"], unique=False)

    op.create_table(
        "session_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_session_types_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_types")),
    )
    with op.batch_alter_table("session_types", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_types_event_id"), ["event_id"], unique=False)

    op.create_table(
        "social_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_social_links_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_links")),
    )
    with op.batch_alter_table("social_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_links_event_id"), ["event_id"], unique=False)

    op.create_table(
        "tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_tracks_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
    )
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracks_event_id"), ["event_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("subtitle", sa.String(length=500), nullable=False),
        sa.Column("short_abstract", sa.Text(), nullable=False),
        sa.Column("long_abstract", sa.Text(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.Column("starts_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", eventport.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("level", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("session_type_id", sa.Integer(), nullable=True),
        sa.Column("microlocation_id", sa.Integer(), nullable=True),
        sa.Column("slides_id", sa.Integer(), nullable=True),
        sa.Column("slides_url", sa.String(length=1000), nullable=False),
        sa.Column("audio_id", sa.Integer(), nullable=True),
        sa.Column("audio_url", sa.String(length=1000), nullable=False),
        sa.Column("video_id", sa.Integer(), nullable=True),
        sa.Column("video_url", sa.String(length=1000), nullable=False),
        sa.Column("is_featured", sa.Boolean(), nullable=False),
        sa.Column("created_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", eventport.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["audio_id"],
            ["media_files.id"],
            name=op.f("fk_sessions_audio_id_media_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_sessions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["microlocation_id"],
            ["microlocations.id"],
            name=op.f("fk_sessions_microlocation_id_microlocations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_type_id"],
            ["session_types.id"],
            name=op.f("fk_sessions_session_type_id_session_types"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["slides_id"],
            ["media_files.id"],
            name=op.f("fk_sessions_slides_id_media_files"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_sessions_track_id_tracks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"],
            ["media_files.id"],
            name=op.f("fk_sessions_video_id_media_files"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sessions_microlocation_id"), ["microlocation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sessions_track_id"), ["track_id"], unique=False)

    op.create_table(
        "speakers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("mobile", sa.String(length=50), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=True),
        sa.Column("photo_url", sa.String(length=1000), nullable=False),
        sa.Column("organisation", sa.String(length=300), nullable=False),
        sa.Column("position", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("short_biography", sa.Text(), nullable=False),
        sa.Column("long_biography", sa.Text(), nullable=False),
        sa.Column("website", sa.String(length=1000), nullable=False),
        sa.Column("twitter", sa.String(length=300), nullable=False),
        sa.Column("mastodon", sa.String(length=300), nullable=False),
        sa.Column("github", sa.String(length=300), nullable=False),
        sa.Column("linkedin", sa.String(length=300), nullable=False),
        sa.Column("facebook", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_speakers_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["media_files.id"],
            name=op.f("fk_speakers_photo_id_media_files"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speakers")),
    )
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_speakers_event_id"), ["event_id"], unique=False)

    op.create_table(
        "sponsors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("sponsor_type", sa.String(length=100), nullable=False),
        sa.Column("logo_id", sa.Integer(), nullable=True),
        sa.Column("logo_url", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_sponsors_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["logo_id"],
            ["media_files.id"],
            name=op.f("fk_sponsors_logo_id_media_files"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsors")),
    )
    with op.batch_alter_table("sponsors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sponsors_event_id"), ["event_id"], unique=False)

    op.create_table(
        "session_speakers",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("speaker_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_session_speakers_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["speaker_id"],
            ["speakers.id"],
            name=op.f("fk_session_speakers_speaker_id_speakers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "speaker_id", name=op.f("pk_session_speakers")),
    )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_events_logo_id_media_files"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_events_background_id_media_files"), type_="foreignkey"
        )
    op.drop_table("session_speakers")
    with op.batch_alter_table("sponsors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sponsors_event_id"))

    op.drop_table("sponsors")
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_speakers_event_id"))

    op.drop_table("speakers")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_track_id"))
        batch_op.drop_index(batch_op.f("ix_sessions_microlocation_id"))
        batch_op.drop_index(batch_op.f("ix_sessions_event_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("tracks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracks_event_id"))

    op.drop_table("tracks")
    with op.batch_alter_table("social_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_links_event_id"))

    op.drop_table("social_links")
    with op.batch_alter_table("session_types", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_types_event_id"))

    op.drop_table("session_types")
    with op.batch_alter_table("microlocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_microlocations_event_id"))

    op.drop_table("microlocations")
    with op.batch_alter_table("media_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_files_event_id"))

    op.drop_table("media_files")
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_jobs_state"))

    op.drop_table("import_jobs")
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_event_id"))

    op.drop_table("export_jobs")
    with op.batch_alter_table("event_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_roles_user_id"))
        batch_op.drop_index(batch_op.f("ix_event_roles_event_id"))

    op.drop_table("event_roles")
    with op.batch_alter_table("custom_form_fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_form_fields_event_id"))

    op.drop_table("custom_form_fields")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_email"))

    op.drop_table("users")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_identifier"))

    op.drop_table("events")
