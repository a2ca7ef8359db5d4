"""The e-mail an organizer gets when their export is ready — or why it failed.

The seed system told nobody: organizers refreshed a page for an hour. The success mail
carries a signed link that works for ``EVENTPORT_DOWNLOAD_URL_TTL`` seconds (after that,
the export page hands out a fresh one); the failure mail carries the reason.
"""

from __future__ import annotations

from urllib.parse import urljoin

from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.config import get_settings
from eventport.events.models import Event
from eventport.exports.models import ExportJob, JobState
from eventport.naming import human_size, plural
from eventport.notify.email import send_mail
from eventport.storage import get_storage

#: Where links point when neither EVENTPORT_BASE_URL nor the request's address is known.
FALLBACK_SITE = "http://127.0.0.1:8000"


def site_of(job: ExportJob) -> str:
    """The configured base URL, else the address the export was requested through."""
    return (get_settings().base_url or job.site_url or FALLBACK_SITE).rstrip("/")


def compose(job: ExportJob, event_name: str, link: str | None, ttl: int) -> tuple[str, str]:
    """Subject and body of the notification for a finished job.

    "Afterwards" points at the event's Export tab following this job (a page, not the
    API's JSON), where a click gives a fresh link.
    """
    page = f"{site_of(job)}/events/{job.event_id}/export?job={job.id}"
    if job.state == JobState.SUCCEEDED.value:
        minutes = max(1, ttl // 60)
        lines = [
            f"Your {job.format} export of “{event_name}” is ready.",
            "",
            f"Size: {human_size(job.size or 0)}",
            f"SHA-256: {job.sha256}",
            "",
            f"Download (this link works for {minutes} minutes):",
            link or page,
            "",
            f"Afterwards get a fresh link from {page}",
        ]
        if job.warnings:
            lines += ["", f"{plural(len(job.warnings), 'note')}:"]
            lines += [f"  - {_warning_text(w)}" for w in job.warnings]
        if job.expires_at:
            lines += ["", f"The file is kept until {job.expires_at:%Y-%m-%d %H:%M} UTC "
                          "unless you pin it."]
        return f"Export ready: {event_name}", "\n".join(lines) + "\n"
    body = (f"Your {job.format} export of “{event_name}” failed.\n\nReason: {job.error}\n\n"
            f"Details: {page}\n")
    return f"Export failed: {event_name}", body


def _warning_text(warning: object) -> str:
    if not isinstance(warning, dict):
        return str(warning)
    what = warning.get("title") or warning.get("path") or warning.get("owner") or ""
    why = warning.get("reason") or warning.get("message") or warning.get("detail") or ""
    return ": ".join(str(p) for p in (what, why) if p) or str(warning)


def notify_requester(db: Session, job: ExportJob) -> bool:
    """E-mail the requester about a finished job; False when nothing was sent."""
    settings = get_settings()
    if not settings.smtp_url or job.requested_by_id is None:
        return False
    if job.state not in (JobState.SUCCEEDED.value, JobState.FAILED.value):
        return False
    user = db.get(User, job.requested_by_id)
    event = db.get(Event, job.event_id)
    if user is None or not user.email:
        return False
    link = None
    if job.state == JobState.SUCCEEDED.value and job.storage_key:
        link = urljoin(site_of(job) + "/", get_storage().signed_url(
            job.storage_key, expires_in=settings.download_url_ttl, filename=job.filename))
    subject, body = compose(job, event.name if event else f"event {job.event_id}", link,
                            settings.download_url_ttl)
    return send_mail(user.email, subject, body)
