"""Telling people a backup did not happen: e-mail to every owner, ``backup.failed``
webhook. A backup nobody hears about failing is not a backup."""

from __future__ import annotations

from sqlalchemy.orm import Session

from eventport.backups.models import BackupPolicy
from eventport.backups.service import owners, verified
from eventport.events.models import Event
from eventport.exports.models import ExportJob
from eventport.exports.notifications import site_of
from eventport.exports.service import job_summary
from eventport.notify.email import send_mail
from eventport.webhooks.service import emit


def reason(job: ExportJob) -> str:
    if verified(job) is False:
        return "the stored file was not verified"
    return job.error or job.state


def backup_failed(db: Session, policy: BackupPolicy, job: ExportJob) -> None:
    event = db.get(Event, policy.event_id)
    name = event.name if event else f"event {policy.event_id}"
    why = reason(job)
    page = f"{site_of(job)}/events/{policy.event_id}/backups"  # the Backups page
    body = (f"The scheduled backup of “{name}” did not succeed.\n\nReason: {why}\n"
            f"Export job: {job.id}\nSchedule: {policy.cron} ({policy.timezone})\n\n"
            f"Policy and last result: {page}\n")
    for address in owners(db, policy.event_id):
        send_mail(address, f"Backup failed: {name}", body)
    emit(db, policy.event_id, "backup.failed",
         {"reason": why, "policy": {"cron": policy.cron, "timezone": policy.timezone},
          "job": job_summary(job)})
