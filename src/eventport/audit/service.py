"""Recording and reading the audit log.

Every entry point that changes or hands out an event's data calls :func:`record` with
the acting user (or a named non-user actor: a signed link, the backup schedule), an
action such as ``export.downloaded`` and the thing acted on. ``record`` adds the entry to
the caller's session and commits, so the entry is written even when the caller's own
change was committed already (export services commit as they go).

Recording never fails the action it describes: a database error while auditing is
logged and swallowed — the organizer's download must not break because of the log.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.audit.models import AuditEntry
from eventport.db.base import utcnow
from eventport.job_lifecycle import iso

log = logging.getLogger(__name__)

#: Actions the log knows; the API documents them, tests check them.
ACTIONS = (
    "export.requested", "export.download_link", "export.downloaded", "export.pinned",
    "export.unpinned", "export.deleted", "export.cancelled",
    "import.requested", "import.succeeded", "import.failed",
    "role.granted", "role.revoked",
    "backup_policy.updated", "backup_policy.deleted",
    "webhook.created", "webhook.deleted",
)

#: Non-user actors.
SIGNED_LINK = "signed-link"
SCHEDULE = "schedule"
SYSTEM = "system"


def record(db: Session, event_id: int, actor: User | str | None, action: str,
           target: str = "", details: dict[str, Any] | None = None) -> None:
    """Append one entry and commit; logs instead of raising (see module docstring)."""
    if isinstance(actor, User):
        actor_id, name = actor.id, actor.email
    else:
        actor_id, name = None, actor or SYSTEM
    try:
        db.add(AuditEntry(event_id=event_id, at=utcnow(), actor_id=actor_id, actor=name,
                          action=action, target=target[:200], details=details or {}))
        db.commit()
    except Exception:
        db.rollback()
        log.warning("could not record audit entry %s on event %s", action, event_id,
                    exc_info=True)


def entries(db: Session, event_id: int, page: int, per_page: int
            ) -> tuple[list[AuditEntry], int]:
    """One page of the event's log, newest first, and the total number of entries."""
    where = AuditEntry.event_id == event_id
    total = db.scalar(select(func.count()).select_from(AuditEntry).where(where)) or 0
    rows = db.scalars(select(AuditEntry).where(where)
                      .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                      .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": iso(entry.at),
            "actor": entry.actor, "action": entry.action, "target": entry.target,
            "details": entry.details or {}}


#: ``exports/service.storage_key``: events/<event id>/exports/<job id>/<filename>
_EXPORT_KEY = re.compile(r"^events/(\d+)/exports/([0-9a-f]{32})/[^/]+$")


def record_signed_download(key: str, details: dict[str, Any]) -> None:
    """An export file served through a signed link (``/api/v1/files/…``): the link
    carries no user, so the entry names the job and the client (address, user agent);
    the ``export.download_link`` entry before it says who was handed the link."""
    match = _EXPORT_KEY.match(key)
    if match is None:
        return
    from eventport.db import session_scope
    from eventport.exports.models import ExportJob

    event_id, job_id = int(match.group(1)), match.group(2)
    with session_scope() as db:
        job = db.get(ExportJob, job_id)
        if job is None or job.event_id != event_id:
            return
        record(db, event_id, SIGNED_LINK, "export.downloaded", f"export {job_id}",
               {"filename": job.filename, **details})
