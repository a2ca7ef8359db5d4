"""Foreign sources keep their identities: frab guids, person ids, deterministic uuids,
and the frab / pretalx ``schedule.json`` reader."""

from __future__ import annotations

import io
import json
from collections import Counter

from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.exports.registry import ExportContext, get_exporter
from eventport.exports.snapshot import take_snapshot
from eventport.imports.readers import read_upload
from eventport.storage import Storage
from tests.formats.validators import assert_valid_schedule_json, assert_valid_schedule_xml
from tests.imports.conftest import FOSSASIA, row_counts, run, zip_bytes
from tests.sample_data import DATA

DEMOCON = DATA / "voc-schedule" / "json" / "examples" / "pretalx-democon.json"
GUID = "3fa2d1e8-0b5e-4c2a-9f1d-1a2b3c4d5e6f"


def frab(persons: list[list[str]]) -> bytes:
    """A schedule.xml with one talk per entry of ``persons`` (each ``id:name`` or ``name``)."""
    talks = []
    for index, people in enumerate(persons, start=1):
        tags = "".join(
            f'<person id="{p.split(":")[0]}">{p.split(":")[1]}</person>' if ":" in p
            else f"<person>{p}</person>" for p in people)
        guid = f' guid="{GUID}"' if index == 1 else ""
        talks.append(f'<event id="{index}"{guid}><date>2026-03-01T1{index}:00:00+01:00</date>'
                     f"<duration>00:30</duration><title>Talk {index}</title>"
                     f"<persons>{tags}</persons></event>")
    return (f"<schedule><conference><acronym>namesakes</acronym><title>Namesakes</title>"
            f"<time_zone_name>Europe/Berlin</time_zone_name></conference>"
            f'<day date="2026-03-01" index="1"><room name="Hall">{"".join(talks)}</room></day>'
            "</schedule>").encode()


def test_persons_are_who_the_source_says() -> None:
    source = frab([["1:Andreas", "2:Andreas"], ["2:Andreas", "3:Marc"], ["Anna", "anna"],
                   ["Anna"], ["4:Marc"]])
    data, _ = read_upload(io.BytesIO(source), None)
    names = Counter(item.values["name"] for item in data.items["speakers"])
    # Ids 1-4 are four people (two Andreas, two Marc); id-less Anna appears twice and is
    # merged by exact name, which does not match "anna".
    assert names == {"Andreas": 2, "Marc": 2, "Anna": 1, "anna": 1}
    assert [w for w in data.warnings if "merged" in w] == [
        "schedule.xml: person 'Anna' has no id; their 2 appearances were merged into one "
        "speaker by name"]
    talk = data.items["sessions"][0]
    assert talk.uuid == GUID
    again, _ = read_upload(io.BytesIO(source), None)
    assert [i.uuid for r in data.items.values() for i in r] == [
        i.uuid for r in again.items.values() for i in r]  # the same source, the same uuids


def test_frab_json_reads_pretalx_democon() -> None:
    raw = json.loads(DEMOCON.read_bytes())
    conference = raw["schedule"]["conference"]
    talks = [t for day in conference["days"] for room in day["rooms"].values() for t in room]
    persons = {p["id"] for t in talks for p in t["persons"]}
    rooms = {t["room"] for t in talks}
    data, _ = read_upload(io.BytesIO(DEMOCON.read_bytes()), None)
    assert data.format == "frab-json"
    counts = data.counts()
    assert (counts["sessions"], counts["speakers"], counts["microlocations"]) == (
        len(talks), len(persons), len(rooms)) == (36, 27, 2)
    assert {i.uuid for i in data.items["sessions"]} == {t["guid"] for t in talks}
    # The two rooms share one guid in this file: neither keeps it, and that is said.
    assert len({i.uuid for i in data.items["microlocations"]}) == 2
    assert any("shares its guid" in w for w in data.warnings)


