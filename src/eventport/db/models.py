"""Imports every model so that metadata (Alembic, tests) sees all tables."""

from eventport.accounts.models import ApiToken, EventRole, Invitation, SignInFailure, User
from eventport.db.base import Base
from eventport.events.models import (
    CustomFormField,
    Event,
    MediaFile,
    Microlocation,
    ProgramSession,
    SessionType,
    SocialLink,
    Speaker,
    Sponsor,
    Track,
)
from eventport.exports.models import ExportJob
from eventport.imports.models import ImportJob

__all__ = [
    "ApiToken",
    "Base",
    "CustomFormField",
    "Event",
    "EventRole",
    "ExportJob",
    "ImportJob",
    "Invitation",
    "MediaFile",
    "Microlocation",
    "ProgramSession",
    "SessionType",
    "SignInFailure",
    "SocialLink",
    "Speaker",
    "Sponsor",
    "Track",
    "User",
]
