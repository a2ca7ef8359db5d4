"""The ``eventport`` command: serve, run workers, manage the database, users and data.

Commands are thin: parse options, call a service, print. Each package adds its own
commands below (exports: ``export``/``cleanup``/``worker``/``beat``; imports: ``import``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from eventport.config import ConfigurationError, Settings, get_settings
from eventport.imports.readers import FORMATS as IMPORT_FORMATS
from eventport.naming import plural

#: Commands that may create a new installation's database (what `make run` runs first).
CREATES_DATA = frozenset({"db", "serve"})
#: Commands that need no installation at all (they read only the files they are given).
OFFLINE = frozenset({"verify"})


def fail(message: str) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def require_installation(command: str | None) -> None:
    """Outside an installation, say what to set, rather than create ``./data`` and fail in SQL.

    The defaults point at ``./data``, which only exists where Eventport was set up;
    anywhere else a command would make an empty database and die on a missing table.
    """
    from sqlalchemy.engine import make_url

    if command in CREATES_DATA or command in OFFLINE:
        return
    settings = Settings()  # not get_settings(): that writes a secret key under data_dir
    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return
    if Path(url.database).exists():
        return
    fail(f"no Eventport database at {url.database} (is this an Eventport directory?). "
         "Run the command where Eventport's data lives (the directory holding ./data), "
         "or point it at an installation with EVENTPORT_DATABASE_URL, EVENTPORT_STORAGE_URL "
         "and EVENTPORT_DATA_DIR; `eventport db upgrade` creates a new database.")


class InstalledCommand(click.Command):
    """A command that checks for an installation only when it really runs.

    The check lives here, not in the group's callback, because click runs a group's
    callback before the subcommand parses its options: ``eventport export --help`` (or
    ``verify``, which needs no database) would fail outside a data directory.
    """

    def invoke(self, ctx: click.Context) -> Any:
        require_installation(ctx.find_root().invoked_subcommand)
        return super().invoke(ctx)


class EventportGroup(click.Group):
    """Every command and subgroup made under it is an :class:`InstalledCommand`."""

    command_class = InstalledCommand
    group_class = type


@click.group(cls=EventportGroup)
@click.version_option(package_name="eventport")
def main() -> None:
    """Eventport: an organizer server whose events export and import without loss."""


# ------------------------------------------------------------------------- web server


def run_web(host: str, port: int) -> None:
    import uvicorn

    from eventport.api.app import create_app

    try:
        app = create_app()
    except ConfigurationError as exc:
        fail(str(exc))
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def web(host: str, port: int) -> None:
    """Serve the web pages and API only (scaled mode: run workers separately)."""
    run_web(host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve web + API with an embedded worker and beat (the embedded mode)."""
    from eventport.db.migrate import upgrade

    upgrade()
    with embedded_worker():
        run_web(host, port)


def embedded_worker():  # type: ignore[no-untyped-def]
    """Context manager running a worker + beat beside the web server (jobs package)."""
    import contextlib

    try:
        from eventport.jobs.embedded import embedded_worker as start
    except ImportError:
        return contextlib.nullcontext()
    return start()


# --------------------------------------------------------------------------- database


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (safe to run repeatedly)."""
    from eventport.db.migrate import upgrade

    upgrade()
    click.echo(f"database at {get_settings().database_url.split('@')[-1]} is up to date")


# ------------------------------------------------------------------------------ users


@main.group()
def users() -> None:
    """User accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--name", default="")
@click.option("--admin", is_flag=True, help="Site administrator: owner rights on every event.")
def users_create(email: str, password: str, name: str, admin: bool) -> None:
    """Create a user who can sign in and get API tokens."""
    from eventport.accounts.service import create_user
    from eventport.db import session_scope
    from eventport.errors import EventportError

    try:
        with session_scope() as session:
            user = create_user(session, email, password, name=name, is_admin=admin)
            click.echo(f"created user {user.email} (id {user.id}{', admin' if admin else ''})")
    except EventportError as exc:
        fail(exc.detail)


# ------------------------------------------------------------------------------- demo


