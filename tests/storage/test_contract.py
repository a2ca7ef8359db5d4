"""One contract, every backend: local, memory, S3 (moto), GCS (fake-gcs-server), Azure (Azurite).

Everything goes over real HTTP to a real server on 127.0.0.1 (see conftest.py). Where
an emulator cannot prove something the real service does (moto and fake-gcs-server do
not check signatures or expiry), the test proves it on a server that does (s3rver,
Azurite, Eventport's own download route) and says so.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from eventport.config import get_settings
from eventport.storage import InvalidKey, ObjectNotFound, PermanentStorageError, StorageError
from eventport.storage.check import run_storage_check
from eventport.storage.local import LocalStorage

from .conftest import BACKENDS, Backend
from .servers import AZURITE_KEY, BUCKET, free_port

MiB = 1024 * 1024


def generated(total_mib: int, seed: bytes = b"") -> Iterator[bytes]:
    """Deterministic, incompressible, never held whole: one random MiB stamped with a counter."""
    block = bytearray(os.urandom(MiB) if not seed else hashlib.sha256(seed).digest() * (MiB // 32))
    for i in range(total_mib):
        block[:8] = i.to_bytes(8, "big")
        yield bytes(block)


class HashingIter:
    """Hash what a producer yields while the storage consumes it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.sha = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.sha.update(chunk)
            self.size += len(chunk)
            yield chunk


def failing(after_mib: int) -> Iterator[bytes]:
    yield from generated(after_mib)
    raise RuntimeError("producer failed on purpose")


def read_all(backend: Backend, key: str, **kw: int | None) -> bytes:
    return b"".join(backend.storage.open(key, **kw))  # type: ignore[arg-type]


# -- round trips -------------------------------------------------------------------------


