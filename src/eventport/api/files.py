"""``GET /api/v1/files/{token}``: the signed download route for local and memory storage.

Cloud backends hand out their own signed URLs; a local disk cannot, so its
``signed_url`` points here instead and the local backend behaves like the cloud ones:
the link expires (``EVENTPORT_DOWNLOAD_URL_TTL``), is bound to one key and filename by
an HMAC of ``EVENTPORT_SECRET_KEY`` (:mod:`eventport.storage.signing`), needs no login
(the token *is* the authorization, as with S3 presigned URLs), answers ``Range`` requests
(206/416) so large archives resume, and streams from storage without buffering.

The object is looked up in the configured storage (:func:`eventport.storage.get_storage`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from eventport.api.problems import problem
from eventport.audit.service import record_signed_download
from eventport.links import FILE_DOWNLOAD_ROUTE
from eventport.storage import ObjectInfo, ObjectNotFound, content_disposition, get_storage
from eventport.storage.signing import DownloadGrant, ExpiredToken, InvalidToken, verify_token

router = APIRouter()

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d{0,19})\s*-\s*(\d{0,19})\s*$", re.IGNORECASE)


def _problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """A problem response nobody caches: the link's verdict may change (expiry, deletion)."""
    response = problem(status, title, detail)
    response.headers.update({"Cache-Control": "no-store", **(headers or {})})
    return response


def _etag(info: ObjectInfo) -> str:
    """A validator for If-Range: changes whenever the object is replaced."""
    stamp = info.last_modified.isoformat() if info.last_modified else ""
    digest = hashlib.sha256(f"{info.key}\0{info.size}\0{stamp}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """Parse one ``bytes=`` range into an inclusive ``(first, last)`` pair.

    Returns ``None`` to serve the whole object (no header, a syntax the server may ignore
    per RFC 9110 such as several ranges) and ``"unsatisfiable"`` for a 416.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None  # multiple ranges or unknown unit: ignoring Range is allowed
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix range: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None  # invalid range spec: ignore
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


class _Unsatisfiable(Exception):
    pass


def _grant(token: str) -> DownloadGrant | Response:
    """The grant a token carries, or the 403 that explains why it carries none."""
    try:
        return verify_token(token)
    except ExpiredToken:
        return _problem(
            403,
            "Download link expired",
            "This download link has expired; request a new one from Eventport.",
        )
    except InvalidToken:
        return _problem(
            403,
            "Invalid download link",
            "This download link is not valid "
            "(it may have been altered or the server's secret key changed).",
        )


def _span(request: Request, info: ObjectInfo, headers: dict[str, str]) -> tuple[int, int] | None:
    """The inclusive byte range to send (``None``: the whole object), honouring If-Range."""
    range_header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if range_header and if_range and if_range.strip() != headers["ETag"]:
        range_header = None  # the client's copy is stale: send the whole new object
    wanted = parse_range(range_header, info.size)
    if wanted == "unsatisfiable":
        raise _Unsatisfiable
    return wanted if isinstance(wanted, tuple) else None


@router.head(FILE_DOWNLOAD_ROUTE, name="signed_file_head", include_in_schema=False)
@router.get(FILE_DOWNLOAD_ROUTE, name="signed_file_download")
def download_signed_file(token: str, request: Request) -> Response:
    """Serve the object a valid, unexpired token names, whole or one byte range."""
    grant = _grant(token)
    if isinstance(grant, Response):
        return grant
    storage = get_storage()
    try:
        info = storage.stat(grant.key)
    except ObjectNotFound:
        return _problem(404, "File not found", "The file behind this link no longer exists.")

    size = info.size
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(grant.filename),
        "ETag": _etag(info),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    try:
        wanted = _span(request, info, headers)
    except _Unsatisfiable:
        return _problem(416, "Range not satisfiable", f"The file is {size} bytes long.",
                        headers={"Content-Range": f"bytes */{size}", **headers})
    status, start, end = 200, 0, size
    if wanted is not None:
        status, start, end = 206, wanted[0], wanted[1] + 1
        headers["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{size}"
    headers["Content-Length"] = str(end - start)

    media_type = info.content_type or "application/octet-stream"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    record_signed_download(grant.key, {
        "client": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent", "")[:200],
        "range": headers.get("Content-Range")})
    body: Iterator[bytes] = storage.open(grant.key, start=start, end=end)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media_type)
