"""What a write reports, and leaves, when the network to a real storage server breaks
(issue 12): the job's error must be the cause an operator can act on, within the retry
budget the operator set, and no broken or damaged object may stay behind.

Each server is reached through a :class:`~tests.support.proxy.CuttableProxy`; the cut is
a real refused/reset connection, not a mock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from eventport.config import get_settings
from eventport.storage import StorageError, TransientStorageError, open_storage
from eventport.storage.retry import call_with_retry
from eventport.storage.s3 import S3Storage
from tests.storage.servers import BUCKET, Server
from tests.support.proxy import CuttableProxy

PART = 8 * 1024 * 1024


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[float], None]]:
    def set_budget(seconds: float) -> None:
        monkeypatch.setenv("EVENTPORT_STORAGE_RETRY_SECONDS", str(seconds))
        get_settings.cache_clear()

    yield set_budget
    get_settings.cache_clear()


def _cloud_url(name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
               endpoint_of: Callable[[Server], str]) -> str:
    """A fresh prefix on the named server, reached at ``endpoint_of(server)``."""
    run = uuid.uuid4().hex[:10]
    if name == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        server = request.getfixturevalue("moto_server")
        return f"s3://{BUCKET}/{run}?endpoint_url={endpoint_of(server)}&region=us-east-1"
    if name == "gcs":
        sa = request.getfixturevalue("service_account_file")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa))
        return f"gs://{BUCKET}/{run}?endpoint_url={endpoint_of(request.getfixturevalue('gcs_server'))}"
    for var in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME",
                "AZURE_STORAGE_ACCOUNT_KEY"):
        monkeypatch.delenv(var, raising=False)
    server = request.getfixturevalue("azurite_server")
    return f"az://{BUCKET}/{run}?endpoint_url={endpoint_of(server)}"


def _proxied(server: Server, proxies: list[CuttableProxy]) -> str:
    proxy = CuttableProxy(server.port)
    proxies.append(proxy)
    return server.endpoint.replace(f":{server.port}", f":{proxy.port}")


@pytest.fixture
def proxies() -> Iterator[list[CuttableProxy]]:
    made: list[CuttableProxy] = []
    yield made
    for proxy in made:
        proxy.close()


def _moto_client(moto: Server) -> Any:
    """boto3 straight to moto (not through the proxy), to set up and inspect uploads."""
    return boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _open_uploads(moto: Server, prefix: str) -> list[str]:
    return [u["Key"] for u in _moto_client(moto).list_multipart_uploads(
        Bucket=BUCKET, Prefix=prefix).get("Uploads", [])]


def _s3_through_proxy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                      proxies: list[CuttableProxy]) -> tuple[Server, str, str, Any]:
    """moto, Eventport's URL for a fresh prefix on it (through a proxy), that prefix, and
    a boto3 client straight to moto."""
    moto = request.getfixturevalue("moto_server")
    url = _cloud_url("s3", request, monkeypatch, lambda s: _proxied(s, proxies))
    return moto, url, _prefix(url), _moto_client(moto)


@pytest.mark.parametrize("name", ["s3", "gcs", "azure"])
def test_a_cut_longer_than_the_budget_fails_in_time_with_the_cause(
        name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
        budget: Callable[[float], None], proxies: list[CuttableProxy]) -> None:
    """A 6 s cut against a 2 s budget. GCS used to ignore EVENTPORT_STORAGE_RETRY_SECONDS
    (a fixed 60 s) and to report google's ``RetryError("Timeout of 60.0s exceeded")``
    instead of the refused connection. S3's abort rides the rest of the cut out (up to
    30 s), so the failure may come when the network is back, with the upload aborted."""
    budget(2)
    url = _cloud_url(name, request, monkeypatch, lambda s: _proxied(s, proxies))
    direct = open_storage(_swap_endpoint(url, proxies[0]))
    started = time.monotonic()
    with pytest.raises(StorageError) as failure:
        with open_storage(url).writer("exports/cut.zip") as out:
            out.write(os.urandom(PART))
            out.write(os.urandom(PART))
            proxies[0].cut()
            threading.Timer(6, proxies[0].restore).start()
            for _ in range(3):
                out.write(os.urandom(PART))
    took = time.monotonic() - started
    assert isinstance(failure.value, TransientStorageError), repr(failure.value)
    assert "cannot reach" in str(failure.value) and "Timeout of" not in str(failure.value)
    assert took < 16, f"a 2 s budget took {took:.1f}s"
    time.sleep(max(0.0, 6.5 - took))
    assert list(direct.list("")) == []
    if name == "s3":
        assert _open_uploads(request.getfixturevalue("moto_server"), _prefix(url)) == []
    print(f"FAULT-WRITE {name}: cut > 2 s budget → {type(failure.value).__name__} "
          f"after {took:.1f}s, no object, no open upload")


def _prefix(url: str) -> str:
    return urlsplit(url).path.strip("/")


def _swap_endpoint(url: str, proxy: CuttableProxy) -> str:
    """The same URL, straight to the server (to inspect what the cut left)."""
    return url.replace(f":{proxy.port}", f":{proxy.target_port}")


def test_gcs_a_chunk_cut_mid_way_leaves_no_damaged_object(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
        budget: Callable[[float], None], proxies: list[CuttableProxy]) -> None:
    """A chunk cut mid-transfer and resent: fake-gcs-server appends the resent chunk to
    the part it got, finalizes a wrong object and the client raises DataCorruption. The
    object under the key must then be deleted — never left as if stored."""
    budget(30)
    url = _cloud_url("gcs", request, monkeypatch, lambda s: _proxied(s, proxies))
    storage, direct = open_storage(url), open_storage(_swap_endpoint(url, proxies[0]))
    outcomes = []
    for trial in range(3):
        key, digest = f"media/t{trial}.bin", hashlib.sha256()
        try:
            with storage.writer(key) as out:
                for i in range(3):
                    data = os.urandom(PART)
                    digest.update(data)
                    if i == 1:  # cut while this chunk is on the wire, back 1 s later
                        threading.Timer(0.02 + 0.01 * trial, proxies[0].cut).start()
                        threading.Timer(1.0, proxies[0].restore).start()
                    out.write(data)
            outcomes.append("stored")
            assert hashlib.sha256(b"".join(direct.open(key))).hexdigest() == digest.hexdigest()
        except StorageError as exc:
            outcomes.append("damaged" if "damaged" in str(exc) else "failed")
            time.sleep(1.2)
            assert not direct.exists(key), f"{key} left behind after {exc}"
        time.sleep(1.2)
    print(f"FAULT-WRITE gcs chunk cut mid-way ×3: {outcomes}")


def test_the_sweep_names_the_s3_upload_it_could_not_abort(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
        proxies: list[CuttableProxy], tmp_path: Path) -> None:
    """The network breaks between listing the open uploads and aborting one: the error
    names the key and the upload id (what an operator needs to abort it by hand)."""
    moto, url, prefix, client = _s3_through_proxy(request, monkeypatch, proxies)
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=f"{prefix}/events/1/x.zip")
    storage = open_storage(url)
    assert isinstance(storage, S3Storage)
    assert _open_uploads(moto, prefix) == [f"{prefix}/events/1/x.zip"]
    with _before_abort(lambda: proxies[0].cut()), pytest.raises(StorageError) as failure:
        storage.abort_incomplete_uploads("events/")
    assert f"{prefix}/events/1/x.zip" in str(failure.value)
    assert upload["UploadId"] in str(failure.value)
    proxies[0].restore()

    def abort_it_first() -> None:  # the job's own abort wins the race with the sweep
        client.abort_multipart_upload(Bucket=BUCKET, Key=f"{prefix}/events/1/x.zip",
                                      UploadId=upload["UploadId"])

    with _before_abort(abort_it_first):
        assert storage.abort_incomplete_uploads("events/") == 0
    assert _open_uploads(moto, prefix) == []


@contextlib.contextmanager
def _before_abort(action: Callable[[], None]) -> Iterator[None]:
    """Run ``action`` just before boto3 sends AbortMultipartUpload (the default session's
    clients only: the one the sweep makes)."""
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call.s3.AbortMultipartUpload",
                                          lambda **_: action())
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = None


def test_whole_call_retries_stop_once_the_budget_is_spent() -> None:
    """A client that already retried for the whole budget (obstore's retry_timeout) is not
    called again: three more attempts made a 3 s budget last 25 s on Azure."""
    now = [0.0]
    calls = []

    def refused() -> None:
        calls.append(now[0])
        now[0] += 3.1  # the client's own retries used the budget up
        raise ConnectionRefusedError("refused")

    with pytest.raises(TransientStorageError):
        call_with_retry(refused, lambda e: TransientStorageError(str(e)), budget=3,
                        clock=lambda: now[0], sleep=lambda s: None)
    assert calls == [0.0]
    calls.clear()
    now[0] = 0.0

    def quick() -> None:  # fails fast: retried as before
        calls.append(now[0])
        raise ConnectionResetError("reset")

    with pytest.raises(TransientStorageError):
        call_with_retry(quick, lambda e: TransientStorageError(str(e)), budget=3,
                        clock=lambda: now[0], sleep=lambda s: None)
    assert len(calls) == 4


def test_s3_a_completed_upload_leaves_no_other_upload_of_its_key_open(
        request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
        proxies: list[CuttableProxy]) -> None:
    """A CreateMultipartUpload whose answer an outage swallowed is retried by the client:
    the first upload it opened stays open, billed, unknown to the writer (CI saw one
    after a 20 s cut). Once the write completes, no upload of that key may stay open."""
    moto, url, prefix, client = _s3_through_proxy(request, monkeypatch, proxies)
    other = client.create_multipart_upload(Bucket=BUCKET, Key=f"{prefix}/events/1/a.zip2")
    for key, write in (("events/1/a.zip", "writer"), ("events/1/b.zip", "put_stream")):
        client.create_multipart_upload(Bucket=BUCKET, Key=f"{prefix}/{key}")  # the lost one
        data = [os.urandom(PART), os.urandom(PART), b"end"]
        storage = open_storage(url)
        if write == "writer":
            with storage.writer(key) as out:
                for chunk in data:
                    out.write(chunk)
        else:
            storage.put_stream(key, iter(data))
        assert b"".join(storage.open(key)) == b"".join(data)
    # another key that merely starts with a written one is not this write's business
    assert _open_uploads(moto, prefix) == [f"{prefix}/events/1/a.zip2"]
    client.abort_multipart_upload(Bucket=BUCKET, Key=f"{prefix}/events/1/a.zip2",
                                  UploadId=other["UploadId"])
