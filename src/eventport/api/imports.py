"""``POST /api/v1/imports`` and ``GET /api/v1/imports/{job_id}``: parse, call, return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from eventport.api.deps import CurrentUser, Db, StorageDep
from eventport.config import get_settings
from eventport.errors import PayloadTooLarge
from eventport.imports import service

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])


@router.post("", status_code=202)
def create_import(
    request: Request,
    db: Db,
    storage: StorageDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="archive zip, Open Event zip or schedule.xml")],
    format: Annotated[str | None, Form()] = None,
    dry_run: Annotated[bool, Query()] = False,
) -> JSONResponse:
    """Store the upload and queue the import; poll the returned job."""
    limit = get_settings().import_max_bytes
    if file.size is not None and file.size > limit:
        raise PayloadTooLarge(f"the file is larger than the import limit of {limit} bytes")
    job = service.create_import_job(db, storage, user, file.file, file.filename or "upload",
                                    format=format or None, dry_run=dry_run, max_bytes=limit)
    db.commit()
    from eventport.jobs.import_tasks import enqueue_import

    enqueue_import(job.id)
    return JSONResponse(service.job_summary(job), status_code=202,
                        headers={"Location": f"/api/v1/imports/{job.id}"})


@router.get("/{job_id}")
def get_import(job_id: str, db: Db, user: CurrentUser) -> dict[str, Any]:
    return service.job_summary(service.get_job(db, job_id, user))