def test_small_round_trip(backend: Backend) -> None:
    s = backend.storage
    data = b"hello, portable world\n" * 10
    result = s.put_stream(
        "media/speakers/1.txt",
        [data[:7], data[7:]],
        content_type="text/plain",
        metadata={"event": "42"},
        filename="speaker 1.txt",
    )
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert read_all(backend, "media/speakers/1.txt") == data
    info = s.stat("media/speakers/1.txt")
    assert info.size == len(data)
    assert info.content_type == "text/plain"
    assert dict(info.metadata) == {"event": "42"}
    assert info.last_modified is not None
    assert s.exists("media/speakers/1.txt")
    assert not s.exists("media/speakers/2.txt")

    # A file-like input works too, and an overwrite replaces the object.
    s.put_stream("media/speakers/1.txt", io.BytesIO(b"v2"))
    assert read_all(backend, "media/speakers/1.txt") == b"v2"

    empty = s.put_stream("empty.bin", [])
    assert (empty.size, empty.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert read_all(backend, "empty.bin") == b""


def test_large_streamed_round_trip(backend: Backend) -> None:
    """≥ 200 MB streamed in and out without holding it; hashes checked both ways."""
    producer = HashingIter(generated(200))
    started = time.monotonic()
    result = backend.storage.put_stream("exports/big.zip", producer, content_type="application/zip")
    put_s = time.monotonic() - started
    assert producer.size == 200 * MiB
    assert (result.size, result.sha256) == (producer.size, producer.sha.hexdigest())

    sha = hashlib.sha256()
    size = 0
    largest = 0
    for chunk in backend.storage.open("exports/big.zip"):
        sha.update(chunk)
        size += len(chunk)
        largest = max(largest, len(chunk))
    assert (size, sha.hexdigest()) == (result.size, result.sha256)
    assert largest <= 16 * MiB, "reads must stream in bounded chunks"
    assert backend.storage.stat("exports/big.zip").size == 200 * MiB
    print(f"{backend.name}: 200 MiB put in {put_s:.1f}s")


def test_writer_commits_a_zip_written_straight_into_it(backend: Backend) -> None:
    """zipfile writes into storage.writer() (non-seekable) and the result is a valid zip."""
    with backend.storage.writer("exports/w.zip", content_type="application/zip") as w:
        with zipfile.ZipFile(w, "w") as zf:  # type: ignore[arg-type]
            zf.writestr("event.json", b'{"name": "PyCon"}')
            with zf.open(zipfile.ZipInfo("media/big.bin"), "w", force_zip64=True) as entry:
                for chunk in generated(12):
                    entry.write(chunk)
    assert w.result is not None
    data = read_all(backend, "exports/w.zip")
    assert w.result.size == len(data)
    assert w.result.sha256 == hashlib.sha256(data).hexdigest()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert zf.read("event.json") == b'{"name": "PyCon"}'


# -- ranges, stat, list, delete ----------------------------------------------------------


def test_range_reads(backend: Backend) -> None:
    data = bytes(range(256)) * 40
    backend.storage.put_stream("r.bin", [data])
    assert read_all(backend, "r.bin", start=0, end=10) == data[:10]
    assert read_all(backend, "r.bin", start=100, end=2000) == data[100:2000]
    assert read_all(backend, "r.bin", start=5000) == data[5000:]
    assert read_all(backend, "r.bin", start=len(data) - 3) == data[-3:]
    assert read_all(backend, "r.bin", start=10, end=len(data) + 500) == data[10:]
    assert read_all(backend, "r.bin", start=7, end=7) == b""
    assert read_all(backend, "r.bin", start=len(data)) == b""
    with pytest.raises(ValueError):
        read_all(backend, "r.bin", start=20, end=10)
    with pytest.raises(ObjectNotFound):
        read_all(backend, "missing.bin")
    with pytest.raises(ObjectNotFound):
        backend.storage.stat("missing.bin")


def test_list_and_delete_prefix(backend: Backend) -> None:
    s = backend.storage
    keys = ["a/1.txt", "a/2.txt", "a/b/3.txt", "ab/4.txt", "b/5.txt"]
    for i, key in enumerate(keys):
        s.put_stream(key, [b"x" * (i + 1)])
    assert [i.key for i in s.list()] == sorted(keys)
    assert [i.key for i in s.list("a/")] == ["a/1.txt", "a/2.txt", "a/b/3.txt"]
    assert [i.key for i in s.list("a")] == ["a/1.txt", "a/2.txt", "a/b/3.txt", "ab/4.txt"]
    assert [i.key for i in s.list("a/b/")] == ["a/b/3.txt"]
    assert list(s.list("zzz/")) == []
    assert {i.key: i.size for i in s.list("a/")} == {"a/1.txt": 1, "a/2.txt": 2, "a/b/3.txt": 3}

    assert s.delete_prefix("a/") == 3
    assert [i.key for i in s.list()] == ["ab/4.txt", "b/5.txt"]
    s.delete("b/5.txt")
    s.delete("b/5.txt")  # deleting what is gone is not an error
    assert not s.exists("b/5.txt")
    assert s.delete_prefix("nothing/") == 0
    assert [i.key for i in s.list()] == ["ab/4.txt"]


def test_move_keeps_bytes_and_attributes(backend: Backend) -> None:
    """Staged objects go live by a move: same bytes, type and metadata; source gone."""
    s = backend.storage
    data = b"staged photo bytes" * 100
    s.put_stream("staging/job/1", [data], content_type="image/jpeg",
                 metadata={"import_job": "job"}, filename="ada.jpg")
    s.move("staging/job/1", "events/7/media/images/ada.jpg")
    assert read_all(backend, "events/7/media/images/ada.jpg") == data
    info = s.stat("events/7/media/images/ada.jpg")
    assert info.content_type == "image/jpeg"
    assert dict(info.metadata) == {"import_job": "job"}
    assert not s.exists("staging/job/1")
    assert [i.key for i in s.list("staging/")] == []
    with pytest.raises(ObjectNotFound):
        s.move("staging/job/1", "elsewhere/1")


@pytest.mark.parametrize(
    "key", ["../escape", "/etc/passwd", "a/../../b", "a//b", "a/./b", "nul\x00byte", "x\\y", ""]
)
def test_invalid_keys_refused(backend: Backend, key: str) -> None:
    with pytest.raises(InvalidKey):
        backend.storage.put_stream(key, [b"x"])
    with pytest.raises(InvalidKey):
        backend.storage.stat(key)


def test_overlong_key_refused(backend: Backend) -> None:
    with pytest.raises(InvalidKey):
        backend.storage.put_stream("k/" + "x" * 1000, [b"x"])


# -- aborts ------------------------------------------------------------------------------


def open_multipart_uploads(backend: Backend) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=backend.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=backend.prefix + "/")
    return [u["Key"] for u in uploads.get("Uploads", [])]


