"""The real third-party samples read completely (pure: no database)."""

from __future__ import annotations

import io

from eventport.imports.readers import read_upload
from tests.imports.conftest import SCHEDULES, open_event_zip


def test_fossasia_open_event_v1_reads_everything() -> None:
    data, _ = read_upload(io.BytesIO(open_event_zip()), None)
    assert data.format == "open-event"
    counts = data.counts()
    assert (counts["sessions"], counts["speakers"], counts["tracks"], counts["microlocations"],
            counts["sponsors"], counts["session-types"]) == (491, 187, 18, 17, 11, 32)
    assert counts["media"] == 0  # media are URLs/paths outside the file: links, not fetched
    speaker = next(i for i in data.items["speakers"] if i.values["name"] == "Harish Pillay")
    assert speaker.values["photo_url"] == (
        "https://eventyay.com/images/speakers/HarishPillay_4.jpg")
    session = next(i for i in data.items["sessions"] if i.source_id == 1)
    assert (session.values["track_id"], session.values["microlocation_id"],
            session.values["session_type_id"], session.values["speaker_ids"]) == (1, 1, 1, [1])
    assert data.event.values["timezone"] == "Asia/Singapore"


def test_open_event_with_extensions_and_in_zip_media() -> None:
    extra = [("images/speakers/HarishPillay_4.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64)]
    data, _ = read_upload(io.BytesIO(open_event_zip(extensionless=False, extra=extra)), None)
    speaker = next(i for i in data.items["speakers"] if i.values["name"] == "Harish Pillay")
    assert speaker.media["photo"].path == "images/speakers/HarishPillay_4.jpg"
    assert speaker.values["photo_url"] == ""


def test_fosdem_2007_old_layout() -> None:
    data, _ = read_upload(io.BytesIO((SCHEDULES / "fosdem-2007-schedule.xml").read_bytes()),
                          None)
    counts = data.counts()
    assert counts["sessions"] == 215
    # People are who the source says: 244 person ids (Pentabarf numbered each appearance
    # of a few people anew) are 244 speakers, though they carry only 204 names.
    assert counts["speakers"] == 244
    rooms = {i.values["name"] for i in data.items["microlocations"]}
    assert "Chavanne" in rooms and "H.2214" in rooms
    aiglx = next(i for i in data.items["sessions"] if i.values["title"] == "AIGLX")
    assert aiglx.values["video_url"].endswith("FOSDEM2007-AIGLX.ogg")
    assert aiglx.values["starts_at"].isoformat() == "2007-02-25T15:00:00+00:00"


def test_pretalx_fixtures() -> None:
    for name, sessions in (("minimal", 1), ("minimal_2", 2), ("empty", 0)):
        raw = (SCHEDULES / f"pretalx-fixture-frab_schedule_{name}.xml").read_bytes()
        data, _ = read_upload(io.BytesIO(raw), "frab-xml")
        assert data.counts()["sessions"] == sessions
        assert data.identifier == "pw16"
