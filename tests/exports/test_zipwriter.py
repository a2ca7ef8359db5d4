"""The archive writer and exporter without a database: determinism, compression choice,
zip64, streaming into a sink that cannot seek, and the CLI export with --out."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from eventport.cli import main
from eventport.events.models import Event
from eventport.exports.registry import ExportContext, get_exporter
from eventport.exports.snapshot import EventSnapshot, MediaEntry
from eventport.exports.zipwriter import ArchiveWriter, is_compressible
from tests.exports.conftest import DemoEvent, verify_archive


class ForwardOnlySink:
    """Like a multipart upload: write and tell, no seek, no read."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def tell(self) -> int:
        return self.buffer.tell()

    def flush(self) -> None:
        pass


def _snapshot(media: dict[str, bytes]) -> EventSnapshot:
    entries = [MediaEntry(path=f"media/images/speakers/{i}-x.jpg", storage_key=key,
                          kind="image", content_type="image/jpeg", size=len(data),
                          sha256=hashlib.sha256(data).hexdigest(), owner=f"speakers/{i}/photo")
               for i, (key, data) in enumerate(sorted(media.items()), 1)]
    speakers = [{"id": i, "uuid": f"00000000-0000-4000-8000-{i:012d}", "name": "Ada",
                 "photo": e.path} for i, e in enumerate(entries, 1)]
    return EventSnapshot(
        event={"id": 1, "uuid": "00000000-0000-4000-8000-000000000000", "identifier": "abc",
               "name": "Test", "timezone": "UTC"},
        documents={"speakers": speakers, "sessions": []}, media=entries)


def test_writer_is_deterministic_and_valid(tmp_path: Path) -> None:
    blobs = []
    for _ in range(2):
        sink = ForwardOnlySink()
        writer = ArchiveWriter(sink)
        writer.add_bytes("a.json", b'{"x": 1}\n' * 100, "application/json")
        writer.add_stream("media/images/p.jpg", iter([os.urandom(0)] + [b"\xff" * 1000] * 3),
                          "image/jpeg")
        writer.close()
        blobs.append(sink.buffer.getvalue())
        assert writer.size == len(blobs[-1])
    assert blobs[0] == blobs[1]
    path = tmp_path / "a.zip"
    path.write_bytes(blobs[0])
    assert subprocess.run(["unzip", "-tq", str(path)]).returncode == 0
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("a.json").compress_type == zipfile.ZIP_DEFLATED
        assert zf.getinfo("media/images/p.jpg").compress_type == zipfile.ZIP_STORED
        assert all(i.flag_bits & 0x08 for i in zf.infolist())  # data descriptors: streamed


def test_compressibility_rules() -> None:
    assert is_compressible("application/json") and is_compressible("text/calendar")
    assert is_compressible("application/calendar+xml") and is_compressible("audio/x-wav")
    for already in ("image/jpeg", "image/png", "video/mp4", "application/pdf",
                    "application/zip", "audio/mpeg"):
        assert not is_compressible(already)


def test_missing_media_are_left_out_and_their_references_null(tmp_path: Path) -> None:
    """Not found → left out, reference null, in ``missing`` and warnings (docs/DESIGN.md)."""
    data = {"k1": os.urandom(3000), "k2": os.urandom(10), "k3": os.urandom(5000)}
    ctx = ExportContext(options={"media": ["image"]}, open_media=lambda key: iter([data[key]]),
                        media_exists=lambda key: key != "k2", warn=(warnings := []).append)
    blob = get_exporter("archive")().render(_snapshot(data), ctx)
    manifest = verify_archive(blob, tmp_path)
    assert [m["path"] for m in manifest["missing"]] == ["media/images/speakers/2-x.jpg"]
    assert [w["path"] for w in warnings if w.get("path", "").startswith("media/")] == [
        "media/images/speakers/2-x.jpg"]
    assert manifest["counts"]["media"] == 2
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        photos = [s["photo"] for s in json.loads(zf.read("speakers.json"))]
    assert photos == ["media/images/speakers/1-x.jpg", None, "media/images/speakers/3-x.jpg"]


