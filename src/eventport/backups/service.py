"""Backup policies and the scheduler that turns them into export jobs.

Read top to bottom:

1. :func:`put_policy` checks a policy (cron, time zone, export options) and stores it
   with its first ``next_run_at``.
2. :func:`run_due` — called by beat every ``EVENTPORT_SCHEDULER_TICK_SECONDS`` and by
   ``eventport backups run-due`` — *claims* each due policy with one conditional UPDATE
   (``runs`` unchanged and still due → ``runs + 1`` and the next run time computed from
   now). Several beats, or a beat and the CLI, race on that UPDATE and exactly one wins,
   so each due run makes one export; a scheduler that was down for an hour finds the
   policy due once and makes one export, not sixty.
3. The export job is an ordinary one (``trigger: "schedule"``, ``backup_policy_id``);
   the caller enqueues it.
4. The same tick applies each policy's ``keep_last`` (pinned exports aside) and reports
   finished scheduled jobs that failed or were not verified: e-mail to the event's owners
   and a ``backup.failed`` webhook, once per job (another conditional UPDATE).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from eventport.accounts.models import EventRole, Role, User
from eventport.audit.service import SCHEDULE, record
from eventport.backups.models import BackupPolicy
from eventport.backups.schedule import next_run, zone
from eventport.db import get_sessionmaker
from eventport.db.base import utcnow
from eventport.errors import InvalidInput, NotFound
from eventport.events.models import Event
from eventport.exports import service as exports
from eventport.exports.models import ExportJob, JobState
from eventport.job_lifecycle import iso
from eventport.storage import Storage, StorageError

log = logging.getLogger(__name__)

MAX_KEEP_LAST = 1000


# ------------------------------------------------------------------------ the policy


def get_policy(db: Session, event_id: int) -> BackupPolicy:
    policy = db.scalar(select(BackupPolicy).where(BackupPolicy.event_id == event_id))
    if policy is None:
        raise NotFound(f"event {event_id} has no backup policy")
    return policy


def export_options(fields: dict[str, Any]) -> dict[str, Any]:
    """The export options of a policy: defaults (full profile, no recipients) left out,
    so a policy's jobs are identical to the same manual export."""
    options: dict[str, Any] = {}
    if fields.get("media") is not None:
        options["media"] = fields["media"]
    if fields.get("profile") not in (None, "full"):
        options["profile"] = fields["profile"]
    if fields.get("recipients"):
        options["recipients"] = fields["recipients"]
    return options


def put_policy(db: Session, event: Event, user: User | None, fields: dict[str, Any],
               *, now: dt.datetime | None = None) -> BackupPolicy:
    """Create or replace the event's policy; the first run is the next cron time."""
    timezone = fields.get("timezone") or event.timezone
    zone(timezone)
    keep_last = int(fields.get("keep_last") or 7)
    if not 1 <= keep_last <= MAX_KEEP_LAST:
        raise InvalidInput(f"keep_last must be between 1 and {MAX_KEEP_LAST}")
    format = fields.get("format") or "archive"
    options = exports.normalize_options(format, export_options(fields))
    now = now or utcnow()
    first = next_run(fields["cron"], timezone, now)
    policy = db.scalar(select(BackupPolicy).where(BackupPolicy.event_id == event.id))
    if policy is None:
        policy = BackupPolicy(event_id=event.id, created_at=now, runs=0)
        db.add(policy)
    policy.cron, policy.timezone, policy.format = fields["cron"], timezone, format
    policy.options, policy.keep_last, policy.next_run_at = options, keep_last, first
    policy.updated_at, policy.updated_by_id = now, user.id if user else None
    db.commit()
    return policy


def delete_policy(db: Session, policy: BackupPolicy) -> None:
    """The policy goes; its exports stay (the global retention takes them over)."""
    db.execute(update(ExportJob).where(ExportJob.backup_policy_id == policy.id)
               .values(backup_policy_id=None))
    db.delete(policy)
    db.commit()


def last_job(db: Session, policy: BackupPolicy) -> ExportJob | None:
    return db.scalar(select(ExportJob).where(ExportJob.backup_policy_id == policy.id)
                     .order_by(ExportJob.created_at.desc(), ExportJob.id).limit(1))


def verified(job: ExportJob) -> bool | None:
    """Whether a finished scheduled export was read back and checked; None when this
    server does not record verification (or the format has nothing to verify)."""
    if job.state != JobState.SUCCEEDED.value or not hasattr(job, "verified_at"):
        return None
    return job.verified_at is not None


def policy_document(db: Session, policy: BackupPolicy) -> dict[str, Any]:
    """The policy as the API returns it, with ``last_result`` (the newest scheduled job)."""
    job = last_job(db, policy)
    last = None if job is None else {
        "job_id": job.id, "state": job.state, "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at), "verified": verified(job),
        "error": job.error, "size": job.size, "sha256": job.sha256,
        "ok": job.state == JobState.SUCCEEDED.value and verified(job) is not False,
    }
    options = policy.options or {}
    return {
        "event_id": policy.event_id, "cron": policy.cron, "timezone": policy.timezone,
        "format": policy.format, "media": options.get("media"),
        "profile": options.get("profile", "full"), "recipients": options.get("recipients", []),
        "keep_last": policy.keep_last, "next_run_at": iso(policy.next_run_at),
        "updated_at": iso(policy.updated_at), "last_result": last,
    }