def test_s3_aborts_uploads_a_killed_worker_left_open(
    make_storage: Callable[[str], Backend],
) -> None:
    """A multipart upload started and never finished (the process died) is found and
    aborted under its prefix only; uploads elsewhere are left alone."""
    import boto3

    backend = make_storage("s3")
    client = boto3.client("s3", endpoint_url=backend.endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    for key in ("jobs/1/archive.zip", "jobs/2/archive.zip"):
        upload = client.create_multipart_upload(Bucket=BUCKET, Key=f"{backend.prefix}/{key}")
        client.upload_part(Bucket=BUCKET, Key=f"{backend.prefix}/{key}", PartNumber=1,
                           UploadId=upload["UploadId"], Body=b"x" * 1024)
    assert sorted(open_multipart_uploads(backend)) == [
        f"{backend.prefix}/jobs/1/archive.zip", f"{backend.prefix}/jobs/2/archive.zip"]
    assert backend.storage.abort_incomplete_uploads("jobs/1/") == 1  # type: ignore[attr-defined]
    assert open_multipart_uploads(backend) == [f"{backend.prefix}/jobs/2/archive.zip"]
    assert not backend.storage.exists("jobs/1/archive.zip")


def azure_visible_blob(backend: Backend, key: str) -> bool:
    from azure.storage.blob import BlobClient

    blob = BlobClient(
        account_url=backend.endpoint or "",
        container_name=BUCKET,
        blob_name=f"{backend.prefix}/{key}",
        credential={"account_name": "devstoreaccount1", "account_key": AZURITE_KEY},
    )
    return bool(blob.exists())


def assert_nothing_left(backend: Backend, key: str) -> None:
    assert not backend.storage.exists(key)
    assert [i.key for i in backend.storage.list("")] == ["keep/old.bin"]
    if backend.name == "s3":
        assert open_multipart_uploads(backend) == [], "an aborted put left a multipart upload"
    if backend.name == "azure":
        # No blob appears; Azure keeps the uncommitted blocks invisible until it drops them.
        assert not azure_visible_blob(backend, key)
    if backend.name == "local":
        assert isinstance(backend.storage, LocalStorage)
        assert list((backend.storage.root / ".tmp").iterdir()) == []


def test_failed_put_stream_leaves_nothing(backend: Backend) -> None:
    backend.storage.put_stream("keep/old.bin", [b"old"])
    with pytest.raises(RuntimeError, match="on purpose"):
        backend.storage.put_stream("exports/partial.zip", failing(20))
    assert_nothing_left(backend, "exports/partial.zip")
    # A failed overwrite keeps the previous object intact.
    with pytest.raises(RuntimeError, match="on purpose"):
        backend.storage.put_stream("keep/old.bin", failing(10))
    assert read_all(backend, "keep/old.bin") == b"old"


def test_writer_left_by_exception_leaves_nothing(backend: Backend) -> None:
    backend.storage.put_stream("keep/old.bin", [b"old"])
    with pytest.raises(RuntimeError, match="on purpose"):
        with backend.storage.writer("exports/partial.zip") as w:
            for chunk in generated(20):
                w.write(chunk)
            raise RuntimeError("on purpose")
    assert w.result is None
    assert_nothing_left(backend, "exports/partial.zip")


# -- signed URLs -------------------------------------------------------------------------


def test_signed_url_fetched_with_plain_http(backend: Backend) -> None:
    data = b"archive bytes " * 1000
    backend.storage.put_stream(
        "exports/e1.zip", [data], content_type="application/zip", filename="pycon-2025.zip"
    )
    url = backend.storage.signed_url("exports/e1.zip", expires_in=300)
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert response.content == data
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment") and "pycon-2025.zip" in disposition

    ranged = httpx.get(url, headers={"Range": "bytes=14-27"}, timeout=30)
    assert ranged.status_code == 206
    assert ranged.content == data[14:28]

    # The expiry actually requested is what the URL carries.
    if backend.name in ("s3", "gcs"):
        query = parse_qs(urlsplit(url).query)
        ttl = query.get("X-Amz-Expires") or query.get("X-Goog-Expires")
        assert ttl == ["300"]


def _tamper(url: str) -> str:
    """Flip one character of the signature / token, keeping it well-formed.

    The signature is changed after decoding and re-encoded, so the server sees a valid
    but wrong signature (flipping a raw character could land inside a %-escape and make
    the URL malformed instead, which some servers answer with a 500).
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    for i, (name, value) in enumerate(query):
        if name in ("sig", "Signature", "X-Goog-Signature"):
            flipped = value[:2] + ("A" if value[2] != "A" else "B") + value[3:]
            query[i] = (name, flipped)
            return urlunsplit(parts._replace(query=urlencode(query)))
    # Eventport route: /api/v1/files/<payload>.<mac>
    index = len(url) - 5
    return url[:index] + ("A" if url[index] != "A" else "B") + url[index + 1 :]


@pytest.mark.parametrize("name", ["local", "memory", "azure"])
def test_signed_url_tampered_is_refused(make_storage: Callable[[str], Backend], name: str) -> None:
    """Servers that verify signatures: Eventport's route and Azurite (moto, fake-gcs and
    s3rver accept any signature — an emulator gap; real S3/GCS verify them)."""
    backend = make_storage(name)
    backend.storage.put_stream("doc.pdf", [b"%PDF-1.7 secret"], filename="doc.pdf")
    url = backend.storage.signed_url("doc.pdf", expires_in=300)
    assert httpx.get(url, timeout=30).status_code == 200
    assert httpx.get(_tamper(url), timeout=30).status_code == 403
    backend.storage.delete_prefix("")


def test_signed_url_expires(
    make_storage: Callable[[str], Backend],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Expiry on every server that enforces it: Eventport's route (local + memory),
    Azurite (SAS ``se``) and s3rver (``X-Amz-Expires``)."""
    subjects: list[Backend] = [make_storage("local"), make_storage("azure")]
    server = request.getfixturevalue("s3rver_server")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "S3RVER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
    from eventport.storage import open_storage

    s3_url = f"s3://{BUCKET}/expiry?endpoint_url={server.endpoint}"
    subjects.append(Backend("s3rver", open_storage(s3_url), s3_url, "expiry", server.endpoint))
    urls = []
    for b in subjects:
        b.storage.put_stream("soon-gone.txt", [b"temporary"], filename="soon-gone.txt")
        url = b.storage.signed_url("soon-gone.txt", expires_in=2)
        assert httpx.get(url, timeout=30).status_code == 200, b.name
        urls.append((b.name, url))
    time.sleep(3.2)
    for name, url in urls:
        response = httpx.get(url, timeout=30)
        assert response.status_code == 403, f"{name} served an expired URL"
    for b in subjects:
        b.storage.delete_prefix("")


