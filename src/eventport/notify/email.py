"""Plain-text e-mail through :mod:`smtplib`, configured by one URL.

``EVENTPORT_SMTP_URL`` = ``smtp://user:pass@host:port`` (STARTTLS is used when the
server offers it), ``smtps://…`` for implicit TLS, or unset to send nothing. A
notification is a courtesy: :func:`send_mail` reports failure by returning ``False``
and logging, never by raising, so a broken mail server cannot fail an export.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from eventport.config import get_settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "EVENTPORT_SMTP_URL must look like smtp://user:pass@host:port or smtps://…"
            )
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )


def send_mail(to: str, subject: str, body: str) -> bool:
    """Send one plain-text message; ``False`` when not configured or when sending failed."""
    settings = get_settings()
    if not settings.smtp_url or not to:
        return False
    try:
        config = SmtpConfig.from_url(settings.smtp_url)
    except ValueError as exc:
        log.warning("not sending e-mail: %s", exc)
        return False
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="eventport")
    message.set_content(body)
    try:
        smtp: smtplib.SMTP
        if config.implicit_tls:
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=TIMEOUT_SECONDS,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT_SECONDS)
        with smtp:
            smtp.ehlo()
            if not config.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.username:
                smtp.login(config.username, config.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send e-mail to %s via %s:%s: %s", to, config.host, config.port,
                    exc)
        return False
    return True