@main.command()
@click.option("--if-empty", is_flag=True, help="Only when the database holds no event yet.")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="Address to print when EVENTPORT_BASE_URL is not set.")
def demo(if_empty: bool, url: str) -> None:
    """Load a realistic demo event (generated locally) and print its login."""
    from eventport.db import session_scope
    from eventport.events.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo
    from eventport.storage import get_storage

    with session_scope() as session:
        event = load_demo(session, get_storage(), only_if_empty=if_empty)
        if event is None:
            click.echo("database already holds events; demo not loaded")
        else:
            click.echo(f"demo event {event.name!r} loaded (id {event.id})")
    # Without EVENTPORT_BASE_URL the site is wherever `serve --port` puts it; say so.
    base = get_settings().base_url or url
    click.secho(f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}  —  {base}", fg="green", bold=True)


# ---------------------------------------------------------------------------- storage


@main.group()
def storage() -> None:
    """The configured storage backend."""


@storage.command("check")
def storage_check() -> None:
    """Write, read, range-read, sign, fetch and delete a probe object."""
    from eventport.storage import StorageError, get_storage
    from eventport.storage.check import run_storage_check

    try:
        ok = run_storage_check(get_storage(), click.echo)
    except StorageError as exc:
        fail(str(exc))
    if not ok:
        sys.exit(1)


# ------------------------------------------------------------- jobs and exports (exports)


@main.command()
@click.option("--concurrency", "-c", default=2, show_default=True, type=int,
              help="Jobs run at the same time.")
@click.option("--pool", default="threads", show_default=True,
              type=click.Choice(["threads", "prefork", "solo"]))
@click.option("--beat", is_flag=True, help="Also run the scheduler (embedded mode only).")
@click.option("--hostname", default=None, help="Worker name (default: celery@<host>).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(concurrency: int, pool: str, beat: bool, hostname: str | None,
           loglevel: str) -> None:
    """Run a background worker for exports and imports."""
    from eventport.jobs.worker import run_worker

    run_worker(concurrency=concurrency, pool=pool, beat=beat, loglevel=loglevel,
               hostname=hostname)


@main.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run the scheduler (retention sweep, re-queuing jobs of dead workers); run one."""
    from eventport.jobs.worker import run_beat

    run_beat(loglevel)


@main.command("export")
@click.argument("event_ref", metavar="EVENT")
@click.option("--format", "format_", default="archive", show_default=True,
              help="archive, ical, xcal, pentabarf, frab-json, sessions-csv, speakers-csv")
@click.option("--media", default="image,document,audio,video", show_default=True,
              help="Comma-separated media kinds to include (archive only); '' for none.")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also copy the result to this file.")
def export_cmd(event_ref: str, format_: str, media: str, out: str | None) -> None:
    """Export EVENT (id or identifier) now, in this process, with a progress bar."""
    from eventport.cliprogress import stage_progress
    from eventport.exports import service

    job_id = _request_export(event_ref, format_, media)
    with stage_progress("snapshot") as on_progress:
        state = service.run_export(job_id, on_progress=on_progress)
    key = _report_export(job_id, state)
    if out and key:
        from eventport.storage import get_storage

        with open(out, "wb") as fh:
            for chunk in get_storage().open(key):
                fh.write(chunk)
        click.echo(f"written to {out}")


def _request_export(event_ref: str, format_: str, media: str) -> str:
    """Queue the export job for ``export``; exits with a message when it cannot be made."""
    from sqlalchemy import select

    from eventport.db import session_scope
    from eventport.errors import EventportError
    from eventport.events.models import Event
    from eventport.exports import service
    from eventport.exports.registry import get_exporter

    try:
        with session_scope() as session:
            # The identifier wins: a generated one can be all digits, like an id.
            event = session.scalar(select(Event).where(Event.identifier == event_ref))
            if event is None and event_ref.isdigit() and len(event_ref) < 10:
                event = session.get(Event, int(event_ref))
            if event is None:
                fail(f"no event {event_ref!r} (give its id or identifier)")
            options = None
            if get_exporter(format_).accepts_media:
                options = {"media": [k.strip() for k in media.split(",") if k.strip()]}
            job, created = service.request_export(session, event, None, format_, options)
            job_id, job_state = job.id, job.state
    except (EventportError, LookupError) as exc:
        fail(getattr(exc, "detail", str(exc)))
    if not created:
        fail(f"an identical export is already {job_state} (job {job_id}); wait for it or "
             "cancel it")
    return job_id


def _report_export(job_id: str, state: str | None) -> str | None:
    """Print the finished export's warnings and outcome; returns its storage key."""
    from eventport.db import session_scope
    from eventport.exports import service

    with session_scope() as session:
        job = service.get_job(session, job_id)
        for warning in job.warnings or []:
            click.secho(f"warning: {warning.get('path', '')}: {warning.get('reason', '')}",
                        fg="yellow", err=True)
        if state != "succeeded":
            fail(f"export {job_id} {job.state}: {job.error or ''}")
        click.echo(f"export {job_id}: {job.size} bytes, sha256 {job.sha256}")
        click.echo(f"stored as {job.storage_key}")
        return job.storage_key


