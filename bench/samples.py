"""Each real sample in ``tests/data``: what the source holds, what an import kept, and what
the re-exported archive and ``schedule.json`` hold (talks, distinct persons by id, rooms).

Real schedules reuse names for different people, so persons are counted by their id (by
name only where the source gives none). Runs the real ``eventport`` command against a
throwaway SQLite database and local storage:

    .venv/bin/python bench/samples.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EVENTPORT = str(Path(sys.executable).parent / "eventport")
Counts = tuple[int, int, int]


def frab_xml_counts(path: Path) -> Counts:
    root = ElementTree.parse(path).getroot()
    talks = root.findall(".//event")
    persons = {p.get("id") or p.text for t in talks for p in t.findall("./persons/person")}
    rooms = {room.get("name") for room in root.iter("room") if room.findall("event")}
    rooms |= {t.findtext("room") for t in talks if t.findtext("room")}  # Pentabarf style
    return len(talks), len(persons), len(rooms)


def _frab_json_talks(conference: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for day in conference["days"]:
        for room in day["rooms"].values():
            yield from room


def frab_json_counts(raw: bytes) -> Counts:
    schedule = json.loads(raw)["schedule"]
    if "events" in schedule:  # schedule2: events and rooms listed once, at the top
        people = {p["guid"] for e in schedule["events"] for p in e["participants"]}
        return len(schedule["events"]), len(people), len(schedule["conference"]["rooms"])
    talks = list(_frab_json_talks(schedule["conference"]))
    persons = {p.get("guid") or p.get("id") or p.get("code") or p.get("public_name")
               for t in talks for p in t["persons"]}
    return len(talks), len(persons), len({t["room"] for t in talks})


def open_event_counts(folder: Path) -> Counts:
    def doc(name: str) -> list[dict[str, Any]]:
        return json.loads((folder / f"{name}.json").read_text())  # type: ignore[no-any-return]
    return (len(doc("sessions")), len({s["id"] for s in doc("speakers")}),
            len(doc("microlocations")))


def archive_counts(path: Path) -> Counts:
    with zipfile.ZipFile(path) as archive:
        def doc(name: str) -> list[dict[str, Any]]:
            return json.loads(archive.read(f"{name}.json"))  # type: ignore[no-any-return]
        return len(doc("sessions")), len(doc("speakers")), len(doc("microlocations"))


def open_event_zip(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for part in sorted(folder.glob("*.json")):
            archive.write(part, part.name)
    return out


def eventport(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([EVENTPORT, *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"eventport {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def samples(work: Path) -> list[tuple[str, Path, Counts]]:
    voc = DATA / "voc-schedule" / "json" / "examples"
    fosdem = DATA / "schedules" / "fosdem-2007-schedule.xml"
    fossasia = DATA / "open-event" / "FOSSASIASummit2016"
    found = [("FOSDEM 2007 schedule.xml", fosdem, frab_xml_counts(fosdem))]
    for name in ("pretalx-democon.json", "hub-schedule2.json"):
        found.append((name, voc / name, frab_json_counts((voc / name).read_bytes())))
    found.append(("FOSSASIA 2016 Open Event", open_event_zip(fossasia, work / "fossasia.zip"),
                  open_event_counts(fossasia)))
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, "EVENTPORT_DATABASE_URL": f"sqlite:///{work}/db.sqlite",
               "EVENTPORT_STORAGE_URL": f"file://{work}/storage",
               "EVENTPORT_DATA_DIR": str(work)}
        eventport(env, "db", "upgrade")
        eventport(env, "users", "create", "--email", "bench@example.org",
                  "--password", "bench-password-123")
        print("| sample | source (talks/persons/rooms) | re-exported archive | "
              "re-exported schedule.json |\n|---|---|---|---|")
        for index, (label, path, source) in enumerate(samples(work), start=1):
            eventport(env, "import", str(path), "--owner", "bench@example.org")
            archive, frab = work / f"{index}.zip", work / f"{index}.json"
            eventport(env, "export", str(index), "--format", "archive", "--out", str(archive))
            eventport(env, "export", str(index), "--format", "frab-json", "--out", str(frab))
            print(f"| {label} | {'/'.join(map(str, source))} | "
                  f"{'/'.join(map(str, archive_counts(archive)))} | "
                  f"{'/'.join(map(str, frab_json_counts(frab.read_bytes())))} |")


if __name__ == "__main__":
    main()