def test_a_read_that_breaks_off_fails_the_export() -> None:
    """Never a partial entry in an archive: a read error that outlived the reader's retries
    ends the export (the job fails; its upload is aborted)."""
    data = {"k1": os.urandom(3000)}

    def open_media(key: str) -> Iterator[bytes]:
        yield data[key][:1000]
        raise ConnectionError("reset by peer")

    ctx = ExportContext(options={"media": ["image"]}, open_media=open_media)
    with pytest.raises(ConnectionError):
        get_exporter("archive")().render(_snapshot(data), ctx)


def test_excluded_media_are_null_in_documents(tmp_path: Path) -> None:
    data = {"k1": os.urandom(100)}
    ctx = ExportContext(options={"media": ["document"]}, open_media=lambda k: iter([data[k]]))
    blob = get_exporter("archive")().render(_snapshot(data), ctx)
    verify_archive(blob, tmp_path)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert not [n for n in zf.namelist() if n.startswith("media/")]
        assert b'"photo": null' in zf.read("speakers.json")


def test_cli_export_with_out_file(db: Session, demo_event: DemoEvent, tmp_path: Path) -> None:
    out = tmp_path / "event.zip"
    result = CliRunner().invoke(main, ["export", demo_event.identifier, "--media", "image",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = verify_archive(out.read_bytes(), tmp_path)
    assert manifest["options"] == {"media": ["image"]}
    bad = CliRunner().invoke(main, ["export", "no-such-event"])
    assert bad.exit_code == 1 and "no event" in bad.output


def test_cli_finds_an_all_digit_identifier(db: Session, demo_event: DemoEvent,
                                           tmp_path: Path) -> None:
    """Generated identifiers are hex and sometimes all digits: they are not taken for ids."""
    event = db.get(Event, demo_event.id)
    assert event is not None
    event.identifier = "91557384"
    db.commit()
    out = tmp_path / "event.zip"
    result = CliRunner().invoke(main, ["export", "91557384", "--format", "ical",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"BEGIN:VCALENDAR")
    by_id = CliRunner().invoke(main, ["export", str(demo_event.id), "--format", "ical",
                                      "--out", str(tmp_path / "by-id.ics")])
    assert by_id.exit_code == 0, by_id.output


class FailingSink(ForwardOnlySink):
    """A sink whose write fails after ``limit`` bytes, like an upload losing its connection."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: bytes) -> int:
        if self.buffer.tell() + len(data) > self.limit:
            raise ConnectionError("upload lost")
        return super().write(data)


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("archive-")]


def test_pipelined_writer_is_deterministic_with_large_chunks() -> None:
    """Big chunks go through the hashing and sink threads: same bytes, same entry hashes."""
    blocks = [os.urandom(1024 * 1024) for _ in range(5)] + [os.urandom(1000)]
    outputs = []
    for _ in range(2):
        sink = ForwardOnlySink()
        writer = ArchiveWriter(sink)
        writer.add_bytes("a.json", b"{}\n", "application/json")
        entry = writer.add_stream("media/video/v.mp4", iter(blocks), "video/mp4")
        writer.close()
        outputs.append(sink.buffer.getvalue())
        assert entry.sha256 == hashlib.sha256(b"".join(blocks)).hexdigest()
        assert entry.size == sum(map(len, blocks))
    assert outputs[0] == outputs[1]
    with zipfile.ZipFile(io.BytesIO(outputs[0])) as zf:
        assert zf.read("media/video/v.mp4") == b"".join(blocks)
    assert not _pipeline_threads()


def test_sink_failure_ends_the_export_and_its_threads() -> None:
    """A sink that fails in the writer thread fails the writer in the caller's thread."""
    writer = ArchiveWriter(FailingSink(3 * 1024 * 1024))
    big = [os.urandom(1024 * 1024) for _ in range(8)]
    try:
        writer.add_stream("media/video/v.mp4", iter(big), "video/mp4")
        writer.close()
    except ConnectionError as exc:
        assert "upload lost" in str(exc)
        writer.abort()
    else:
        raise AssertionError("the export did not fail")
    assert not _pipeline_threads()