@main.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
def cleanup(dry_run: bool) -> None:
    """Apply export retention now (keep-last-N, max age; pinned exports are kept)."""
    from eventport.db import session_scope
    from eventport.exports.retention import sweep
    from eventport.storage import get_storage

    with session_scope() as session:
        report = sweep(session, get_storage(), dry_run=dry_run)
    verb = "would expire" if dry_run else "expired"
    for job_id in report.expired:
        click.echo(f"{verb} export {job_id}")
    click.echo(f"{verb} {plural(len(report.expired), 'export')}, "
               f"{plural(report.bytes_freed, 'byte')}")
    if report.failed:
        fail(f"could not delete {plural(len(report.failed), 'export')}: "
             f"{', '.join(report.failed)}")
    if not dry_run:
        from eventport.leftovers import sweep_leftovers

        with session_scope() as session:
            leftovers = sweep_leftovers(session, get_storage())
        click.echo(f"aborted {leftovers.uploads_aborted} stale upload(s), deleted "
                   f"{len(leftovers.objects_deleted)} orphan import object(s) (of which "
                   f"{len(leftovers.kept_expired)} expired dry-run upload(s))")
        if leftovers.failed:
            fail("; ".join(leftovers.failed))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--identity", "identity_file", type=click.Path(exists=True, dir_okay=False),
              help="age key file (AGE-SECRET-KEY-1…) to open an encrypted archive (.zip.age)")
def verify(file: str, identity_file: str | None) -> None:
    """Check an archive offline: zip directory, every entry's size and SHA-256 against
    manifest.json, and that the documents import. Exit code 0 only when all hold."""
    from eventport.exports.verify import ArchiveInvalid, verify_path

    if identity_file is None and _is_sealed(file):
        fail(f"{file} is an encrypted archive (age); pass the key that opens it with "
             "--identity KEYFILE (a file holding AGE-SECRET-KEY-1…)")
    try:
        proof = verify_path(file) if identity_file is None else _verify_sealed(
            file, identity_file)
    except ArchiveInvalid as exc:
        fail(f"{file} is NOT a sound archive: {exc}")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    click.secho(f"{file}: OK — {proof.entries} entries ({proof.media} media"
                + (f", {proof.missing} reported missing by the exporter" if proof.missing
                   else "")
                + f"), {proof.size} bytes, sha256 {proof.sha256}", fg="green")


def _is_sealed(file: str) -> bool:
    """An age file, by its header (not its name: a renamed ``.zip.age`` is still one)."""
    from eventport.exports.encryption import AGE_MAGIC

    try:
        with open(file, "rb") as fh:
            return fh.read(len(AGE_MAGIC)) == AGE_MAGIC
    except OSError:
        return False


