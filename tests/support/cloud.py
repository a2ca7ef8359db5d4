"""One real storage server per cloud backend behind a cuttable proxy, for fault tests.

Eventport is pointed at the proxy (``url``); the test inspects what a fault left through
the server itself (``direct_url``, ``open_uploads``), never through the cut network.
What "open upload" means differs by backend, and so does how it can be seen:

* S3 (moto): multipart uploads, listed with ListMultipartUploads;
* Azure (Azurite): uncommitted blocks of a key, seen with Get Block List — there is no
  way to list them for a prefix, nor an API to abort them (Azure drops them after 7 days);
* GCS (fake-gcs-server): resumable sessions, which no API lists (``None``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eventport.config import get_settings
from eventport.storage import reset_storage_cache
from tests.storage.servers import (
    AZURITE_KEY,
    BUCKET,
    Server,
    start_azurite,
    start_fake_gcs,
    start_moto,
    write_service_account,
)
from tests.support.proxy import CuttableProxy

STARTERS = {"s3": start_moto, "azure": start_azurite, "gcs": start_fake_gcs}


@dataclass
class Cloud:
    name: str
    server: Server
    proxy: CuttableProxy
    work: Path

    def _url(self, prefix: str, endpoint: str) -> str:
        scheme = {"s3": "s3", "azure": "az", "gcs": "gs"}[self.name]
        region = "&region=us-east-1" if self.name == "s3" else ""
        return f"{scheme}://{BUCKET}/{prefix}?endpoint_url={endpoint}{region}"

    def url(self, prefix: str) -> str:
        """Through the proxy: what Eventport uses."""
        proxied = self.server.endpoint.replace(f":{self.server.port}", f":{self.proxy.port}")
        return self._url(prefix, proxied)

    def direct_url(self, prefix: str) -> str:
        return self._url(prefix, self.server.endpoint)

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The credentials this backend reads from the environment."""
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(self.work / "sa.json"))
        for var in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME",
                    "AZURE_STORAGE_ACCOUNT_KEY"):
            monkeypatch.delenv(var, raising=False)

    def open_uploads(self, prefix: str, keys: Iterable[str] = ()) -> list[str] | None:
        """Unfinished uploads the server still holds under ``prefix`` (S3) or for
        ``keys`` (Azure: the keys that have uncommitted blocks); ``None`` where the server
        cannot tell (GCS)."""
        if self.name == "s3":
            import boto3

            client = boto3.client("s3", endpoint_url=self.server.endpoint,
                                  region_name="us-east-1", aws_access_key_id="test",
                                  aws_secret_access_key="test")
            listed = client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/")
            return [u["Key"] for u in listed.get("Uploads", [])]
        if self.name == "azure":
            return [key for key in keys if _uncommitted_blocks(self.server, f"{prefix}/{key}")]
        return None

    def stop(self) -> None:
        self.proxy.close()
        self.server.stop()


def _uncommitted_blocks(server: Server, name: str) -> int:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobClient

    blob = BlobClient(server.endpoint, BUCKET, name, credential={
        "account_name": "devstoreaccount1", "account_key": AZURITE_KEY})
    try:
        _, uncommitted = blob.get_block_list("uncommitted")
    except ResourceNotFoundError:
        return 0
    return len(uncommitted)


def start_cloud(name: str, work: Path) -> Cloud:
    os.makedirs(work, exist_ok=True)
    write_service_account(work / "sa.json")
    server = STARTERS[name](work)
    return Cloud(name, server, CuttableProxy(server.port), work)


def serve_storage(name: str, work: Path, monkeypatch: pytest.MonkeyPatch,
                  prefix: str) -> Iterator[Cloud]:
    """A fixture body: Eventport's storage on this cloud's server directly (no proxy),
    under a fresh ``<prefix>-<random>/`` key prefix, for the test's whole length."""
    cloud = start_cloud(name, work)
    cloud.use(monkeypatch)
    monkeypatch.setenv("EVENTPORT_STORAGE_URL",
                       cloud.direct_url(f"{prefix}-{uuid.uuid4().hex[:8]}"))
    get_settings.cache_clear()
    reset_storage_cache()
    try:
        yield cloud
    finally:
        cloud.stop()
        reset_storage_cache()
