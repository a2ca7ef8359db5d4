"""Receive a multipart upload as a stream, straight into a consumer (usually storage).

Starlette's form parsing spools every file part to a temporary file first; for a 2 GB
recording or import that is a full local copy before a byte reaches storage. Here the
body is parsed as it arrives (python-multipart's push parser) and the file part's bytes
are handed through a small bounded queue to ``consume``, which runs in a worker thread
(storage backends are synchronous) — so memory stays at a few chunks and nothing is
staged on local disk. Small text fields (``format`` …) are collected in memory.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from eventport.errors import InvalidInput, PayloadTooLarge

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

T = TypeVar("T")
MAX_FIELD_BYTES = 64 * 1024
#: Text fields beside the file; their bytes are not counted against the file's limit, so
#: their number must be bounded too (a body of a million small fields is an attack).
MAX_FIELDS = 16
QUEUE_CHUNKS = 8
_END = object()


@dataclass
class UploadInfo:
    filename: str
    content_type: str
    fields: dict[str, str] = field(default_factory=dict)


class _Aborted(Exception):
    pass


def _chunks(channel: queue.Queue[Any]) -> Iterator[bytes]:
    while True:
        item = channel.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


class _FormReceiver:
    """The multipart events of one request body, one method per event (Starlette's way).

    python-multipart calls these as it parses; the receiver keeps the current part's
    headers and value, collects small text fields into :attr:`info`, and queues the file
    part's bytes in :attr:`pending` for :class:`_Relay` to hand to the consumer.
    """

    def __init__(self, file_field: str, max_bytes: int) -> None:
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.info = UploadInfo(filename="", content_type="application/octet-stream")
        #: File chunks (and the end marker or the size error) not yet handed on.
        self.pending: list[Any] = []
        self.file_seen = False
        self.file_done = False
        self._headers: dict[str, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._name = ""
        self._is_file = False
        self._value = b""
        self._file_bytes = 0
        self._unnamed = 0

    def parser(self, boundary: bytes) -> MultipartParser:
        """A push parser calling this receiver's methods."""
        callbacks: MultipartCallbacks = {
            "on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }
        try:
            return MultipartParser(boundary, callbacks)
        except ValueError as exc:  # python-multipart refuses the boundary itself
            raise InvalidInput(f"malformed multipart boundary: {exc}") from None

    def on_part_begin(self) -> None:
        self._headers, self._name, self._is_file, self._value = {}, "", False, b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = self._header_value
        self._header_field = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get("content-disposition", b""))
        self._name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if self._name == self.file_field and b"filename" in disposition and not self.file_seen:
            self._is_file = self.file_seen = True
            self.info.filename = disposition[b"filename"].decode("utf-8", "replace")
            self.info.content_type = self._headers.get(
                "content-type", b"application/octet-stream").decode("latin-1")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise InvalidInput(f"form field {self._name!r} is too long")
            return
        self._file_bytes += end - start
        if self._file_bytes > self.max_bytes:
            self.pending.append(_too_large(self.max_bytes))
            raise _Aborted
        self.pending.append(bytes(data[start:end]))

    def on_part_end(self) -> None:
        if self._is_file:
            self.file_done = True
            self.pending.append(_END)
        elif self._name:
            if len(self.info.fields) >= MAX_FIELDS:
                raise InvalidInput(f"too many form fields (at most {MAX_FIELDS})")
            self.info.fields[self._name] = self._value.decode("utf-8", "replace")
        else:
            self._unnamed += 1
            if self._unnamed > MAX_FIELDS:
                raise InvalidInput("malformed multipart body: parts without a name")


class _Relay(Generic[T]):
    """Hands file chunks through a bounded queue to ``consume`` running in a worker thread.

    The consumer starts with the first chunk, so fields sent before the file part are
    already in ``info.fields`` when it runs.
    """

    def __init__(self, consume: Callable[[Iterator[bytes], UploadInfo], T],
                 info: UploadInfo) -> None:
        self._consume = consume
        self._info = info
        self._channel: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._loop = asyncio.get_running_loop()
        self.consumer: asyncio.Future[T] | None = None

    @property
    def stopped(self) -> bool:
        return self.consumer is not None and self.consumer.done()

    async def flush(self, pending: list[Any]) -> None:
        while pending:
            item = pending.pop(0)
            if self.consumer is None:
                self.consumer = self._loop.run_in_executor(
                    None, self._consume, _chunks(self._channel), self._info)
            await self._put(item)

    async def _put(self, item: Any) -> None:
        """Hand one item to the consumer; give up if the consumer already stopped."""
        while True:
            try:
                await self._loop.run_in_executor(
                    None, partial(self._channel.put, item, timeout=0.2))
                return
            except queue.Full:
                if self.stopped:
                    raise _Aborted from None

    def fail(self, detail: str) -> None:
        """Make a still-running consumer's iterator raise, so it aborts its write."""
        if self.consumer is not None and not self.consumer.done():
            self._channel.put(InvalidInput(detail))


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")


def _multipart_boundary(request: Request, file_field: str, max_bytes: int) -> bytes:
    """The body's boundary; refuse a body that is not multipart or declares too many bytes."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidInput(f"send the file as multipart/form-data in a field named '{file_field}'")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MAX_FIELD_BYTES:
        raise _too_large(max_bytes)
    return boundary


def _parse(step: Callable[..., Any], *args: Any) -> None:
    try:
        step(*args)
    except ValueError as exc:  # MultipartParseError and its kin
        raise InvalidInput(f"malformed multipart body: {exc}") from None


async def _pump(request: Request, parser: MultipartParser, form: _FormReceiver,
                relay: _Relay[Any]) -> None:
    """Feed the body to the parser chunk by chunk, relaying file data as it appears."""
    async for chunk in request.stream():
        try:
            _parse(parser.write, chunk)
        except _Aborted:
            await relay.flush(form.pending)
            return
        await relay.flush(form.pending)
        if relay.stopped:
            return
    _parse(parser.finalize)
    await relay.flush(form.pending)


async def receive_file(
    request: Request,
    consume: Callable[[Iterator[bytes], UploadInfo], T],
    *,
    file_field: str = "file",
    max_bytes: int,
) -> tuple[T, UploadInfo]:
    """Parse ``request`` and stream its ``file_field`` part into ``consume``.

    Fields that come before the file part are visible in ``info.fields`` while
    ``consume`` runs; all fields are there once this returns. More than ``max_bytes``
    of file data raises :class:`PayloadTooLarge` inside ``consume``'s iterator, so the
    consumer aborts its write and nothing is left behind.
    """
    form = _FormReceiver(file_field, max_bytes)
    parser = form.parser(_multipart_boundary(request, file_field, max_bytes))
    relay: _Relay[T] = _Relay(consume, form.info)
    try:
        await _pump(request, parser, form, relay)
    except _Aborted:
        pass  # the consumer stopped early; its own error is raised below
    except ClientDisconnect:
        relay.fail("the upload was interrupted")
    except BaseException:
        relay.fail("the upload was aborted")
        raise
    if relay.consumer is None:
        raise InvalidInput(f"no file in the form field '{file_field}'")
    if not form.file_done:
        relay.fail("the upload ended before the file was complete")
    return await relay.consumer, form.info
