"""age encryption of a streamed zip: standard age files, bounded work, clean failures."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pyrage
import pytest

from eventport.exports.encryption import (
    AGE_MAGIC,
    EncryptionError,
    decrypt_stream,
    encrypting,
    parse_identity,
    parse_recipients,
)


def _zip_into(out: object) -> None:
    with zipfile.ZipFile(out, "w") as zf:  # type: ignore[arg-type]
        zf.writestr("event.json", b'{"name": "x"}' * 5000)
        zf.writestr("media/video.bin", os.urandom(2_000_000))


def test_stream_encrypts_to_a_standard_age_file(tmp_path: Path) -> None:
    alice, bob = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    sink = io.BytesIO()
    with encrypting(sink, [str(alice.to_public()), str(bob.to_public())]) as out:
        _zip_into(out)
    stored = sink.getvalue()
    assert stored.startswith(AGE_MAGIC) and len(stored) > out.size
    for identity in (alice, bob):
        plain = io.BytesIO()
        chunks = [stored[i:i + 10_000] for i in range(0, len(stored), 10_000)]
        decrypt_stream(chunks, plain, identity)
        assert hashlib.sha256(plain.getvalue()).hexdigest() == out.digest.hexdigest()
        assert zipfile.ZipFile(plain).testzip() is None
    if shutil.which("age") is None:
        pytest.skip("the age CLI is not installed (scripts/system-deps.sh installs it)")
    key = tmp_path / "key.txt"
    key.write_text(f"# created: test\n{alice}\n")
    (tmp_path / "a.zip.age").write_bytes(stored)
    result = subprocess.run(["age", "-d", "-i", str(key), str(tmp_path / "a.zip.age")],
                            capture_output=True, check=True)
    assert hashlib.sha256(result.stdout).hexdigest() == out.digest.hexdigest()
    assert str(parse_identity(key.read_text()).to_public()) == str(alice.to_public())


def test_wrong_identity_and_plain_files_are_refused_clearly() -> None:
    sink = io.BytesIO()
    with encrypting(sink, [str(pyrage.x25519.Identity.generate().to_public())]) as out:
        out.write(b"secret")
    stranger = pyrage.x25519.Identity.generate()
    with pytest.raises(ValueError, match="could not be decrypted"):
        decrypt_stream([sink.getvalue()], io.BytesIO(), stranger)
    with pytest.raises(ValueError, match="could not be decrypted"):
        decrypt_stream([b"PK\x03\x04 not age"], io.BytesIO(), stranger)
    with pytest.raises(ValueError, match="no valid age secret key"):
        parse_identity("AGE-SECRET-KEY-1NOTAKEY\n")


def test_recipients_are_checked() -> None:
    key = str(pyrage.x25519.Identity.generate().to_public())
    assert parse_recipients([key, f" {key} "]) == [key]
    for bad in (["age1notakey"], "ssh-ed25519 AAAA", [1], {"k": key}):
        with pytest.raises(ValueError):
            parse_recipients(bad)


class _FailingSink:
    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.written > 200_000:
            raise OSError("the bucket went away")
        return len(data)


def test_a_failing_sink_stops_the_writer_instead_of_hanging() -> None:
    key = str(pyrage.x25519.Identity.generate().to_public())
    with pytest.raises(EncryptionError, match="the bucket went away"):
        with encrypting(_FailingSink(), [key]) as out:  # type: ignore[arg-type]
            for _ in range(200):
                out.write(os.urandom(64_000))


def test_an_error_in_the_producer_ends_the_thread() -> None:
    key = str(pyrage.x25519.Identity.generate().to_public())
    sink = io.BytesIO()
    with pytest.raises(RuntimeError, match="exporter broke"):
        with encrypting(sink, [key]) as out:
            out.write(b"x" * 100_000)
            raise RuntimeError("exporter broke")
