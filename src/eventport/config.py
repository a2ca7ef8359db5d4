"""Every setting Eventport reads, in one place.

Settings come from ``EVENTPORT_*`` environment variables (and an optional ``.env``
file).  The defaults describe the embedded mode — SQLite, local storage and a broker
that needs no server, all under ``./data`` — so a fresh checkout runs with nothing set.
Outside that mode a real secret key is required, because it signs download links and
session cookies: a guessable one would let anyone mint a download URL.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Stands for "not configured": the embedded mode then uses a random per-installation key
#: (:func:`local_secret_key`); any other mode refuses to start with it.
DEMO_SECRET_KEY = "eventport-embedded-demo-key-not-secret"
MIN_SECRET_KEY_LENGTH = 32


class ConfigurationError(RuntimeError):
    """Raised at startup when the settings cannot work; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EVENTPORT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("./data")
    database_url: str = "sqlite:///./data/eventport.db"
    storage_url: str = "file://./data/storage"
    broker_url: str = "filesystem://"
    secret_key: str = DEMO_SECRET_KEY
    #: Public address of the site for links (e-mails, download URLs). Unset: links use
    #: the scheme, host and port each request reached.
    base_url: str | None = None
    smtp_url: str | None = None
    smtp_from: str = "Eventport <eventport@localhost>"

    export_keep_last: int = Field(default=5, ge=1)
    export_max_age_days: int = Field(default=30, ge=1)
    download_url_ttl: int = Field(default=900, ge=10)
    #: Celery queue name; distinct names let several deployments (or test runs) share
    #: one Redis/RabbitMQ without taking each other's jobs.
    broker_queue: str = "eventport"
    #: A running job whose heartbeat is older than this many seconds is presumed dead
    #: (worker killed) and is queued again by the beat sweep (which runs every third of
    #: it). Running jobs beat every few seconds whatever they are doing, so a healthy long
    #: job is never taken for dead; 20 s puts recovery from a dead worker under 30 s.
    job_stale_after: int = Field(default=20, ge=2)
    #: How long a job rides out a storage outage (connection refused or reset, timeouts,
    #: 5xx, throttling) with backoff before it fails; the budget restarts after progress.
    storage_retry_seconds: float = Field(default=60, ge=0)

    #: Webhooks to loopback, private and link-local addresses are refused unless on.
    webhook_allow_private: bool = False
    #: First retry of a failed webhook delivery after this many seconds, doubling each
    #: time (capped at 6 h) for ``webhook_retry_hours``; tests make it small.
    webhook_backoff_seconds: float = Field(default=30.0, gt=0)
    webhook_retry_hours: float = Field(default=24.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    #: How often beat runs the backup scheduler and re-sends due webhook deliveries.
    scheduler_tick_seconds: float = Field(default=60.0, ge=1)

    token_ttl_hours: int = Field(default=24 * 14, ge=1)
    media_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    import_max_bytes: int = Field(default=8 * 1024 * 1024 * 1024, ge=1)
    #: A succeeded dry run keeps its upload this long, so that applying it
    #: (``POST /api/v1/imports/{id}/apply``) needs no second upload; 0 keeps none. The
    #: leftovers sweep (hourly, and ``eventport cleanup``) deletes expired ones.
    import_dry_run_keep_hours: float = Field(default=24, ge=0)

    @model_validator(mode="after")
    def _empty_smtp_is_none(self) -> Settings:
        if not self.smtp_url:
            self.smtp_url = None
        if not self.base_url:
            self.base_url = None
        return self

    @property
    def is_embedded(self) -> bool:
        """True when nothing but local defaults is in use (the `make run` demo)."""
        return (
            self.database_url.startswith("sqlite")
            and self.storage_url.startswith(("file://", "memory://"))
            and self.broker_url.startswith(("filesystem://", "memory://", "sqla+sqlite"))
        )

    def check_production_ready(self) -> None:
        """Refuse to start a scaled deployment with the public demo key or a weak key."""
        if self.is_embedded:
            return
        if self.secret_key == DEMO_SECRET_KEY:
            raise ConfigurationError(
                "EVENTPORT_SECRET_KEY is not set. Outside the embedded demo Eventport needs "
                "a secret key of at least 32 random characters to sign tokens and download "
                f"links, for example: EVENTPORT_SECRET_KEY={secrets.token_urlsafe(48)}"
            )
        if len(self.secret_key) < MIN_SECRET_KEY_LENGTH or len(set(self.secret_key)) < 8:
            raise ConfigurationError(
                "EVENTPORT_SECRET_KEY is too weak: use at least 32 random characters, e.g. "
                "the output of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )


def local_secret_key(data_dir: Path) -> str:
    """A random key kept in ``data_dir/secret_key`` (0600), made on first use.

    The embedded mode needs no configuration, but a key printed in the source would let
    anyone forge download links and cookies for a demo someone exposed on a network; a
    per-installation key costs nothing and is shared by ``serve`` and its worker.
    """
    path = Path(data_dir) / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this installation was first
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache after changing the environment."""
    settings = Settings()
    if settings.secret_key == DEMO_SECRET_KEY and settings.is_embedded:
        settings.secret_key = local_secret_key(settings.data_dir)
    return settings
