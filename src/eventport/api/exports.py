"""Export routes (docs/DESIGN.md "Exports"): parse, authorize, call the service, return.

Authorization (the role matrix in :mod:`eventport.accounts.permissions`): any role may
request, follow, cancel and download the event's exports; pinning and deleting them
needs ``MANAGE_EXPORTS`` (organizer, owner). A job of an event the caller has no role on
is a 404, exactly like the event itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from eventport import job_lifecycle as lifecycle
from eventport.accounts import service as accounts
from eventport.accounts.models import User
from eventport.accounts.permissions import Permission
from eventport.api.deps import AnyRole, CurrentUser, Db, SiteUrl, StorageDep
from eventport.api.events import Page, PerPage, page_of
from eventport.audit.service import record
from eventport.exports import service
from eventport.exports.models import ExportJob, JobState
from eventport.jobs import enqueue_export

router = APIRouter(prefix="/api/v1", tags=["exports"])


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = Field(default="archive", max_length=32)
    media: list[str] | None = Field(default=None, max_length=10)
    states: list[str] | str | None = Field(
        default=None, description="schedule/CSV formats: session states to include")
    bom: bool | None = Field(default=None, description="CSV formats: start with a UTF-8 BOM")
    profile: str | None = Field(default=None, max_length=16,
                                description="archive: full (default) or public")
    recipients: list[str] | None = Field(
        default=None, max_length=20,
        description="archive: age public keys (age1…); the stored file is .zip.age")

    def options(self) -> dict[str, Any] | None:
        given = {k: v for k, v in self.model_dump(exclude={"format"}).items() if v is not None}
        return given or None


class PinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pinned: bool


def job_json(job: ExportJob, site: str) -> dict[str, Any]:
    """The job as docs/DESIGN.md specifies, with ``download_url`` once there is a file."""
    body = service.job_summary(job)
    body["download_url"] = None
    if job.state == JobState.SUCCEEDED.value and job.storage_key:
        body["download_url"] = f"{site}/api/v1/exports/{job.id}/download"
    return body


def job_for(db: Db, user: User, job_id: str,
            permission: Permission = Permission.EXPORT) -> ExportJob:
    """The job if the caller's role on its event allows ``permission``; a caller without
    a role gets 404 (no existence leak, in the service), one with too low a role 403."""
    job = service.get_job(db, job_id, user)
    accounts.require(db, user, job.event_id, permission)
    return job


def start_export(db: Db, event: Any, user: User, format: str,
                 options: dict[str, Any] | None, site: str | None = None) -> ExportJob:
    """Create (or find) the job and, when new, hand it to the workers."""
    job, created = service.request_export(db, event, user, format, options)
    if created:
        if site:  # the address its e-mail links to when no base URL is configured
            job.site_url = site[:300]
            db.commit()
        lifecycle.send(db, ExportJob, job, enqueue_export)
    record(db, event.id, user, "export.requested", f"export {job.id}",
           {"format": format, "options": job.options, "new_job": created})
    return job


@router.post("/events/{event_id}/exports", status_code=202)
def create_export(body: ExportRequest, event: AnyRole, user: CurrentUser, db: Db,
                  response: Response, site: SiteUrl) -> dict[str, Any]:
    job = start_export(db, event, user, body.format, body.options(), site)
    response.headers["Location"] = f"/api/v1/exports/{job.id}"
    return job_json(job, site)


@router.get("/events/{event_id}/exports")
def list_exports(event: AnyRole, db: Db, site: SiteUrl, page: Page = 1,
                 per_page: PerPage = 50) -> dict[str, Any]:
    """The event's export history, newest first, a page at a time like every list."""
    jobs, total = service.list_jobs(db, event.id, page, per_page)
    return page_of([job_json(job, site) for job in jobs], total, page, per_page)


@router.get("/exports/{job_id}")
def get_export(job_id: str, user: CurrentUser, db: Db, site: SiteUrl) -> dict[str, Any]:
    return job_json(job_for(db, user, job_id), site)


@router.get("/exports/{job_id}/download", status_code=302)
def download_export(job_id: str, user: CurrentUser, db: Db, storage: StorageDep
                    ) -> RedirectResponse:
    job = job_for(db, user, job_id)
    url = service.download_link(storage, job)
    record(db, job.event_id, user, "export.download_link", f"export {job.id}",
           {"filename": job.filename})
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.post("/exports/{job_id}/cancel")
def cancel_export(job_id: str, user: CurrentUser, db: Db, site: SiteUrl) -> dict[str, Any]:
    job = service.cancel_job(db, job_for(db, user, job_id))
    record(db, job.event_id, user, "export.cancelled", f"export {job.id}")
    return job_json(job, site)


@router.patch("/exports/{job_id}")
def update_export(job_id: str, body: PinRequest, user: CurrentUser, db: Db, site: SiteUrl
                  ) -> dict[str, Any]:
    job = job_for(db, user, job_id, Permission.MANAGE_EXPORTS)
    job = service.set_pinned(db, job, body.pinned)
    record(db, job.event_id, user, "export.pinned" if body.pinned else "export.unpinned",
           f"export {job.id}")
    return job_json(job, site)


@router.delete("/exports/{job_id}", status_code=204)
def delete_export(job_id: str, user: CurrentUser, db: Db, storage: StorageDep) -> Response:
    job = job_for(db, user, job_id, Permission.MANAGE_EXPORTS)
    service.delete_job(db, storage, job)
    record(db, job.event_id, user, "export.deleted", f"export {job.id}",
           {"filename": job.filename})
    return Response(status_code=204)
