"""Public URLs of Eventport's own routes that code outside the HTTP layer must build.

Storage backends that cannot sign URLs (local disk, memory) hand out links to the signed
download route instead; they receive :func:`file_download_url` as a URL builder (see
:func:`eventport.storage.open_storage`) rather than knowing the route themselves.
"""

from __future__ import annotations

#: The signed download route (:mod:`eventport.api.files`).
FILE_DOWNLOAD_ROUTE = "/api/v1/files/{token}"


def file_download_url(token: str, base_url: str | None = None) -> str:
    """The URL serving the object a download ``token`` names: absolute with a configured
    ``EVENTPORT_BASE_URL``, otherwise a path that callers join to the address the request
    reached (``make run PORT=8100`` must give working links)."""
    if base_url is None:
        from eventport.config import get_settings

        base_url = get_settings().base_url or ""
    return base_url.rstrip("/") + FILE_DOWNLOAD_ROUTE.format(token=token)
