"""Azure Blob Storage (``az://container/prefix``).

Credentials, first match wins:

1. ``AZURE_STORAGE_CONNECTION_STRING`` (``AccountName=…;AccountKey=…`` and optionally
   ``BlobEndpoint=…``, or ``…;SharedAccessSignature=…``) — what the Azure portal hands out;
2. ``AZURE_STORAGE_ACCOUNT_NAME`` + ``AZURE_STORAGE_ACCOUNT_KEY``;
3. whatever else obstore reads from the environment (``AZURE_CLIENT_ID`` /
   ``AZURE_CLIENT_SECRET`` / ``AZURE_TENANT_ID``, managed identity, …).

``?endpoint_url=http://127.0.0.1:10000/devstoreaccount1`` points at Azurite or another
endpoint; with no credentials set, an endpoint whose path is ``/devstoreaccount1`` uses
Azurite's well-known development account.

Signed URLs are service SAS tokens signed locally with the account key (a SAS cannot be
made from a client secret without a user-delegation key, which obstore does not do).
Uncommitted blocks of an aborted upload are not visible as a blob and are dropped by
Azure itself after about a week.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from obstore.store import AzureStore

from eventport.storage._common import parse_bucket_url
from eventport.storage._obstore import CLIENT_OPTIONS, ObstoreBackend, client_retry
from eventport.storage.base import StorageError

#: Azurite's published development account (documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def parse_connection_string(value: str) -> dict[str, str]:
    """``Key=Value;Key=Value`` into a dict (values may contain ``=``, e.g. base64 keys)."""
    result: dict[str, str] = {}
    for item in value.split(";"):
        if not item.strip():
            continue
        name, sep, val = item.partition("=")
        if not sep:
            raise StorageError(
                "AZURE_STORAGE_CONNECTION_STRING is malformed: expected Key=Value pairs "
                "separated by ';' (copy it again from the storage account's Access keys page)"
            )
        result[name.strip()] = val.strip()
    return result


class AzureStorage(ObstoreBackend):
    backend = "Azure Blob"
    bucket_word = "container"
    missing_bucket_codes = frozenset({"ContainerNotFound"})
    credentials_hint = (
        "Check AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME and "
        "AZURE_STORAGE_ACCOUNT_KEY (the key must belong to that account and not have been "
        "rotated), and that the account allows Shared Key access."
    )

    def __init__(
        self,
        container: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        url: str | None = None,
    ) -> None:
        if not container:
            raise StorageError("Azure storage URL needs a container: az://container/prefix")
        super().__init__(
            url=url or f"az://{container}/{prefix}".rstrip("/"),
            bucket=container,
            prefix=prefix,
            endpoint=endpoint,
        )

    @classmethod
    def from_url(cls, url: str) -> AzureStorage:
        parsed = parse_bucket_url(
            url,
            name="Azure",
            scheme="az",
            article="an",
            options=("endpoint_url",),
            credentials_from=(
                "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_NAME/_KEY"
            ),
        )
        return cls(parsed.bucket, parsed.prefix, endpoint=parsed.endpoint, url=parsed.url)

    def _credentials(self) -> dict[str, Any]:
        """Account name/key/SAS/endpoint from the environment, as documented above."""
        config: dict[str, Any] = {}
        conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if conn:
            fields = parse_connection_string(conn)
            if fields.get("UseDevelopmentStorage", "").lower() == "true":
                config.update(account_name=AZURITE_ACCOUNT, account_key=AZURITE_KEY)
                config.setdefault("endpoint", "http://127.0.0.1:10000/devstoreaccount1")
            if "AccountName" in fields:
                config["account_name"] = fields["AccountName"]
            if "AccountKey" in fields:
                config["account_key"] = fields["AccountKey"]
            if "SharedAccessSignature" in fields:
                config["sas_key"] = fields["SharedAccessSignature"]
            if "BlobEndpoint" in fields:
                config["endpoint"] = fields["BlobEndpoint"]
            if "account_name" not in config:
                raise StorageError(
                    "AZURE_STORAGE_CONNECTION_STRING has no AccountName; copy the full "
                    "connection string from the storage account's Access keys page"
                )
        else:
            name = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
            key = os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
            if name:
                config["account_name"] = name
            if key:
                config["account_key"] = key
        if self.endpoint:
            config["endpoint"] = self.endpoint.rstrip("/")
            if "account_name" not in config:
                path = urlsplit(self.endpoint).path.strip("/")
                if path == AZURITE_ACCOUNT:
                    config.update(account_name=AZURITE_ACCOUNT, account_key=AZURITE_KEY)
                elif path:
                    config["account_name"] = path.split("/")[0]
        if "account_name" not in config and not os.environ.get("AZURE_STORAGE_ACCOUNT"):
            raise StorageError(
                "Azure storage: no account configured. Set AZURE_STORAGE_CONNECTION_STRING, "
                "or AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY."
            )
        return config

    def _build_store(self) -> Any:
        options = dict(CLIENT_OPTIONS)
        config = self._credentials()
        endpoint = config.get("endpoint")
        if isinstance(endpoint, str) and endpoint.startswith("http://"):
            options["allow_http"] = True
        return AzureStore(
            self.bucket,
            prefix=self.prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options=options,  # type: ignore[arg-type]
            retry_config=client_retry(),  # type: ignore[arg-type]
        )
