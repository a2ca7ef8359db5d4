"""The `eventport` command as an operator runs it: a real process, a real database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eventport.config import DEMO_SECRET_KEY, ConfigurationError, Settings

EVENTPORT = [sys.executable, "-m", "eventport.cli"]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EVENTPORT, *args], env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_upgrade_users_and_demo(database_url, settings_env, tmp_path):
    env = {"EVENTPORT_DATABASE_URL": database_url,
           "EVENTPORT_STORAGE_URL": f"file://{tmp_path}/storage",
           "EVENTPORT_SECRET_KEY": "x7Hq2-Lp9sVb3Nw8Zr4Tk6Jm1Yc5Fd0Ge"}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0  # idempotent

    made = run(["users", "create", "--email", "Root@Example.org", "--password", "s3cret-pass",
                "--admin"], env, tmp_path)
    assert made.returncode == 0, made.stderr
    assert "root@example.org" in made.stdout
    dup = run(["users", "create", "--email", "root@example.org", "--password", "whatever1"],
              env, tmp_path)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    short = run(["users", "create", "--email", "x@example.org", "--password", "short"],
                env, tmp_path)
    assert short.returncode == 1 and "at least 8" in short.stderr

    demo = run(["demo", "--if-empty"], env, tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "Demo login: demo@eventport.example / eventport-demo" in demo.stdout
    again = run(["demo", "--if-empty"], env, tmp_path)
    assert "not loaded" in again.stdout


def test_demo_event_is_realistic(db):
    from sqlalchemy import func, select

    from eventport.events.demo import load_demo
    from eventport.events.models import Microlocation, ProgramSession, Speaker, Sponsor, Track
    from eventport.storage import get_storage

    event = load_demo(db, get_storage())
    db.commit()
    assert event is not None
    assert (event.ends_at - event.starts_at).days >= 2

    def count(model, *where):
        return db.scalar(select(func.count()).select_from(model).where(
            model.event_id == event.id, *where))

    assert count(Microlocation) == 4
    assert count(Track) == 3
    assert count(ProgramSession) >= 40
    assert count(Speaker) >= 20
    assert count(Speaker, Speaker.photo_id.is_not(None)) == count(Speaker)
    assert count(Sponsor, Sponsor.logo_id.is_not(None)) >= 3
    assert count(ProgramSession, ProgramSession.slides_id.is_not(None)) >= 5


def test_secret_key_is_required_outside_embedded_mode():
    scaled = Settings(database_url="postgresql+psycopg://db/eventport", secret_key=DEMO_SECRET_KEY)
    with pytest.raises(ConfigurationError, match="EVENTPORT_SECRET_KEY is not set"):
        scaled.check_production_ready()
    weak = Settings(database_url="postgresql+psycopg://db/eventport", secret_key="aaaaaaaa" * 5)
    with pytest.raises(ConfigurationError, match="too weak"):
        weak.check_production_ready()
    Settings(database_url="postgresql+psycopg://db/eventport",
             secret_key="x7Hq2-Lp9sVb3Nw8Zr4Tk6Jm1Yc5Fd0Ge").check_production_ready()
    Settings().check_production_ready()  # the embedded demo runs with no settings at all


def test_web_refuses_to_start_with_weak_key(tmp_path):
    env = {"EVENTPORT_DATABASE_URL": "postgresql+psycopg://127.0.0.1/none",
           "EVENTPORT_SECRET_KEY": "short"}
    result = run(["web", "--port", "0"], env, tmp_path)
    assert result.returncode == 1
    assert "EVENTPORT_SECRET_KEY" in result.stderr


def test_embedded_mode_signs_with_a_per_installation_key(tmp_path, monkeypatch):
    """No EVENTPORT_SECRET_KEY: a random key is made once, kept 0600, and reused."""
    from eventport.config import get_settings

    for name in ("EVENTPORT_SECRET_KEY", "EVENTPORT_DATABASE_URL", "EVENTPORT_STORAGE_URL",
                 "EVENTPORT_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EVENTPORT_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        first = get_settings().secret_key
        assert first != DEMO_SECRET_KEY and len(first) >= 32
        key_file = tmp_path / "data" / "secret_key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        get_settings.cache_clear()
        assert get_settings().secret_key == first
    finally:
        get_settings.cache_clear()


def test_outside_an_installation_it_says_what_to_set(tmp_path):
    """No ./data here and no EVENTPORT_* set: a message, no traceback, nothing created."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTPORT_")}
    result = subprocess.run([*EVENTPORT, "users", "create", "--email", "a@example.org",
                             "--password", "long enough"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "EVENTPORT_DATABASE_URL" in result.stderr and "db upgrade" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_storage_check_prints_its_header_once(settings_env, tmp_path):
    result = run(["storage", "check"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headers = [line for line in lines if line.lower().startswith("checking storage")]
    assert headers == [lines[0]]
    assert lines[-1] == "Storage check passed."


def test_progress_shows_bytes_only_for_stages_that_count_bytes():
    from rich.progress import Progress

    from eventport.cliprogress import _AmountColumn

    progress = Progress()
    progress.add_task("schedule", total=4, completed=3)
    progress.add_task("media", total=4_000_000, completed=1_500_000)
    schedule, media = progress.tasks
    column = _AmountColumn()
    assert column.render(schedule).plain == "3/4"
    assert column.render(media).plain.startswith("1.5/4.0 MB ")  # then the speed


def test_plurals():
    from eventport.cli import _count
    from eventport.naming import human_size, plural

    assert [plural(1, "export"), plural(2, "export"), plural(0, "export")] == [
        "1 export", "2 exports", "0 exports"]
    assert [_count(1, "speakers"), _count(3, "session-types"), _count(2, "media")] == [
        "1 speaker", "3 session types", "2 media"]
    assert [human_size(1), human_size(999), human_size(1500), human_size(None)] == [
        "1 byte", "999 bytes", "1.5 KB", "—"]


def test_import_then_export_in_fresh_processes(database_url, settings_env, tmp_path):
    """Each command is a new process that imported only what it needs: every model the
    flush touches (an export row points at backup policies) must still be known.
    ``settings_env`` empties the tables first: FOSDEM 2007's uuid is the same for every
    test that imports it, so a leftover copy would (rightly) refuse a create."""
    from tests.sample_data import DATA

    env = {"EVENTPORT_DATABASE_URL": database_url,
           "EVENTPORT_STORAGE_URL": f"file://{tmp_path}/storage",
           "EVENTPORT_SECRET_KEY": "x7Hq2-Lp9sVb3Nw8Zr4Tk6Jm1Yc5Fd0Ge"}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    assert run(["users", "create", "--email", "cli@example.org", "--password", "s3cret-pass"],
               env, tmp_path).returncode == 0
    schedule = DATA / "schedules" / "fosdem-2007-schedule.xml"
    imported = run(["import", str(schedule), "--owner", "cli@example.org"], env, tmp_path)
    assert imported.returncode == 0, imported.stderr
    event_id = re.search(r"imported event (\d+)", imported.stdout)
    assert event_id, imported.stdout  # the database is shared: never assume id 1
    out = tmp_path / "schedule.xml"
    exported = run(["export", event_id.group(1), "--format", "pentabarf", "--out", str(out)],
                   env, tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes().count(b"<event ") == schedule.read_bytes().count(b"<event ")


def _archive_of_a_new_event(db, folder: Path) -> Path:
    """An archive of a small event, written where a user would keep a download."""
    import datetime as dt

    from eventport.accounts.service import create_user
    from eventport.events.service import create_event
    from eventport.storage import get_storage
    from tests.imports.conftest import export_archive

    owner = create_user(db, "offline@example.org", "s3cret-pass")
    event = create_event(db, owner, {"name": "Offline", "timezone": "UTC",
                                     "starts_at": dt.datetime(2026, 5, 1, 9),
                                     "ends_at": dt.datetime(2026, 5, 2, 18)})
    db.commit()
    path = folder / "offline.zip"
    path.write_bytes(export_archive(db, get_storage(), event.id))
    return path


def test_verify_and_help_need_no_installation(db, tmp_path):
    """DESIGN: `verify FILE` checks an archive offline — on a laptop with no ./data, no
    EVENTPORT_* variables, nothing written; a sealed one without a key says --identity."""
    import pyrage

    from eventport.exports.encryption import encrypting

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    plain = _archive_of_a_new_event(db, downloads)
    key = pyrage.x25519.Identity.generate()
    (downloads / "key.txt").write_text(f"{key}\n")
    with open(downloads / "offline.zip.age", "wb") as sink, \
            encrypting(sink, [str(key.to_public())]) as out:
        out.write(plain.read_bytes())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTPORT_")}

    def eventport(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*EVENTPORT, *args], env=env, cwd=elsewhere,
                              capture_output=True, text=True, timeout=120)

    for args in (["--help"], ["export", "--help"], ["users", "create", "--help"]):
        shown = eventport(*args)
        assert shown.returncode == 0 and "Usage:" in shown.stdout, (args, shown.stderr)
    ok = eventport("verify", str(plain))
    assert ok.returncode == 0 and ": OK" in ok.stdout, ok.stderr
    sealed = eventport("verify", str(downloads / "offline.zip.age"))
    assert sealed.returncode == 1 and "--identity" in sealed.stderr, sealed.stderr
    assert "Traceback" not in sealed.stderr
    opened = eventport("verify", str(downloads / "offline.zip.age"),
                       "--identity", str(downloads / "key.txt"))
    assert opened.returncode == 0 and ": OK" in opened.stdout, opened.stderr
    assert list(elsewhere.iterdir()) == []


def test_every_documented_command_and_option_exists():
    """Each `eventport …` in DESIGN's CLI section: its (sub)command and every --option."""
    import re

    import click

    from eventport.cli import main

    design = Path(__file__).resolve().parents[2] / "docs" / "DESIGN.md"
    section = design.read_text(encoding="utf-8").split("## CLI", 1)[1]
    usages = re.findall(r"`eventport ([^`]+)`", section.replace("\n", " "))
    assert len(usages) >= 12, usages
    for usage in usages:
        command: click.Command = main
        words = usage.replace("[", " ").replace("]", " ").split()
        for word in words:
            if isinstance(command, click.Group) and word in command.commands:
                command = command.commands[word]
        assert command is not main, usage
        options = {opt for param in command.params for opt in param.opts}
        for flag in (w for w in words if w.startswith("--")):
            assert flag in options, (usage, flag)
