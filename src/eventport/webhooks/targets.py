"""Where a webhook may point: http(s) URLs whose host resolves to public addresses only.

A webhook makes the server send requests on an organizer's behalf; pointed at
``127.0.0.1:6379``, ``169.254.169.254`` or ``10.0.0.5`` it would reach services only the
server can see (SSRF). So every address the host resolves to must be global unicast,
unless ``EVENTPORT_WEBHOOK_ALLOW_PRIVATE`` is on (tests, all-internal deployments).

The check runs when a webhook is created (to say so at once) *and* before every
delivery, and the delivery then connects to the very address that was checked — a DNS
answer that changes between check and connect (rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from eventport.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedTarget(InvalidInput):
    """The URL is malformed, does not resolve, or resolves to a non-public address."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to instead of resolving again."""

    url: str
    host: str
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (port and path kept)."""
        parts = urlsplit(self.url)
        ip = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{ip}:{parts.port}" if parts.port else ip
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        return f"{self.host}:{parts.port}" if parts.port else self.host


def is_public(address: IPAddress) -> bool:
    """Global unicast only: no loopback, private, link-local, multicast, reserved, …"""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


def parse_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL without credentials; RefusedTarget otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedTarget(f"webhook URL is not valid: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget("webhook URL must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise RefusedTarget("webhook URL must not carry credentials; use the secret")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check the URL and every address its host resolves to; the first one to use."""
    host, port = parse_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedTarget(f"webhook host {host!r} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise RefusedTarget(f"webhook host {host!r} does not resolve")
    refused = [a for a in addresses if not is_public(a)]
    if refused and not allow_private:
        raise RefusedTarget(
            f"webhook host {host!r} resolves to a non-public address ({refused[0]}); "
            "loopback, private and link-local targets are refused unless the operator "
            "sets EVENTPORT_WEBHOOK_ALLOW_PRIVATE")
    return Target(url=url, host=host, address=addresses[0])
