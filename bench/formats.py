"""Benchmark: render every schedule format for a large synthetic event (5,000 sessions).

Prints wall time, peak traced memory and output size per format. Run:
``.venv/bin/python bench/formats.py`` (no servers needed; exporters are pure).
"""

from __future__ import annotations

import datetime as dt
import random
import time
import tracemalloc
import uuid
import zoneinfo

from eventport.exports.registry import ExportContext, exporters
from eventport.exports.snapshot import EventSnapshot

SESSIONS, SPEAKERS, ROOMS = 5000, 3000, 20


def synthetic_snapshot() -> EventSnapshot:
    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    rng = random.Random(1)
    start = dt.datetime(2024, 10, 24, 9, tzinfo=tz)  # spans the October DST change
    rooms = [{"id": i, "name": f"Room {i}", "position": i} for i in range(1, ROOMS + 1)]
    speakers = [{"id": i, "name": f"Speaker {i} ✓", "email": f"s{i}@example.org",
                 "short_biography": "bio " * 30, "session_ids": []}
                for i in range(1, SPEAKERS + 1)]
    sessions = []
    for i in range(1, SESSIONS + 1):
        begin = start + dt.timedelta(days=i % 5, minutes=30 * ((i // ROOMS) % 24))
        sessions.append({
            "id": i, "uuid": str(uuid.UUID(int=i)), "title": f"Talk {i} <&>", "subtitle": "",
            "short_abstract": "abstract " * 40, "long_abstract": "long " * 100,
            "state": "accepted", "starts_at": begin.isoformat(),
            "ends_at": (begin + dt.timedelta(minutes=30)).isoformat(),
            "microlocation_id": i % ROOMS + 1, "track_id": None, "session_type_id": None,
            "speaker_ids": sorted({rng.randint(1, SPEAKERS), rng.randint(1, SPEAKERS)}),
            "comments": "", "language": "en", "level": "", "slides_url": "", "audio_url": "",
            "video_url": "", "is_featured": False,
        })
    event = {"id": 1, "identifier": "bench-2024", "name": "Bench", "timezone": "Europe/Berlin",
             "starts_at": start.isoformat(),
             "ends_at": (start + dt.timedelta(days=4, hours=9)).isoformat(),
             "external_url": "https://bench.example.org"}
    return EventSnapshot(event=event, documents={
        "microlocations": rooms, "tracks": [], "session_types": [], "speakers": speakers,
        "sessions": sessions})


def main() -> None:
    snapshot = synthetic_snapshot()
    print(f"{SESSIONS} sessions, {SPEAKERS} speakers, {ROOMS} rooms")
    for identifier, exporter in exporters().items():
        if exporter.accepts_media:
            continue  # the archive needs storage; bench/export.py measures it
        started = time.perf_counter()
        output = exporter().render(snapshot, ExportContext())
        wall = time.perf_counter() - started
        tracemalloc.start()
        exporter().render(snapshot, ExportContext())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{identifier:13s} {wall:6.2f} s  peak {peak / 2**20:6.1f} MiB  "
              f"output {len(output) / 2**20:5.1f} MiB")


if __name__ == "__main__":
    main()