# -- local backend specifics -------------------------------------------------------------


def test_local_refuses_traversal_and_symlink_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not serve")
    storage = LocalStorage(tmp_path / "root")
    (storage.root / "media").mkdir()
    os.symlink(outside, storage.root / "media" / "link")
    for key in ["../outside/secret.txt", "media/../../outside/secret.txt", ".tmp/x", ".meta/x"]:
        with pytest.raises(InvalidKey):
            storage.stat(key)
    with pytest.raises(InvalidKey):
        storage.stat("media/link/secret.txt")
    with pytest.raises(InvalidKey):
        storage.put_stream("media/link/new.txt", [b"x"])
    assert not (outside / "new.txt").exists()
    assert [i.key for i in storage.list()] == []


def test_local_from_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rel = LocalStorage.from_url("file://./data/storage")
    assert rel.root == (tmp_path / "data" / "storage").resolve()
    absolute = LocalStorage.from_url(f"file://{tmp_path}/abs")
    assert absolute.root == (tmp_path / "abs").resolve()
    with pytest.raises(StorageError):
        LocalStorage.from_url("file://somehost/path")


def test_download_route_ranges(make_storage: Callable[[str], Backend]) -> None:
    backend = make_storage("local")
    data = bytes(range(256)) * 4
    backend.storage.put_stream("f.bin", [data], content_type="application/pdf", filename="Über.pdf")
    url = backend.storage.signed_url("f.bin", expires_in=60)
    with httpx.Client(timeout=30) as client:
        full = client.get(url)
        assert full.status_code == 200 and full.content == data
        assert full.headers["accept-ranges"] == "bytes"
        assert full.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''%C3%9Cber.pdf" in full.headers["content-disposition"]
        suffix = client.get(url, headers={"Range": "bytes=-10"})
        assert suffix.status_code == 206 and suffix.content == data[-10:]
        assert (
            suffix.headers["content-range"] == f"bytes {len(data) - 10}-{len(data) - 1}/{len(data)}"
        )
        open_end = client.get(url, headers={"Range": "bytes=1000-"})
        assert open_end.status_code == 206 and open_end.content == data[1000:]
        beyond = client.get(url, headers={"Range": "bytes=5000-6000"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(data)}"
        stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
        assert stale.status_code == 200 and stale.content == data
        fresh = client.get(url, headers={"Range": "bytes=0-9", "If-Range": full.headers["etag"]})
        assert fresh.status_code == 206 and fresh.content == data[:10]
        head = client.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
        backend.storage.delete("f.bin")
        gone = client.get(url)
        assert gone.status_code == 404
        assert gone.headers["content-type"] == "application/problem+json"


# -- storage check -----------------------------------------------------------------------


def test_storage_check_passes(backend: Backend) -> None:
    lines: list[str] = []
    assert run_storage_check(backend.storage, lines.append), "\n".join(lines)
    assert sum(line.startswith("✓") for line in lines) == 7
    if backend.name in ("local", "memory"):
        assert any("verified its token locally" in line for line in lines)
    else:
        assert any("over HTTP" in line for line in lines)
    assert list(backend.storage.list("eventport-check/")) == []


def _broken(
    name: str,
    problem: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> tuple[str, str]:
    """A storage URL that is wrong in one way, and a word the failure must mention."""
    dead = f"http://127.0.0.1:{free_port()}"
    # Outages are ridden out for EVENTPORT_STORAGE_RETRY_SECONDS; a dead endpoint here is
    # the operator's typo, reported once that (shortened) patience runs out.
    monkeypatch.setenv("EVENTPORT_STORAGE_RETRY_SECONDS", "1")
    get_settings.cache_clear()
    if name == "s3":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        if problem == "endpoint":
            return f"s3://{BUCKET}?endpoint_url={dead}", "endpoint_url"
        if problem == "bucket":
            server = request.getfixturevalue("moto_server")
            return f"s3://no-such-bucket?endpoint_url={server.endpoint}", "does not exist"
        server = request.getfixturevalue("s3rver_server")  # moto accepts any key
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOT-A-KEY")
        return f"s3://{BUCKET}?endpoint_url={server.endpoint}", "AWS_ACCESS_KEY_ID"
    if name == "gcs":
        monkeypatch.setenv(
            "GOOGLE_APPLICATION_CREDENTIALS", str(request.getfixturevalue("service_account_file"))
        )
        if problem == "endpoint":
            return f"gs://{BUCKET}?endpoint_url={dead}", "endpoint_url"
        server = request.getfixturevalue("gcs_server")
        if problem == "bucket":
            return f"gs://no-such-bucket?endpoint_url={server.endpoint}", "does not exist"
        # fake-gcs-server accepts any token; what can be proven locally is a bad key file.
        bad = tmp_path / "not-a-key.json"
        bad.write_text('{"type": "service_account", "private_key": "garbage"}')
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bad))
        return f"gs://{BUCKET}?endpoint_url={server.endpoint}", "GOOGLE_APPLICATION_CREDENTIALS"
    assert name == "azure"
    for var in (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_ACCOUNT_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    if problem == "endpoint":
        return f"az://{BUCKET}?endpoint_url={dead}/devstoreaccount1", "endpoint_url"
    server = request.getfixturevalue("azurite_server")
    if problem == "bucket":
        return f"az://no-such-container?endpoint_url={server.endpoint}", "does not exist"
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "d3Jvbmcta2V5LXdyb25nLWtleQ==")
    return f"az://{BUCKET}?endpoint_url={server.endpoint}", "AZURE_STORAGE_ACCOUNT_KEY"