def test_frab_json_imports_and_reexports_schema_valid(db: Session, storage: Storage,
                                                      owner: User) -> None:
    job = run(db, storage, owner, DEMOCON.read_bytes(), filename="schedule.json")
    assert job.state == "succeeded", job.error
    counts = row_counts(db)
    assert (counts["sessions"], counts["speakers"], counts["microlocations"]) == (36, 27, 2)
    snapshot = take_snapshot(db, job.event_id or 0)
    out = get_exporter("frab-json")().render(snapshot, ExportContext())
    assert_valid_schedule_json(out)
    assert_valid_schedule_xml(get_exporter("pentabarf")().render(snapshot, ExportContext()))
    exported = json.loads(out)["schedule"]["conference"]
    again = [t for day in exported["days"] for room in day["rooms"].values() for t in room]
    assert len(again) == 36
    assert {p["guid"] for t in again for p in t["persons"]} == {
        row["uuid"] for row in snapshot.documents["speakers"]}
    # The same file again, as an update: nothing to change.
    update = run(db, storage, owner, DEMOCON.read_bytes(), mode="update",
                 event_id=job.event_id, dry_run=True)
    assert update.state == "succeeded", update.error
    assert update.result["plan"]["changes"] == []


def _fossasia(drop: tuple[str, ...] = (), sessions: list[dict[str, object]] | None = None
              ) -> bytes:
    entries = [(p.stem, p.read_bytes()) for p in sorted(FOSSASIA.iterdir())
               if p.stem not in drop and not (sessions is not None and p.stem == "sessions")]
    if sessions is not None:
        entries.append(("sessions", json.dumps(sessions).encode()))
    return zip_bytes(entries)


def test_open_event_without_a_session_type_list_creates_them_from_the_sessions() -> None:
    sessions = json.loads((FOSSASIA / "sessions.json").read_bytes())
    embedded = {s["session-type"]["id"] for s in sessions if s.get("session-type")}
    data, zf = read_upload(io.BytesIO(_fossasia(drop=("session_types",))), None)
    assert zf is not None
    zf.close()
    types = data.items["session-types"]
    assert {t.source_id for t in types} == embedded and len(types) > 1
    assert len(data.items["sessions"]) == len(sessions) == 491
    assert sum(1 for s in data.items["sessions"] if s.values["session_type_id"]) == sum(
        1 for s in sessions if s.get("session-type"))


def test_open_event_dangling_references_are_warnings_naming_the_session() -> None:
    sessions = json.loads((FOSSASIA / "sessions.json").read_bytes())
    sessions[0]["track"] = {"id": 99999, "name": "Nowhere"}
    sessions[1]["speakers"] = [{"id": 88888}]
    data, zf = read_upload(io.BytesIO(_fossasia(sessions=sessions)), None)
    assert zf is not None
    zf.close()
    first, second = data.items["sessions"][0], data.items["sessions"][1]
    assert first.values["track_id"] is None and 88888 not in second.values["speaker_ids"]
    assert any("track 99999 does not exist" in w and sessions[0]["title"] in w
               for w in data.warnings)
    assert any("speaker(s) 88888 do not exist" in w for w in data.warnings)
    speakers = json.loads((FOSSASIA / "speakers.json").read_bytes())
    assert len(data.items["speakers"]) == len({s["id"] for s in speakers}) == 187


def test_frab_json_reads_schedule2_files() -> None:
    path = DATA / "voc-schedule" / "json" / "examples" / "hub-schedule2.json"
    schedule = json.loads(path.read_bytes())["schedule"]
    data, _ = read_upload(io.BytesIO(path.read_bytes()), "frab-json")
    counts = data.counts()
    people = {p["guid"] for e in schedule["events"] for p in e["participants"]}
    assert (counts["sessions"], counts["speakers"], counts["microlocations"]) == (
        len(schedule["events"]), len(people), len(schedule["conference"]["rooms"])) == (2, 4, 5)
    assert {i.uuid for i in data.items["speakers"]} == people
