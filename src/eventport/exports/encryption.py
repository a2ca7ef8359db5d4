"""age encryption of archives while they stream into storage, and decryption for imports.

``pyrage`` (Rust ``age``) offers ``encrypt_io(reader, writer, recipients)``: it *pulls*
plaintext from a reader. The zip writer *pushes* bytes. An ``os.pipe`` joins them: the
exporter writes plaintext into the pipe, a thread runs ``encrypt_io`` from the pipe into
the storage writer (the multipart upload). Memory stays bounded by the pipe and age's
64 KiB chunks; no plaintext touches a disk or the bucket. The result is a standard age
file (``age -d -i key.txt`` opens it).

The server holds no secret key: it can prove what it stored (size and SHA-256 of the
encrypted object, read back) and what it encrypted (size and SHA-256 of the plaintext
zip as it went into the pipe, and the zip's own entry checks while it was written), but
only a key holder can prove the stored ciphertext decrypts to that zip.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import pyrage

#: Every age file starts with this line.
AGE_MAGIC = b"age-encryption.org/v1\n"
MAX_RECIPIENTS = 20


class Sink(Protocol):
    """Where bytes go: a storage writer, a file, a BytesIO."""

    def write(self, data: bytes, /) -> Any: ...


class EncryptionError(LookupError):
    """Encrypting into storage failed; the message is safe to show (no key material)."""


def parse_recipients(values: Any) -> list[str]:
    """Checked age X25519 public keys (``age1…``), sorted and unique; ValueError if bad."""
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValueError('"recipients" must be a list of age public keys (age1…)')
    keys = sorted({v.strip() for v in values if v.strip()})
    if len(keys) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} recipients")
    for key in keys:
        try:
            pyrage.x25519.Recipient.from_str(key)
        except Exception:
            raise ValueError(f"{key[:20]!r}… is not an age X25519 public key "
                             "(age1…, see `age-keygen -y`)") from None
    return keys


def parse_identity(text: str) -> Any:
    """The first ``AGE-SECRET-KEY-1…`` line of a key file (comments allowed)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-"):
            try:
                return pyrage.x25519.Identity.from_str(line)
            except Exception:
                break
    raise ValueError("no valid age secret key (AGE-SECRET-KEY-1…) was given")


class EncryptingWriter:
    """A write-only file: what is written is age-encrypted into ``sink`` by a thread.

    ``tell`` counts plaintext bytes (zipfile needs it); it is not seekable, so zipfile
    writes data descriptors, as it does for the storage writer itself.
    """

    def __init__(self, sink: Sink, recipients: list[str]) -> None:
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, "rb")
        self._pipe = os.fdopen(write_fd, "wb")
        self._error: BaseException | None = None
        self.size = 0
        self.digest = hashlib.sha256()
        keys = [pyrage.x25519.Recipient.from_str(k) for k in recipients]
        self._thread = threading.Thread(target=self._encrypt, args=(sink, keys),
                                        name="age-encrypt", daemon=True)
        self._thread.start()

    def _encrypt(self, sink: Sink, keys: list[Any]) -> None:
        try:
            pyrage.encrypt_io(self._reader, sink, keys)
        except BaseException as exc:  # reported to the writing thread
            self._error = exc
        finally:
            self._reader.close()  # a writer still writing gets EPIPE instead of hanging

    def write(self, data: bytes | bytearray | memoryview) -> int:
        try:
            self._pipe.write(data)
        except BrokenPipeError:
            self._finish()
            raise EncryptionError(f"encrypting into storage failed: {self._error}") \
                from self._error
        self.size += len(data)
        self.digest.update(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._pipe.flush()

    def writable(self) -> bool:
        return True

    def _finish(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._pipe.close()
        self._thread.join()

    def close(self) -> None:
        """End the plaintext; waits until the last age chunk is in the sink."""
        self._finish()
        if self._error is not None:
            raise EncryptionError(f"encrypting the archive failed: {self._error}") \
                from self._error


@contextlib.contextmanager
def encrypting(sink: Sink, recipients: list[str]) -> Iterator[EncryptingWriter]:
    """``with encrypting(storage_writer, keys) as out: write plaintext to out``; on an
    error the pipe is closed and the thread ends, then the error goes on (so the storage
    writer around this aborts its upload)."""
    writer = EncryptingWriter(sink, recipients)
    try:
        yield writer
    except BaseException:
        writer._finish()
        raise
    writer.close()


class ChunkReader:
    """A readable file over an iterator of byte chunks (what ``decrypt_io`` pulls)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readinto(self, target: bytearray | memoryview) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def decrypt_stream(chunks: Iterable[bytes], sink: Sink, identity: Any) -> None:
    """Decrypt an age stream into ``sink``; ValueError (clear, no key material) if the
    identity does not fit or the file is not age-encrypted."""
    try:
        pyrage.decrypt_io(ChunkReader(chunks), sink, [identity])
    except pyrage.DecryptError as exc:
        raise ValueError(f"the archive could not be decrypted with this identity: {exc}") \
            from None


# ------------------------------------------------------------ exports: sealing and proof

#: The stored object of an encrypted export is not a zip to anyone without the key.
SEALED_CONTENT_TYPE = "application/octet-stream"


def recipients_of(options: dict[str, Any]) -> list[str]:
    return list(options.get("recipients") or [])


def stored_name(filename: str, options: dict[str, Any]) -> str:
    """``….zip`` → ``….zip.age`` when the export is encrypted."""
    return f"{filename}.age" if recipients_of(options) else filename


@contextlib.contextmanager
def sealing(out: Any, options: dict[str, Any]) -> Iterator[Any]:
    """The writer an exporter writes to: ``out`` itself, or an age stream into it."""
    keys = recipients_of(options)
    if not keys:
        yield out
        return
    with encrypting(out, keys) as plain:
        yield plain


def check_header(head: bytes, recipients: int) -> None:
    """What the server can check of a stored age file without a key: it is an age file
    and its header holds one X25519 stanza per recipient. ValueError otherwise."""
    if not head.startswith(AGE_MAGIC):
        raise ValueError("the stored object is not an age file")
    end = head.find(b"\n--- ")
    if end < 0:
        raise ValueError("the stored object's age header is incomplete")
    stanzas = head[:end].count(b"\n-> X25519 ")
    if stanzas != recipients:
        raise ValueError(f"the stored age header names {stanzas} X25519 recipient(s), "
                         f"not {recipients}")