@pytest.mark.parametrize("problem", ["endpoint", "bucket", "credentials"])
@pytest.mark.parametrize("name", ["s3", "gcs", "azure"])
def test_storage_check_fails_clearly(
    name: str,
    problem: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from eventport.storage import open_storage

    url, hint = _broken(name, problem, request, monkeypatch, tmp_path)
    lines: list[str] = []
    started = time.monotonic()
    assert not run_storage_check(open_storage(url), lines.append)
    elapsed = time.monotonic() - started
    output = "\n".join(lines)
    assert "✗ connect" in output, output
    assert hint in output, output
    assert "FAILED" in output or "Skipping" in output
    assert elapsed < 20, f"a broken configuration took {elapsed:.1f}s to report"


def test_permanent_errors_are_not_retried(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventport.storage import open_storage

    server = request.getfixturevalue("moto_server")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    storage = open_storage(f"s3://no-such-bucket?endpoint_url={server.endpoint}")
    started = time.monotonic()
    with pytest.raises(PermanentStorageError, match="no-such-bucket"):
        storage.put_stream("k", [b"x"])
    assert time.monotonic() - started < 2


def test_backends_cover_all_five() -> None:
    assert set(BACKENDS) == {"local", "memory", "s3", "gcs", "azure"}


_FORK_SCRIPT = """
import os, sys
from eventport.storage import open_storage
storage = open_storage(sys.argv[1])   # configured in the parent, no I/O yet (lazy)
pid = os.fork()
if pid == 0:
    data = b"".join(storage.open("fork.txt"))
    os._exit(0 if data == b"before fork" else 3)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert b"".join(storage.open("fork.txt")) == b"before fork"   # parent builds its own
print("ok")
"""


@pytest.mark.parametrize("name", ["s3", "azure"])
def test_forked_worker_builds_its_own_client(
    make_storage: Callable[[str], Backend], name: str
) -> None:
    """Celery prefork: the parent configures storage without I/O, children use it.

    Runs in a fresh interpreter because obstore's runtime does not survive a fork once a
    process has done I/O with it (this pytest process has) — which is exactly why stores
    are built lazily, per process, on first use.
    """
    import subprocess
    import sys

    backend = make_storage(name)
    backend.storage.put_stream("fork.txt", [b"before fork"])
    proc = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, backend.url],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
    backend.storage.delete_prefix("")


@pytest.mark.parametrize("name", ["import-job", "Upper", "", "1x", "with space"])
def test_metadata_names_every_backend_accepts(backend: Backend, name: str) -> None:
    """Azure refuses hyphenated metadata names; every backend refuses them the same way."""
    with pytest.raises(InvalidKey):
        backend.storage.put_stream("meta/bad", [b"x"], metadata={name: "v"})
    assert not backend.storage.exists("meta/bad")
