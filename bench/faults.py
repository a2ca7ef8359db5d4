"""The fault table of issue 12, measured: runs the fault tests (real servers: moto,
Azurite, fake-gcs-server, a redis-server of their own, real ``eventport web`` and
``eventport worker`` processes) and collects the ``FAULT | …`` line each prints into one
Markdown table.

Why through the tests rather than a harness of its own: the tests already start the
servers, cut the network and assert what must hold, so every row here is also a passing
assertion, and a row cannot drift from what CI checks.

    .venv/bin/python bench/faults.py            # ~4 min on 2 cores
    .venv/bin/python bench/faults.py --long     # + a 120 s cut against the default 60 s
                                                #   budget on S3, and 2 worker kills

Needs PostgreSQL (the worker tests) as the test suite does, and ``npm ci`` (Azurite).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("fault", "job ended", "archive check", "open uploads after (server)",
           "time to recover / fail")
TESTS = [
    "tests/exports/test_outages.py::test_outage_in_the_media_stage_is_ridden_out",
    "tests/exports/test_outages.py::test_outage_longer_than_the_budget_fails_with_the_cause",
    "tests/exports/test_job_faults.py::test_a_redis_restart_mid_export_leaves_the_worker_alive",
    "tests/exports/test_job_faults.py::"
    "test_broker_down_when_requested_the_job_runs_once_it_is_back",
    "tests/exports/test_worker_kill.py",
    "tests/api/test_killed_web.py",
    "tests/storage/test_write_errors.py",
]
LONG = ["tests/exports/test_outages.py::"
        "test_outage_longer_than_the_budget_fails_with_the_cause[s3]"]


def run(tests: list[str], env: dict[str, str]) -> tuple[list[str], list[str], int]:
    """Run pytest on ``tests``; the FAULT rows, other FAULT-* notes, and the exit code."""
    cmd = [str(REPO / ".venv/bin/pytest"), "-q", "-s", "-p", "no:cacheprovider", *tests]
    done = subprocess.run(cmd, cwd=REPO, env={**os.environ, **env}, capture_output=True,
                          text=True)
    rows, notes = [], []
    for line in done.stdout.splitlines():
        # pytest -q puts a file's name and result dots before what a test prints.
        if "FAULT |" in line:
            rows.append(line[line.index("FAULT |"):])
        elif "FAULT-" in line:
            notes.append(line[line.index("FAULT-"):])
    if done.returncode:
        sys.stderr.write(done.stdout[-4000:])
    return rows, notes, done.returncode


def table(rows: list[str]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [cell.strip() for cell in row.split("|")[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", action="store_true",
                        help="also a 120 s cut against the 60 s default budget; 2 kills")
    args = parser.parse_args()
    started = time.monotonic()
    env = {"EVENTPORT_FAULTS_KILLS": "2"} if args.long else {}
    rows, notes, code = run(TESTS, env)
    if args.long:
        more, _, more_code = run(LONG, {"EVENTPORT_FAULTS_OUTAGE": "120",
                                        "EVENTPORT_FAULTS_BUDGET": "60"})
        rows, code = rows + more, code or more_code
    print(table(rows))
    print()
    for note in notes:
        print(f"- {note}")
    print(f"\n{len(rows)} rows in {time.monotonic() - started:.0f}s; pytest exit code {code}")
    sys.exit(code)


if __name__ == "__main__":
    main()
