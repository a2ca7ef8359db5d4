"""Open Event server compatibility: clients written for the original export API work.

``POST /v1/events/{event_id}/export/json`` with ``{"image", "video", "document",
"audio"}`` flags starts an archive export and answers ``{"task_url": "/v1/tasks/<id>"}``;
``GET /v1/tasks/<id>`` answers Celery-style states. Unlike the original, both need a
bearer token and a role on the event, and ``download_url`` is a signed link that
expires (``EVENTPORT_DOWNLOAD_URL_TTL``) instead of a file public forever.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from eventport.api.deps import AnyRole, CurrentUser, Db, SiteUrl, StorageDep
from eventport.api.exports import job_for, start_export
from eventport.audit.service import record
from eventport.exports import service
from eventport.exports.models import JobState

router = APIRouter(prefix="/v1", tags=["open-event compatibility"])

#: Job state -> the Celery state the original server reported. Its frontend knows only
#: PENDING, STARTED, SUCCESS and FAILURE (DESIGN lists no other), so a cancelled or
#: expired export reads as FAILURE with the reason as ``result``, never REVOKED.
CELERY_STATES = {
    JobState.QUEUED.value: "PENDING",
    JobState.RUNNING.value: "STARTED",
    JobState.SUCCEEDED.value: "SUCCESS",
    JobState.FAILED.value: "FAILURE",
    JobState.CANCELLED.value: "FAILURE",
    JobState.EXPIRED.value: "FAILURE",
}


class OpenEventExportRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: bool = False
    video: bool = False
    document: bool = False
    audio: bool = False


@router.post("/events/{event_id}/export/json")
def export_json(event: AnyRole, user: CurrentUser, db: Db, site: SiteUrl,
                body: OpenEventExportRequest | None = None) -> dict[str, str]:
    body = body or OpenEventExportRequest()
    media = [kind for kind in ("image", "document", "audio", "video") if getattr(body, kind)]
    job = start_export(db, event, user, "archive", {"media": media}, site)
    return {"task_url": f"/v1/tasks/{job.id}"}


@router.get("/tasks/{task_id}")
def task_status(task_id: str, user: CurrentUser, db: Db, storage: StorageDep, site: SiteUrl
                ) -> dict[str, Any]:
    job = job_for(db, user, task_id)
    state = CELERY_STATES[job.state]
    if job.state == JobState.SUCCEEDED.value:
        url = urljoin(site + "/", service.download_link(storage, job))
        record(db, job.event_id, user, "export.download_link", f"export {job.id}",
               {"filename": job.filename, "via": "open-event-compat"})
        return {"state": state, "result": {"download_url": url}}
    if job.state == JobState.EXPIRED.value:
        return {"state": state, "result": "the export has expired and its file was deleted"}
    if job.state == JobState.CANCELLED.value:
        return {"state": state, "result": job.error or "the export was cancelled"}
    if job.state == JobState.FAILED.value:
        return {"state": state, "result": job.error or job.state}
    return {"state": state, "result": None}
