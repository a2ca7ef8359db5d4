"""The hostile-file corpus: every case is refused by the readers with a clear message.

These are pure (no database); ``test_service.py`` runs a sample of them through a real
job to show that a refusal leaves no event, no row and no stored object behind.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest

from eventport.imports.errors import ImportRefused
from eventport.imports.readers import read_upload
from eventport.imports.safezip import SafeZip, ZipLimits
from tests.imports.archives import base_documents, make_archive
from tests.imports.conftest import zip_bytes


def symlink_entry() -> bytes:
    info = zipfile.ZipInfo("media/images/link.jpg")
    info.external_attr = (0o120777 << 16)
    return make_archive(extra=[(info, b"/etc/passwd")])


def overlapping() -> bytes:
    data = bytearray(zip_bytes([("a.json", b"{}" * 100), ("b.json", b"[]" * 100)],
                               zipfile.ZIP_STORED))
    # Point b's central-directory record at a's local header: shared bytes.
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 42:cd + 46] = (0).to_bytes(4, "little")
    return bytes(data)


def truncated() -> bytes:
    data = make_archive()
    return data[: len(data) // 2]


def corrupt_crc() -> bytes:
    data = bytearray(zip_bytes([("event.json", b'{"a": "' + b"x" * 500 + b'"}')],
                               zipfile.ZIP_STORED))
    offset = data.find(b"xxxx")
    data[offset] = ord("y")
    return bytes(data)


def bomb() -> bytes:
    return zip_bytes([("event.json", b"\0" * (50 * 1024 * 1024))])


def newer_version() -> bytes:
    return make_archive(manifest_patch={"version": 3})


def wrong_format() -> bytes:
    return make_archive(manifest_patch={"format": "someone-elses"})


def hash_mismatch() -> bytes:
    docs = base_documents()
    return make_archive(docs, tamper={"tracks.json": b'[{"id": 4, "name": "Evil"}]'})


def missing_document() -> bytes:
    return make_archive(drop=("speakers.json",))


def dangling_track() -> bytes:
    docs = base_documents()
    docs["sessions"][0]["track_id"] = 99
    return make_archive(docs)


def unknown_field() -> bytes:
    docs = base_documents()
    docs["speakers"][0]["password"] = "x"
    return make_archive(docs)


def invalid_json() -> bytes:
    return zip_bytes([("event", b"{not json"), ("sessions", b"[]")])


def unlisted_entry() -> bytes:
    return make_archive(extra=[("schedule/extra.txt", b"hello")])


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<schedule><conference><title>&lol3;</title></conference></schedule>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE schedule [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<schedule><conference><title>&x;</title></conference></schedule>"""


CASES: list[tuple[str, Callable[[], bytes], str | None, str]] = [
    ("dotdot", lambda: make_archive(extra=[("../evil.json", b"{}")]), None, "outside"),
    ("nested-dotdot", lambda: make_archive(extra=[("media/../../x", b"1")]), None, "outside"),
    ("absolute", lambda: make_archive(extra=[("/etc/cron.d/x", b"1")]), None, "absolute"),
    ("drive-letter", lambda: make_archive(extra=[("C:/Windows/x.dll", b"1")]), None,
     "absolute"),
    ("backslash", lambda: make_archive(extra=[("..\\..\\evil", b"1")]), None, "backslash"),
    ("control-char", lambda: make_archive(extra=[("a\nb", b"1")]), None, "control"),
    ("symlink", symlink_entry, None, "symbolic link"),
    ("duplicate", lambda: make_archive(extra=[("tracks.json", b"[]")]), None, "twice"),
    ("duplicate-case", lambda: make_archive(extra=[("Tracks.json", b"[]")]), None, "twice"),
    ("overlap", overlapping, "open-event", "overlap"),
    ("truncated", truncated, None, "truncated"),
    ("corrupt-crc", corrupt_crc, "open-event", "corrupt"),
    ("bomb-ratio", bomb, "open-event", "expands"),
    ("newer-version", newer_version, None, "newer Eventport"),
    ("wrong-format", wrong_format, None, "format is not"),
    ("hash-mismatch", hash_mismatch, None, "does not match manifest.json"),
    ("missing-document", missing_document, None, "speakers.json is missing"),
    ("dangling-reference", dangling_track, None, "sessions.json entry 1: track 99 does not exist"),
    ("unknown-field", unknown_field, None, "unknown field 'password'"),
    ("invalid-json", invalid_json, None, "not valid JSON"),
    ("unlisted-entry", unlisted_entry, None, "not listed in manifest.json"),
    ("billion-laughs", lambda: BILLION_LAUGHS, None, "DTD or entities"),
    ("xxe", lambda: XXE, None, "DTD or entities"),
    ("bad-xml", lambda: b"<schedule><conference>", None, "not well-formed"),
    ("not-schedule", lambda: b"<html><body/></html>", None, "root element is <html>"),
    ("neither", lambda: b"hello world", None, "not a zip, XML or JSON"),
    ("empty-zip", lambda: zip_bytes([]), None, "neither an Eventport archive"),
]


@pytest.mark.parametrize(("builder", "fmt", "message"),
                         [pytest.param(b, f, m, id=i) for i, b, f, m in CASES if m])
def test_hostile_upload_is_refused_with_a_clear_message(
        builder: Callable[[], bytes], fmt: str | None, message: str) -> None:
    with pytest.raises(ImportRefused) as caught:
        data, zf = read_upload(io.BytesIO(builder()), fmt)
        if zf is not None:  # media are checked while staged: read them all here too
            for ref in data.media():
                b"".join(zf.iter_bytes(ref.path))
    assert message in caught.value.detail


def test_valid_hand_made_archive_reads() -> None:
    data, zf = read_upload(io.BytesIO(make_archive()), None)
    assert zf is not None
    assert data.counts()["sessions"] == 1 and data.counts()["media"] == 3
    assert data.items["sessions"][0].values["speaker_ids"] == [9]


def test_limits_are_enforced_on_real_bytes_not_headers() -> None:
    """A header claiming a tiny size cannot smuggle more bytes past the total limit."""
    payload = zip_bytes([(f"f{i}.bin", b"a" * 200_000) for i in range(10)])
    limits = ZipLimits(max_total_bytes=1_000_000, max_ratio=10**6)
    with SafeZip(io.BytesIO(payload), limits) as zf, pytest.raises(ImportRefused) as caught:
        for name in zf.names():
            b"".join(zf.iter_bytes(name))
    assert "in total" in caught.value.detail


def test_entry_count_limit() -> None:
    payload = zip_bytes([(f"f{i}", b"") for i in range(30)])
    with pytest.raises(ImportRefused, match="entries"):
        SafeZip(io.BytesIO(payload), ZipLimits(max_entries=20))


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_bz2_and_lzma_bombs_are_refused_before_inflating(method: int) -> None:
    """zipfile inflates a bz2/LZMA chunk in one go (a 491-byte zip took 800 MB), so
    such entries are refused from the directory, before any byte is decompressed."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        zf.writestr("event.json", b"\x00" * 50_000_000)
    assert len(out.getvalue()) < 100_000
    with pytest.raises(ImportRefused) as caught:
        read_upload(io.BytesIO(out.getvalue()), "archive")
    assert "compress" in caught.value.detail.lower()
