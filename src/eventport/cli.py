"""The ``eventport`` command: serve, run workers, manage the database, users and data.

Commands are thin: parse options, call a service, print. Each package adds its own
commands below (exports: ``export``/``cleanup``/``worker``/``beat``; imports: ``import``).
"""

from __future__ import annotations

import sys

import click

from eventport.config import ConfigurationError, get_settings


@click.group()
@click.version_option(package_name="eventport")
def main() -> None:
    """Eventport: an organizer server whose events export and import without loss."""


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


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
def demo(if_empty: bool) -> None:
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
    base = get_settings().base_url
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

    click.echo(f"checking storage {get_settings().storage_url}")
    try:
        ok = run_storage_check(get_storage(), click.echo)
    except StorageError as exc:
        fail(str(exc))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
