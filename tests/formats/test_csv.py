"""Sessions and speakers CSV, read back with the csv module."""

from __future__ import annotations

import csv
import io

import pytest

from eventport.exports.registry import get_exporter
from eventport.exports.snapshot import EventSnapshot
from tests.formats.conftest import ARABIC, SPECIAL, Festival, Recorder


def rows(snapshot: EventSnapshot, identifier: str, **kwargs: object) -> list[dict[str, str]]:
    data = get_exporter(identifier)().render(snapshot, Recorder(**kwargs).ctx())  # type: ignore[arg-type]
    text = data.decode("utf-8")
    assert not text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_sessions_csv_for_organizers(snapshot: EventSnapshot, festival: Festival) -> None:
    table = {int(r["id"]): r for r in rows(snapshot, "sessions-csv")}
    assert set(table) == set(festival.ids.values())  # every state, scheduled or not
    opening = table[festival.ids["opening"]]
    assert opening["title"] == f"Opening {SPECIAL}"
    assert opening["long_abstract"] == "Line one\nLine two; with, commas"
    assert opening["speakers"] == "Ada Lovelace; Grace <Hopper>"
    assert opening["speaker_emails"] == "ada@example.org; grace@example.net"
    assert opening["starts_at"] == "2024-10-26T10:00:00+02:00"
    assert table[festival.ids["dst"]]["duration_minutes"] == "120"  # across the DST change
    assert table[festival.ids["rtl"]]["title"] == ARABIC
    formula = table[festival.ids["formula"]]
    assert formula["title"] == "'=HYPERLINK(\"http://evil.example/\")"
    assert formula["short_abstract"] == "'+1 call"
    assert formula["comments"] == "secret organizer note"
    assert table[festival.ids["no_time"]]["starts_at"] == ""


def test_sessions_csv_states_bom_and_public(snapshot: EventSnapshot, festival: Festival) -> None:
    accepted = rows(snapshot, "sessions-csv", options={"states": "accepted"})
    assert {r["state"] for r in accepted} == {"accepted"}
    data = get_exporter("sessions-csv")().render(
        snapshot, Recorder(options={"bom": True}).ctx())
    assert data.startswith(b"\xef\xbb\xbf")
    assert next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[0] == "id"

    public = rows(snapshot, "sessions-csv", public_only=True)
    assert {r["state"] for r in public} == {"accepted", "confirmed"}
    assert "speaker_emails" not in public[0] and "comments" not in public[0]
    raw = get_exporter("sessions-csv")().render(snapshot, Recorder(public_only=True).ctx())
    assert b"@" not in raw and b"secret organizer note" not in raw


def test_speakers_csv(snapshot: EventSnapshot, festival: Festival) -> None:
    table = {r["name"]: r for r in rows(snapshot, "speakers-csv")}
    assert set(table) == {"Ada Lovelace", "Grace <Hopper>", "محمد", "Draft Only"}
    ada = table["Ada Lovelace"]
    assert ada["email"] == "ada@example.org"
    assert ada["mobile"] == "'+49 30 123456"  # a leading + would start a formula
    # Inside a cell (not at its start) a "=" is harmless and kept as it is.
    assert ada["sessions"].split("; ") == [f"Opening {SPECIAL}", "Overlapping talk",
                                           '=HYPERLINK("http://evil.example/")']

    accepted = {r["name"] for r in rows(snapshot, "speakers-csv",
                                        options={"states": ["accepted", "confirmed"]})}
    assert accepted == {"Ada Lovelace", "Grace <Hopper>", "محمد"}
    public = rows(snapshot, "speakers-csv", public_only=True)
    assert {r["name"] for r in public} == accepted
    assert "email" not in public[0] and "mobile" not in public[0]
    assert all("rejected" not in r["session_states"] for r in public)


def test_unknown_state_is_refused(snapshot: EventSnapshot) -> None:
    with pytest.raises(ValueError, match="unknown session state"):
        rows(snapshot, "sessions-csv", options={"states": ["published"]})
