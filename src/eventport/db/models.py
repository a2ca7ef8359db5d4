"""Imports every model so that metadata (Alembic, tests) sees all tables."""

from eventport.accounts.models import ApiToken, EventRole, Invitation, SignInFailure, User
from eventport.audit.models import AuditEntry
from eventport.backups.models import BackupPolicy
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
from eventport.webhooks.models import Webhook, WebhookDelivery

__all__ = [
    "ApiToken",
    "AuditEntry",
    "BackupPolicy",
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
    "Webhook",
    "WebhookDelivery",
]
