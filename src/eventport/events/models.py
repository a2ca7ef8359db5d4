"""The program of an event: the rows every export is made of.

Media live in storage; a :class:`MediaFile` row records where, and what the bytes are
(kind, content type sniffed from the bytes, size, SHA-256). Entities point at their
uploaded file (``photo_id``) and may also carry an external link (``photo_url``) — an
Open Event import or a recording on a video site is a link, never fetched.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eventport.db.base import Base, UTCDateTime, utcnow
from eventport.naming import new_uuid


class EventState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Privacy(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class SessionState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class MediaKind(enum.StrEnum):
    IMAGE = "image"
    DOCUMENT = "document"
    AUDIO = "audio"
    VIDEO = "video"


def uuid_column() -> Mapped[str]:
    """The entity's identity across servers (docs/DESIGN.md *Identity*): set at creation,
    never changed by an edit, kept by export and import; unique on this server."""
    return mapped_column(String(36), default=new_uuid, unique=True, index=True)


class MediaFile(Base):
    __tablename__ = "media_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    identifier: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    location_name: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    logo_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    logo_url: Mapped[str] = mapped_column(String(1000), default="")
    background_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    background_url: Mapped[str] = mapped_column(String(1000), default="")
    owner_name: Mapped[str] = mapped_column(String(300), default="")
    owner_description: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    external_url: Mapped[str] = mapped_column(String(1000), default="")
    ticket_url: Mapped[str] = mapped_column(String(1000), default="")
    privacy: Mapped[str] = mapped_column(String(16), default=Privacy.PUBLIC.value)
    code_of_conduct: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default=EventState.DRAFT.value)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    logo: Mapped[MediaFile | None] = relationship(foreign_keys=[logo_id], post_update=True)
    background: Mapped[MediaFile | None] = relationship(
        foreign_keys=[background_id], post_update=True
    )


class Microlocation(Base):
    """A room (or stage, or hall) sessions take place in."""

    __tablename__ = "microlocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    floor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)


class Track(Base):
    __tablename__ = "tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(7), default="#4a90d9")


class SessionType(Base):
    __tablename__ = "session_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    length: Mapped[int] = mapped_column(Integer, default=30)  # minutes


session_speakers = Table(
    "session_speakers",
    Base.metadata,
    Column("session_id", ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("speaker_id", ForeignKey("speakers.id", ondelete="CASCADE"), primary_key=True),
)


class Speaker(Base):
    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    mobile: Mapped[str] = mapped_column(String(50), default="")
    photo_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL"), nullable=True
    )
    photo_url: Mapped[str] = mapped_column(String(1000), default="")
    organisation: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[str] = mapped_column(String(300), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    short_biography: Mapped[str] = mapped_column(Text, default="")
    long_biography: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(1000), default="")
    twitter: Mapped[str] = mapped_column(String(300), default="")
    mastodon: Mapped[str] = mapped_column(String(300), default="")
    github: Mapped[str] = mapped_column(String(300), default="")
    linkedin: Mapped[str] = mapped_column(String(300), default="")
    facebook: Mapped[str] = mapped_column(String(300), default="")

    photo: Mapped[MediaFile | None] = relationship(foreign_keys=[photo_id])


class ProgramSession(Base):
    """A talk, workshop or any other slot of the program (``sessions`` in the API)."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    uuid: Mapped[str] = uuid_column()
    title: Mapped[str] = mapped_column(String(500))
    subtitle: Mapped[str] = mapped_column(String(500), default="")
    short_abstract: Mapped[str] = mapped_column(Text, default="")
    long_abstract: Mapped[str] = mapped_column(Text, default="")
    comments: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    language: Mapped[str] = mapped_column(String(35), default="")
    level: Mapped[str] = mapped_column(String(50), default="")
    state: Mapped[str] = mapped_column(String(16), default=SessionState.DRAFT.value)
    track_id: Mapped[int | None] = mapped_column(
        ForeignKey("tracks.id", ondelete="SET NULL"), nullable=True, index=True
    )
    session_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("session_types.id", ondelete="SET NULL"), nullable=True
    )
    microlocation_id: Mapped[int | None] = mapped_column(
        ForeignKey("microlocations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    slides_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL"), nullable=True
    )
    slides_url: Mapped[str] = mapped_column(String(1000), default="")
    audio_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL"), nullable=True
    )
    audio_url: Mapped[str] = mapped_column(String(1000), default="")
    video_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL"), nullable=True
    )
    video_url: Mapped[str] = mapped_column(String(1000), default="")
    is_featured: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    track: Mapped[Track | None] = relationship()
    session_type: Mapped[SessionType | None] = relationship()
    microlocation: Mapped[Microlocation | None] = relationship()
    speakers: Mapped[list[Speaker]] = relationship(
        secondary=session_speakers, order_by=Speaker.id, backref="sessions"
    )
    slides: Mapped[MediaFile | None] = relationship(foreign_keys=[slides_id])
    audio: Mapped[MediaFile | None] = relationship(foreign_keys=[audio_id])
    video: Mapped[MediaFile | None] = relationship(foreign_keys=[video_id])


class Sponsor(Base):
    __tablename__ = "sponsors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    level: Mapped[int] = mapped_column(Integer, default=0)
    sponsor_type: Mapped[str] = mapped_column(String(100), default="")
    logo_id: Mapped[int | None] = mapped_column(
        ForeignKey("media_files.id", ondelete="SET NULL"), nullable=True
    )
    logo_url: Mapped[str] = mapped_column(String(1000), default="")

    logo: Mapped[MediaFile | None] = relationship(foreign_keys=[logo_id])


class SocialLink(Base):
    __tablename__ = "social_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    link: Mapped[str] = mapped_column(String(1000))


class CustomFormField(Base):
    """One field of a call-for-papers or speaker form, and whether it is asked/required."""

    __tablename__ = "custom_form_fields"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = uuid_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    form: Mapped[str] = mapped_column(String(50))
    field_identifier: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(50), default="text")
    is_required: Mapped[bool] = mapped_column(Boolean, default=False)
    is_included: Mapped[bool] = mapped_column(Boolean, default=False)
