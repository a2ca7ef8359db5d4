"""Google Cloud Storage (``gs://bucket/prefix``) with the official google-cloud-storage client.

Why not obstore here as for S3/Azure: obstore talks to GCS's XML API, which neither
fake-gcs-server nor gcp-storage-emulator implements, so it could not be tested
locally. google-cloud-storage uses the JSON API, streams with
resumable uploads (``blob.open("wb")``: one buffered chunk in memory, cancelled with a
DELETE of the session when the producer fails) and signs V4 URLs offline.

Credentials: ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account JSON key), else
Application Default Credentials (workload identity, ``gcloud auth``); signed URLs then
go through the IAM signBlob API with the account's access token.
``?endpoint_url=http://127.0.0.1:4443`` sends data to an emulator without auth while the
service-account key still signs URLs (pointing at the emulator).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from eventport.storage._common import (
    ClientFileWriter,
    PutStreamViaWriter,
    clamp_range,
    content_disposition,
    join_key,
    parse_bucket_url,
    strip_prefix,
)
from eventport.storage.base import (
    DEFAULT_CHUNK_SIZE,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    PermanentStorageError,
    StorageError,
    TransientStorageError,
    validate_key,
    validate_metadata,
)
from eventport.storage.retry import call_with_retry

#: Resumable upload chunk (a multiple of 256 KiB, as GCS requires); it is the one
#: buffer a put holds in memory.
CHUNK_SIZE = DEFAULT_CHUNK_SIZE
READ_CHUNK = 4 * 1024 * 1024
#: (connect, read) seconds for every request.
TIMEOUT = (10, 300)


def _upload_retry() -> Any:
    """Per-chunk retry for resumable uploads (a chunk is buffered, so it can be resent).

    Bounded by ``EVENTPORT_STORAGE_RETRY_SECONDS`` like obstore's part retries: an
    operator who shortens the budget gets a failed job that soon on every backend (a
    fixed 60 s here once made GCS exports ride out outages the setting said to give up on).
    """
    from google.api_core.retry import Retry
    from google.cloud.storage.retry import DEFAULT_RETRY

    from eventport.config import get_settings

    seconds = max(get_settings().storage_retry_seconds, 1.0)
    return Retry(predicate=DEFAULT_RETRY._predicate, initial=0.2, maximum=5.0, timeout=seconds)


def _retry_cause(exc: BaseException) -> BaseException | None:
    """The error a google ``RetryError`` gave up on: "Timeout of 60.0s exceeded" says
    nothing an operator can act on; the refused connection or 503 under it does."""
    from google.api_core.exceptions import RetryError

    if isinstance(exc, RetryError) and exc.cause is not None and exc.cause is not exc:
        return exc.cause
    return None


def _is_damaged(exc: BaseException) -> bool:
    """The client's checksum check failed after the upload was finalized: the object
    exists, with bytes other than the ones sent (google-resumable-media documents that
    the caller must delete it; fake-gcs-server produces one when a chunk is cut mid-way
    and resent)."""
    from google.cloud.storage.exceptions import DataCorruption

    return isinstance(exc, DataCorruption)


class _GCSWriter(ClientFileWriter):
    """StorageWriter over BlobWriter, hashing as bytes pass through."""

    _backend: GCSStorage

    def abort(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self._raw.terminate()  # DELETE the resumable session: nothing is kept

    def _reraise(self, exc: Exception) -> NoReturn:
        if _is_damaged(exc):
            self.closed = True
            raise self._backend.discard_damaged(self._key, exc) from exc
        super()._reraise(exc)


class GCSStorage(PutStreamViaWriter):
    backend = "GCS"
    credentials_hint = (
        "Check GOOGLE_APPLICATION_CREDENTIALS (a service-account JSON key file) and that "
        "the account has roles/storage.objectAdmin on the bucket."
    )

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        project: str | None = None,
        url: str | None = None,
    ) -> None:
        if not bucket:
            raise StorageError("GCS storage URL needs a bucket: gs://bucket/optional/prefix")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.project = project
        self.url = url or f"gs://{bucket}/{self.prefix}".rstrip("/")
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: Any = None
        self._bucket: Any = None
        self._signer: Any = None

    @classmethod
    def from_url(cls, url: str) -> GCSStorage:
        parsed = parse_bucket_url(
            url, name="GCS", scheme="gs", article="a", options=("endpoint_url", "project")
        )
        return cls(
            parsed.bucket,
            parsed.prefix,
            endpoint=parsed.endpoint,
            project=parsed.options.get("project") or None,
            url=parsed.url,
        )

    # -- client lifecycle ----------------------------------------------------------------

    def _load_credentials(self) -> tuple[Any, str | None]:
        """Service-account key from GOOGLE_APPLICATION_CREDENTIALS, else ADC."""
        path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if path:
            from google.oauth2 import service_account

            try:
                with open(path, encoding="utf-8") as fh:
                    info = json.load(fh)
                creds = service_account.Credentials.from_service_account_info(
                    info, scopes=["https://www.googleapis.com/auth/devstorage.read_write"]
                )
            except FileNotFoundError as exc:
                raise PermanentStorageError(
                    f"GCS: GOOGLE_APPLICATION_CREDENTIALS points to {path}, which does not "
                    "exist. Download the service account's JSON key there."
                ) from exc
            except (ValueError, KeyError, TypeError) as exc:
                raise PermanentStorageError(
                    f"GCS: GOOGLE_APPLICATION_CREDENTIALS file {path} is not a valid "
                    f"service-account JSON key ({exc}). Create a new key for the service "
                    "account and point the variable at it."
                ) from exc
            return creds, info.get("project_id")
        if self.endpoint:
            return None, None  # emulator without signing credentials
        import google.auth
        import google.auth.exceptions

        try:
            creds, project = google.auth.default(
                scopes=["https://www.googleapis.com/auth/devstorage.read_write"]
            )
        except google.auth.exceptions.DefaultCredentialsError as exc:
            raise PermanentStorageError(
                "GCS: no credentials found. Set GOOGLE_APPLICATION_CREDENTIALS to a "
                "service-account JSON key file."
            ) from exc
        return creds, project

    def _ensure(self) -> None:
        pid = os.getpid()
        with self._lock:
            if self._client is not None and self._pid == pid:
                return
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import storage

            creds, project = self._load_credentials()
            project = self.project or project or "eventport"
            if self.endpoint:
                client = storage.Client(
                    project=project,
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    client_options={"api_endpoint": self.endpoint},
                )
            else:
                client = storage.Client(project=project, credentials=creds)
            self._client = client
            self._bucket = client.bucket(self.bucket_name)
            self._signer = creds
            self._pid = pid

    @property
    def bucket(self) -> Any:
        self._ensure()
        return self._bucket

    # -- errors --------------------------------------------------------------------------

    def _where(self, key: str | None) -> str:
        place = f"GCS: bucket {self.bucket_name!r}"
        if key is not None:
            place += f", key {self._path(key)!r}"
        if self.endpoint:
            place += f" at {self.endpoint}"
        return place

    def translate(self, exc: BaseException, key: str | None = None) -> BaseException:
        """Map google-cloud / requests / google-auth errors to the storage error family."""
        if isinstance(exc, StorageError):
            return exc
        cause = _retry_cause(exc)
        if cause is not None:
            return self.translate(cause, key)
        import google.auth.exceptions as gauth
        import requests
        from google.api_core import exceptions as gexc
        from google.resumable_media import common as rmc

        where = self._where(key)
        text = str(exc).splitlines()[0][:400] if str(exc) else type(exc).__name__
        status: int | None = None
        if isinstance(exc, gexc.GoogleAPICallError):
            status = exc.code
        elif isinstance(exc, rmc.InvalidResponse):
            status = getattr(exc.response, "status_code", None)
        if status == 404:
            if key is None or ("bucket" in text.lower() and "not exist" in text.lower()):
                return PermanentStorageError(
                    f"{where}: the bucket does not exist ({text}). Create it (Eventport does "
                    "not create buckets) or fix the name in EVENTPORT_STORAGE_URL."
                )
            return ObjectNotFound(f"{where}: object not found")
        if status in (401, 403) or isinstance(exc, gauth.RefreshError):
            return PermanentStorageError(
                f"{where}: access denied ({text}). {self.credentials_hint}"
            )
        if status is not None and (status >= 500 or status in (408, 429)):
            return TransientStorageError(
                f"{where}: the service answered {status} ({text}); it kept failing after "
                "retries — try again later."
            )
        if status == 416:
            return StorageError(f"{where}: requested range starts past the end")
        if status is not None and 400 <= status < 500:
            return PermanentStorageError(f"{where}: request refused ({text})")
        if isinstance(exc, requests.ConnectionError | requests.Timeout | gauth.TransportError):
            return TransientStorageError(
                f"{where}: cannot reach the service ({text}). Check endpoint_url in "
                "EVENTPORT_STORAGE_URL, DNS and network/proxy settings, and that the service "
                "is up."
            )
        return exc

    def translate_write(self, exc: BaseException, key: str) -> BaseException:
        """As :meth:`translate`, but a 404 while uploading can only mean a missing bucket."""
        err = self.translate(exc, key)
        if isinstance(err, ObjectNotFound):
            return PermanentStorageError(
                f"{self._where(key)}: upload refused with 404: the bucket does not exist. "
                "Create it (Eventport does not create buckets) or fix the name in "
                "EVENTPORT_STORAGE_URL."
            )
        return err

    def _call(self, fn: Any, key: str | None, what: str) -> Any:
        return call_with_retry(fn, lambda e: self.translate(e, key), what=f"GCS {what} {key or ''}")

    def discard_damaged(self, key: str, exc: BaseException) -> StorageError:
        """Delete the object a finalized-but-damaged upload left (only that generation,
        so a good object written meanwhile survives) and say what happened: a damaged
        object under the key must never look like a stored file."""
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        generation: int | None = None
        with contextlib.suppress(Exception):
            generation = int(exc.response.json()["generation"])  # type: ignore[attr-defined]
        blob = self._blob(key)

        def remove() -> None:
            from google.api_core import exceptions as gexc

            with contextlib.suppress(gexc.NotFound, gexc.PreconditionFailed):
                blob.delete(if_generation_match=generation, timeout=TIMEOUT, retry=None)

        try:
            self._call(remove, key, "delete damaged upload")
        except StorageError as err:
            return StorageError(f"{self._where(key)}: the upload arrived damaged ({text}) and "
                                f"the damaged object could not be deleted ({err}); delete it "
                                "by hand")
        return StorageError(f"{self._where(key)}: the upload arrived damaged ({text}); the "
                            "damaged object was deleted. Try again.")

    # -- keys ----------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        return join_key(self.prefix, key)

    def _blob(self, key: str) -> Any:
        validate_key(key)
        return self.bucket.blob(self._path(key), chunk_size=CHUNK_SIZE)

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        filename: str | None = None,
    ) -> Iterator[_GCSWriter]:
        blob = self._blob(key)
        validate_metadata(metadata)
        if metadata:
            blob.metadata = dict(metadata)
        if filename:
            blob.content_disposition = content_disposition(filename)
        blob.content_type = content_type
        try:
            raw = blob.open(
                "wb",
                chunk_size=CHUNK_SIZE,
                ignore_flush=True,
                content_type=content_type,
                retry=_upload_retry(),
                timeout=TIMEOUT,
            )
        except Exception as exc:
            raise self.translate_write(exc, key) from exc
        w = _GCSWriter(raw, key, self)
        try:
            yield w
        except BaseException:
            w.abort()
            raise
        try:
            w.close()
        except BaseException:
            w.abort()
            raise

    # -- reading -------------------------------------------------------------------------

    def _get_blob(self, key: str) -> Any:
        validate_key(key)
        bucket = self.bucket
        path = self._path(key)

        def fetch() -> Any:
            from google.api_core import exceptions as gexc

            try:
                blob = bucket.get_blob(path, timeout=TIMEOUT, retry=None)
            except gexc.NotFound:
                blob = None
            if blob is None:
                raise ObjectNotFound(f"{self._where(key)}: object not found")
            return blob

        return self._call(fetch, key, "stat")

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        blob = self._get_blob(key)
        start, end = clamp_range(start, end, int(blob.size or 0))
        return self._read(blob, key, start, end if end is not None else int(blob.size or 0))

    def _read(self, blob: Any, key: str, start: int, end: int) -> Iterator[bytes]:
        """Ranged GETs of READ_CHUNK each, pinned to the generation seen by stat, so a
        concurrent overwrite fails the read instead of splicing two versions."""
        position = start
        while position < end:
            stop = min(position + READ_CHUNK, end)
            chunk = self._call(
                lambda position=position, stop=stop: blob.download_as_bytes(
                    start=position,
                    end=stop - 1,
                    if_generation_match=blob.generation,
                    checksum=None,
                    timeout=TIMEOUT,
                    retry=None,
                ),
                key,
                "get",
            )
            if not chunk:
                return
            position += len(chunk)
            yield chunk

    @staticmethod
    def _info(key: str, blob: Any) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=int(blob.size or 0),
            last_modified=blob.updated,
            content_type=blob.content_type,
            metadata=dict(blob.metadata or {}),
        )

    def stat(self, key: str) -> ObjectInfo:
        return self._info(key, self._get_blob(key))

    def exists(self, key: str) -> bool:
        try:
            self._get_blob(key)
        except ObjectNotFound:
            return False
        return True

    # -- deleting and listing ------------------------------------------------------------

    def delete(self, key: str) -> None:
        blob = self._blob(key)

        def remove() -> None:
            from google.api_core import exceptions as gexc

            with contextlib.suppress(gexc.NotFound):
                blob.delete(timeout=TIMEOUT, retry=None)

        self._call(remove, key, "delete")

    def move(self, source: str, target: str) -> None:
        """Server-side copy (keeps content type and metadata), then delete the source."""
        blob = self._blob(source)
        self._blob(target)  # validates the target key

        def copy() -> None:
            self.bucket.copy_blob(blob, self.bucket, self._path(target), timeout=TIMEOUT)

        self._call(copy, source, "move")
        self.delete(source)

    def _iter_blobs(self, prefix: str) -> Iterator[Any]:
        validate_key(prefix, allow_prefix=True)
        self._ensure()
        full = (
            join_key(self.prefix, prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        )
        pages = self._call(
            lambda: iter(
                self._client.list_blobs(
                    self.bucket_name, prefix=full or None, timeout=TIMEOUT, retry=None
                ).pages
            ),
            None,
            "list",
        )
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except Exception as exc:
                raise self.translate(exc) from exc
            yield from page

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for blob in self._iter_blobs(prefix):
            try:
                key = strip_prefix(self.prefix, blob.name)
                validate_key(key)
            except (ValueError, InvalidKey):
                continue  # not an object Eventport could have written
            yield self._info(key, blob)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for info in list(self.list(prefix)):
            self.delete(info.key)
            count += 1
        return count

    # -- URLs and health -----------------------------------------------------------------

    def signed_url(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A V4 signed GET URL, signed offline with the service-account key (or via IAM
        signBlob for keyless credentials); ``filename`` overrides the stored one."""
        if expires_in <= 0:
            raise ValueError(f"expires_in must be positive, got {expires_in}")
        blob = self._blob(key)
        signer = self._signer
        if signer is None:
            raise PermanentStorageError(
                f"{self._where(key)}: cannot sign URLs without service-account credentials; "
                "set GOOGLE_APPLICATION_CREDENTIALS to a service-account JSON key."
            )
        kwargs: dict[str, Any] = {
            "version": "v4",
            "method": "GET",
            "expiration": dt.timedelta(seconds=expires_in),
        }
        if filename:
            kwargs["response_disposition"] = content_disposition(filename)
        if self.endpoint:
            kwargs["api_access_endpoint"] = self.endpoint
        if hasattr(signer, "sign_bytes") and hasattr(signer, "signer_email"):
            kwargs["credentials"] = signer
        else:
            # Keyless credentials (workload identity): sign through IAM signBlob.
            import google.auth.transport.requests

            signer.refresh(google.auth.transport.requests.Request())
            kwargs["service_account_email"] = signer.service_account_email
            kwargs["access_token"] = signer.token
        try:
            return str(blob.generate_signed_url(**kwargs))
        except Exception as exc:
            raise self.translate(exc, key) from exc

    def check(self) -> None:
        """List at most one object: proves the endpoint, credentials and bucket at once."""
        self._ensure()

        def probe() -> None:
            iterator = self._client.list_blobs(
                self.bucket_name, max_results=1, timeout=TIMEOUT, retry=None
            )
            for _ in iterator:
                break

        self._call(probe, None, "check")