# ------------------------------------------------------------------------- scheduling


@dataclass
class TickReport:
    created: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)


def _claim(db: Session, policy_id: int, runs: int, now: dt.datetime) -> BackupPolicy | None:
    """Advance the due policy to its next run; the policy if this caller won the race."""
    policy = db.get(BackupPolicy, policy_id)
    if policy is None:
        return None
    upcoming = next_run(policy.cron, policy.timezone, now)
    won = db.execute(update(BackupPolicy)
                     .where(BackupPolicy.id == policy_id, BackupPolicy.runs == runs,
                            BackupPolicy.next_run_at <= now)
                     .values(runs=runs + 1, next_run_at=upcoming)).rowcount  # type: ignore[attr-defined]
    db.commit()
    if not won:
        return None
    db.refresh(policy)
    return policy


def _start(db: Session, policy: BackupPolicy) -> ExportJob | None:
    """Request the policy's export; a new job is marked as scheduled. None when an
    identical export is already queued or running (it serves as this run)."""
    event = db.get(Event, policy.event_id)
    if event is None:
        return None
    job, created = exports.request_export(db, event, None, policy.format, policy.options)
    if not created:
        return None
    job.trigger, job.backup_policy_id = "schedule", policy.id
    db.commit()
    record(db, event.id, SCHEDULE, "export.requested", f"export {job.id}",
           {"format": job.format, "options": job.options, "trigger": "schedule"})
    return job


def run_due(*, sessions: sessionmaker[Session] | None = None, now: dt.datetime | None = None,
            storage: Storage | None = None,
            enqueue: Callable[[str], None] | None = None) -> TickReport:
    """One scheduler tick: start due backups, apply keep_last, report failures."""
    sessions = sessions or get_sessionmaker()
    now = now or utcnow()
    report = TickReport()
    with sessions() as db:
        due = db.execute(select(BackupPolicy.id, BackupPolicy.runs)
                         .where(BackupPolicy.next_run_at <= now)).all()
    for policy_id, runs in due:
        with sessions() as db:
            policy = _claim(db, policy_id, runs, now)
            try:
                job = _start(db, policy) if policy is not None else None
            except Exception:  # one broken policy must not stop the others
                log.exception("backup policy %s: could not start its export", policy_id)
                continue
            if job is None:
                continue
            report.created.append(job.id)
        if enqueue is not None:
            enqueue(job.id)
    with sessions() as db:
        for policy in db.scalars(select(BackupPolicy)).all():
            if storage is not None:
                report.expired += apply_keep_last(db, storage, policy)
            reported = report_outcome(db, policy)
            if reported:
                report.reported.append(reported)
    return report


def apply_keep_last(db: Session, storage: Storage, policy: BackupPolicy) -> list[str]:
    """Expire the policy's succeeded exports beyond its newest ``keep_last``; pinned
    exports are kept and do not take one of the places."""
    jobs = db.scalars(select(ExportJob).where(
        ExportJob.backup_policy_id == policy.id, ExportJob.state == JobState.SUCCEEDED.value,
        ExportJob.pinned.is_(False),
    ).order_by(ExportJob.finished_at.desc(), ExportJob.id.desc())).all()
    expired = []
    for job in jobs[policy.keep_last:]:
        try:
            exports.delete_job(db, storage, job)
        except StorageError:
            log.warning("backup retention: could not delete %s; will retry", job.storage_key,
                        exc_info=True)
            continue
        expired.append(job.id)
    return expired


def report_outcome(db: Session, policy: BackupPolicy) -> str | None:
    """Tell the owners (e-mail) and webhooks (``backup.failed``) about the newest finished
    scheduled job if it failed or was not verified; once per job, even with two beats."""
    job = db.scalar(select(ExportJob).where(
        ExportJob.backup_policy_id == policy.id,
        ExportJob.state.in_((JobState.SUCCEEDED.value, JobState.FAILED.value)),
    ).order_by(ExportJob.finished_at.desc(), ExportJob.id).limit(1))
    if job is None or job.id == policy.reported_job_id:
        return None
    won = db.execute(update(BackupPolicy).where(
        BackupPolicy.id == policy.id,
        BackupPolicy.reported_job_id.is_(None) if policy.reported_job_id is None
        else BackupPolicy.reported_job_id == policy.reported_job_id,
    ).values(reported_job_id=job.id)).rowcount  # type: ignore[attr-defined]
    db.commit()
    if not won or (job.state == JobState.SUCCEEDED.value and verified(job) is not False):
        return None
    from eventport.backups.notify import backup_failed

    backup_failed(db, policy, job)
    return job.id


def owners(db: Session, event_id: int) -> list[str]:
    return list(db.scalars(select(User.email).join(EventRole, EventRole.user_id == User.id)
                           .where(EventRole.event_id == event_id,
                                  EventRole.role == Role.OWNER.value)))
