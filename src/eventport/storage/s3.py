"""Amazon S3 and S3-compatible stores (``s3://bucket/prefix``).

URL options (query string): ``endpoint_url`` (MinIO, Ceph, R2, a local test server…),
``region`` (default: ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else ``us-east-1``) and
``virtual_hosted`` (``true``/``false``; default: virtual-hosted on AWS, path-style on a
custom endpoint, which is what S3-compatible servers expect).

Credentials come from the usual AWS sources — ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, web identity, container or instance
roles — as obstore reads them; none belong in the URL (it ends up in logs).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from obstore.store import S3Store

from eventport.storage._common import parse_bucket_url
from eventport.storage._obstore import CLIENT_OPTIONS, ObstoreBackend, client_retry
from eventport.storage.base import StorageError, validate_key

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class S3Storage(ObstoreBackend):
    backend = "S3"
    bucket_word = "bucket"
    missing_bucket_codes = frozenset({"NoSuchBucket"})
    credentials_hint = (
        "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the instance/role credentials), "
        "that they belong to this account, and that the bucket policy allows "
        "s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket and "
        "s3:AbortMultipartUpload."
    )

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        virtual_hosted: bool | None = None,
        url: str | None = None,
    ) -> None:
        if not bucket:
            raise StorageError("S3 storage URL needs a bucket: s3://bucket/optional/prefix")
        super().__init__(
            url=url or f"s3://{bucket}/{prefix}".rstrip("/"),
            bucket=bucket,
            prefix=prefix,
            endpoint=endpoint,
        )
        self.region = (
            region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        ) or "us-east-1"
        self.virtual_hosted = (endpoint is None) if virtual_hosted is None else virtual_hosted

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        parsed = parse_bucket_url(
            url,
            name="S3",
            scheme="s3",
            article="an",
            options=("endpoint_url", "region", "virtual_hosted"),
            credentials_from="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
        query = parsed.options
        virtual: bool | None = None
        if "virtual_hosted" in query:
            value = query["virtual_hosted"].lower()
            if value not in _TRUE | _FALSE:
                raise StorageError("virtual_hosted must be true or false")
            virtual = value in _TRUE
        return cls(
            parsed.bucket,
            parsed.prefix,
            endpoint=parsed.endpoint,
            region=query.get("region") or None,
            virtual_hosted=virtual,
            url=parsed.url,
        )

    def abort_incomplete_uploads(self, prefix: str, older_than: dt.datetime | None = None,
                                 *, exact: bool = False) -> int:
        """Abort multipart uploads left open under ``prefix`` (``exact``: of that key
        only); returns how many.

        A worker killed mid-upload (SIGKILL, OOM, a lost node) cannot abort its own
        upload, and the parts it sent are billed until someone does; the job's next
        attempt calls this for the job's prefix. obstore cannot list uploads, so this one
        maintenance call uses boto3 with the same endpoint, region and credentials.
        Operators should still give buckets a lifecycle rule that aborts incomplete
        uploads after a day, for uploads no retry will come back for.
        """
        validate_key(prefix, allow_prefix=True)
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region,
            config=Config(s3={"addressing_style": "virtual" if self.virtual_hosted else "path"},
                          retries={"max_attempts": 4, "mode": "standard"}),
        )
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        aborted = 0
        try:
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=full_prefix)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if older_than is not None and upload["Initiated"] >= older_than:
                        continue  # maybe still being written: the sweep's next run decides
                    if exact and upload["Key"] != full_prefix:
                        continue  # another key that merely starts with this one
                    aborted += self._abort_upload(client, upload)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(
                f"S3 bucket {self.bucket!r}: could not list incomplete uploads under "
                f"{full_prefix!r} ({exc}). {self.credentials_hint}"
            ) from exc
        return aborted

    def _abort_upload(self, client: Any, upload: dict[str, Any]) -> int:
        """Abort one listed upload; 1 if this call aborted it, 0 if it was gone already.

        The error names the key and the upload id, so an operator can abort exactly that
        upload by hand (``aws s3api abort-multipart-upload``) when the sweep cannot.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                          UploadId=upload["UploadId"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return 0  # completed or aborted meanwhile (the job's own abort won)
            raise self._abort_failed(upload, exc) from exc
        except BotoCoreError as exc:
            raise self._abort_failed(upload, exc) from exc
        return 1

    def _abort_failed(self, upload: dict[str, Any], exc: BaseException) -> StorageError:
        return StorageError(
            f"S3 bucket {self.bucket!r}: could not abort the incomplete upload of key "
            f"{upload['Key']!r} (upload id {upload['UploadId']}) ({exc}). "
            f"{self.credentials_hint}"
        )

    def _build_store(self) -> Any:
        options = dict(CLIENT_OPTIONS)
        config: dict[str, Any] = {
            "region": self.region,
            "virtual_hosted_style_request": self.virtual_hosted,
        }
        if self.endpoint:
            config["endpoint"] = self.endpoint.rstrip("/")
            if self.endpoint.startswith("http://"):
                options["allow_http"] = True
        return S3Store(
            self.bucket,
            prefix=self.prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options=options,  # type: ignore[arg-type]
            retry_config=client_retry(),  # type: ignore[arg-type]
        )
