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
from typing import Any, TypeVar

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from eventport.errors import InvalidInput, PayloadTooLarge

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
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InvalidInput(f"send the file as multipart/form-data in a field named '{file_field}'")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MAX_FIELD_BYTES:
        raise PayloadTooLarge(f"upload is larger than the limit of {max_bytes} bytes")

    info = UploadInfo(filename="", content_type="application/octet-stream")
    channel: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_CHUNKS)
    pending: list[Any] = []
    state: dict[str, Any] = {"headers": {}, "name": None, "is_file": False, "value": b"",
                             "header_field": b"", "header_value": b"", "file_bytes": 0,
                             "file_seen": False, "file_done": False, "unnamed": 0}

    def on_part_begin() -> None:
        state.update(headers={}, name=None, is_file=False, value=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header_field"].decode("latin-1").lower()] = state["header_value"]
        state["header_field"] = state["header_value"] = b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(state["headers"].get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        state["name"] = name
        if name == file_field and b"filename" in disposition and not state["file_seen"]:
            state["is_file"] = state["file_seen"] = True
            info.filename = disposition[b"filename"].decode("utf-8", "replace")
            info.content_type = state["headers"].get(
                "content-type", b"application/octet-stream").decode("latin-1")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["is_file"]:
            state["file_bytes"] += end - start
            if state["file_bytes"] > max_bytes:
                pending.append(PayloadTooLarge(f"upload is larger than the limit of "
                                               f"{max_bytes} bytes"))
                raise _Aborted
            pending.append(bytes(data[start:end]))
        else:
            state["value"] += data[start:end]
            if len(state["value"]) > MAX_FIELD_BYTES:
                raise InvalidInput(f"form field {state['name']!r} is too long")

    def on_part_end() -> None:
        if state["is_file"]:
            state["file_done"] = True
            pending.append(_END)
        elif state["name"]:
            if len(info.fields) >= MAX_FIELDS:
                raise InvalidInput(f"too many form fields (at most {MAX_FIELDS})")
            info.fields[state["name"]] = state["value"].decode("utf-8", "replace")
        else:
            state["unnamed"] += 1
            if state["unnamed"] > MAX_FIELDS:
                raise InvalidInput("malformed multipart body: parts without a name")

    try:
        parser = MultipartParser(boundary, {
            "on_part_begin": on_part_begin, "on_part_data": on_part_data,
            "on_part_end": on_part_end, "on_header_field": on_header_field,
            "on_header_value": on_header_value, "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        })
    except ValueError as exc:  # python-multipart refuses the boundary itself
        raise InvalidInput(f"malformed multipart boundary: {exc}") from None

    loop = asyncio.get_running_loop()
    consumer: asyncio.Future[T] | None = None

    async def put(item: Any) -> None:
        """Hand one item to the consumer; give up if the consumer already stopped."""
        assert consumer is not None
        while True:
            try:
                await loop.run_in_executor(None, partial(channel.put, item, timeout=0.2))
                return
            except queue.Full:
                if consumer.done():
                    raise _Aborted from None

    async def flush() -> None:
        nonlocal consumer
        while pending:
            item = pending.pop(0)
            if consumer is None:
                consumer = loop.run_in_executor(None, consume, _chunks(channel), info)
            await put(item)

    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except _Aborted:
                await flush()
                break
            except ValueError as exc:  # MultipartParseError and its kin
                raise InvalidInput(f"malformed multipart body: {exc}") from None
            await flush()
            if consumer is not None and consumer.done():
                break
        else:
            try:
                parser.finalize()
            except ValueError as exc:  # MultipartParseError and its kin
                raise InvalidInput(f"malformed multipart body: {exc}") from None
            await flush()
    except _Aborted:
        pass  # the consumer stopped early; its own error is raised below
    except ClientDisconnect:
        if consumer is not None and not consumer.done():
            channel.put(InvalidInput("the upload was interrupted"))
    except BaseException:
        if consumer is not None and not consumer.done():
            channel.put(InvalidInput("the upload was aborted"))
        raise
    if consumer is None:
        raise InvalidInput(f"no file in the form field '{file_field}'")
    if not state["file_done"] and not consumer.done():
        channel.put(InvalidInput("the upload ended before the file was complete"))
    return await consumer, info