def _verify_sealed(file: str, identity_file: str) -> Any:
    """Decrypt into a private temporary file (deleted afterwards) and verify that."""
    import tempfile
    from pathlib import Path

    from eventport.exports.encryption import decrypt_stream, parse_identity
    from eventport.exports.verify import verify_path

    try:
        identity = parse_identity(Path(identity_file).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{identity_file}: {exc}")
    with tempfile.NamedTemporaryFile(suffix=".zip") as plain, open(file, "rb") as sealed:
        try:
            decrypt_stream(iter(lambda: sealed.read(1 << 20), b""), plain, identity)
        except ValueError as exc:
            fail(f"{file}: {exc}")
        plain.flush()
        return verify_path(plain.name)


# ----------------------------------------------------------------------------- backups


@main.group()
def backups() -> None:
    """Scheduled backups (events' backup policies)."""


@backups.command("run-due")
def backups_run_due() -> None:
    """Start the backups that are due now (beat does this every minute); safe to run
    beside beat: each due backup is started once."""
    from eventport.backups.service import run_due
    from eventport.jobs import enqueue_export
    from eventport.storage import get_storage

    report = run_due(storage=get_storage(), enqueue=enqueue_export)
    for job_id in report.created:
        click.echo(f"started export {job_id}")
    for job_id in report.expired:
        click.echo(f"expired export {job_id} (keep_last)")
    for job_id in report.reported:
        click.echo(f"reported failed backup {job_id}")
    click.echo(f"{len(report.created)} backup(s) started")


# ------------------------------------------------------------------------------ import


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--owner", "owner_email", required=True, help="E-mail of the new event's owner.")
@click.option("--format", "fmt", type=click.Choice(list(IMPORT_FORMATS)),
              default=None, help="Detected when omitted.")
@click.option("--dry-run", is_flag=True, help="Validate and report counts; write nothing.")
@click.option("--timezone", "zone", default=None, metavar="ZONE",
              help="IANA time zone (e.g. Europe/Brussels) for a source that names none; a "
                   "zone the source names wins.")
def import_command(file: str, owner_email: str, fmt: str | None, dry_run: bool,
                   zone: str | None) -> None:
    """Import an event from FILE (Eventport archive, Open Event zip, frab schedule.xml or
    schedule.json)."""
    from sqlalchemy import select

    from eventport.accounts.models import User
    from eventport.cliprogress import stage_progress
    from eventport.db import get_sessionmaker, session_scope
    from eventport.errors import EventportError
    from eventport.imports import service as imports
    from eventport.imports.kept import drop_kept_upload
    from eventport.storage import get_storage

    storage = get_storage()
    try:
        with session_scope() as session:
            user = session.scalar(select(User).where(User.email == owner_email.strip().lower()))
            if user is None:
                fail(f"no user with e-mail {owner_email}")
            with open(file, "rb") as upload:
                job = imports.create_import_job(session, storage, user, upload,
                                                file.rsplit("/", 1)[-1], format=fmt,
                                                dry_run=dry_run, timezone=zone)
            job_id = job.id
    except EventportError as exc:
        fail(exc.detail)
    with stage_progress("reading") as on_progress:
        imports.run_import(job_id, storage=storage, on_progress=on_progress)
    with get_sessionmaker()() as session:
        finished = session.get(imports.ImportJob, job_id)
        assert finished is not None
        if dry_run:  # a kept upload is for POST /imports/{id}/apply: nothing to apply here
            drop_kept_upload(session, storage, finished)
            session.commit()
        summary = imports.job_summary(finished)
    _print_warnings(summary)
    if summary["state"] != "succeeded":
        fail(summary["error"] or summary["state"])
    counts = ", ".join(_count(n, kind) for kind, n in summary["result"].get("counts", {}).items())
    if dry_run:
        click.echo(f"dry run: would create {counts}")
    else:
        click.secho(f"imported event {summary['event_id']} "
                    f"({summary['result'].get('event_identifier')}): {counts}", fg="green")


def _print_warnings(summary: dict[str, Any]) -> None:
    """Each warning, then how many of which kind (as the Import page groups them)."""
    groups = summary["warning_groups"]
    for warning in summary["warnings"]:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if groups:
        kinds = "; ".join(f"{g['kind']} × {g['count']}" for g in groups)
        click.secho(f"{plural(len(summary['warnings']), 'warning')} of "
                    f"{plural(len(groups), 'kind')}: {kinds}", fg="yellow", err=True)


def _count(n: int, kind: str) -> str:
    """``1 speaker``, ``3 session-types`` -> ``3 session types``: counts read as English."""
    words = kind.replace("-", " ").replace("_", " ")
    singular = words[:-1] if words.endswith("s") else words
    return plural(n, singular, words)


if __name__ == "__main__":
    main()
