"""``POST|GET /api/v1/imports`` and ``GET /api/v1/imports/{job_id}``: parse, call, return."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from eventport import job_lifecycle as lifecycle
from eventport.api.deps import CurrentUser, Db, StorageDep
from eventport.api.events import Page, PerPage, page_of
from eventport.api.uploads import UploadInfo, receive_file
from eventport.audit.service import record
from eventport.config import get_settings
from eventport.errors import InvalidInput
from eventport.imports import service
from eventport.imports.encrypted import decrypt_upload
from eventport.imports.importer import MODES
from eventport.imports.models import ImportJob
from eventport.imports.readers import FORMATS
from eventport.imports.zones import check_timezone
from eventport.jobs.import_tasks import enqueue_import

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])


#: The body is parsed as a stream (api/uploads.py), so describe it for OpenAPI by hand.
IMPORT_UPLOAD_SPEC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "archive zip, Open Event zip or schedule.xml"},
        "format": {"type": "string", "enum": list(FORMATS),
                   "description": "detected when omitted; send it before the file"},
        "identity": {"type": "string", "description": "age secret key (AGE-SECRET-KEY-1…) "
                     "for an encrypted archive (.zip.age); held in memory only"},
        "dry_run": {"type": "boolean", "description": "check and plan, write nothing"},
        "timezone": {"type": "string", "description": "IANA zone (e.g. Europe/Brussels) "
                     "for a source that names none; a source's own zone wins"}}}}}}}


@router.post("", status_code=202, openapi_extra=IMPORT_UPLOAD_SPEC)
async def create_import(
    request: Request,
    db: Db,
    storage: StorageDep,
    user: CurrentUser,
    dry_run: Annotated[bool, Query()] = False,
    format: Annotated[str | None, Query()] = None,
    mode: Annotated[str | None, Query(description="one of: " + ", ".join(MODES))] = None,
    event_id: Annotated[int | None, Query(description="the event mode=update updates")] = None,
    timezone: Annotated[str | None, Query(
        description="IANA zone for a source that names none (else the source's zone, or "
                    "the updated event's)")] = None,
) -> JSONResponse:
    """Stream the upload into storage and queue the import; poll the returned job.

    The file goes straight to its staging key as it arrives — no temporary copy on the
    web server's disk. ``format``, ``mode``, ``event_id``, ``timezone`` and ``dry_run`` may
    be query parameters or form fields. ``mode=update`` needs the right to edit ``event_id``.
    """
    limit = get_settings().import_max_bytes
    check_timezone(timezone)  # before a byte of the body is read

    def store(chunks: Iterator[bytes], info: UploadInfo) -> ImportJob:
        target = event_id if event_id is not None else _int(info.fields.get("event_id"))
        job = service.create_import_job(
            db, storage, user, chunks, info.filename or "upload",
            format=format or info.fields.get("format") or None,
            dry_run=dry_run or service.form_flag("dry_run", info.fields.get("dry_run")),
            max_bytes=limit, mode=mode or info.fields.get("mode") or "create",
            event_id=target, timezone=timezone or info.fields.get("timezone") or None)
        db.commit()
        return job

    job, info = await receive_file(request, store, max_bytes=limit)
    # The secret key stays in this request's memory (imports/encrypted.py).
    await run_in_threadpool(decrypt_upload, db, storage, job, info.fields.pop("identity", None))
    late_format = info.fields.get("format") if not job.format else None
    late_zone = info.fields.get("timezone") if "timezone" not in job.options else None
    late_dry_run = info.fields.get("dry_run") if not job.dry_run else None
    if late_format or late_zone or late_dry_run:
        await run_in_threadpool(service.set_late_options, db, job, late_format, late_zone,
                                late_dry_run)
    await run_in_threadpool(service.refuse_known_source, db, storage, user, job)
    return await run_in_threadpool(_queued, db, user, job)


def _queued(db: Db, user: CurrentUser, job: ImportJob) -> JSONResponse:
    """Send the saved job, audit an update of an event, answer 202 + where to poll."""
    lifecycle.send(db, ImportJob, job, enqueue_import)
    target = job.event_id or (job.options or {}).get("event_id")
    if target is not None:  # an update of an existing event
        record(db, target, user, "import.requested", f"import {job.id}",
               {"format": job.format, "dry_run": job.dry_run})
    return JSONResponse(service.job_summary(job), status_code=202,
                        headers={"Location": f"/api/v1/imports/{job.id}"})


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise InvalidInput("event_id must be a whole number")
    return int(value)


@router.get("")
def list_imports(db: Db, user: CurrentUser, page: Page = 1, per_page: PerPage = 50
                 ) -> dict[str, Any]:
    """The caller's imports, newest first, a page at a time like every list."""
    jobs, total = service.list_jobs(db, user, page, per_page)
    return page_of([service.job_summary(job) for job in jobs], total, page, per_page)


@router.post("/{job_id}/apply", status_code=202)
def apply_import(job_id: str, db: Db, storage: StorageDep, user: CurrentUser) -> JSONResponse:
    """Import what a succeeded dry run checked, from the upload it kept: the file is not
    sent again. The answer is a new import job (the dry run stays as it was, with
    ``applied_as`` naming it); 409 when the job is not a succeeded dry run, was applied
    already, or its upload is no longer kept (``EVENTPORT_IMPORT_DRY_RUN_KEEP_HOURS``)."""
    return _queued(db, user, service.apply(db, storage, user, job_id))


@router.get("/{job_id}")
def get_import(job_id: str, db: Db, user: CurrentUser) -> dict[str, Any]:
    return service.job_summary(service.get_job(db, job_id, user))
