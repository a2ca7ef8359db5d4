"""The one place each kind of generated or displayed name is made.

Event identifiers, UUIDs, slugs, unique key prefixes, human-readable sizes and plurals
were each written two or three times (the API, the exporters, the importer, the web
pages, the mails), and the copies had started to differ. Pure functions, no imports
from the rest of Eventport, so every layer can use them.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid

#: An event identifier: what feeds and URLs name the event by (``/events/{identifier}``).
IDENTIFIER_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
#: Namespace of UUIDs derived from data (rooms and people have no UUID of their own).
DERIVED_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://eventport.invalid/schedule")


def is_identifier(text: str) -> bool:
    return re.fullmatch(IDENTIFIER_PATTERN, text) is not None


def new_identifier() -> str:
    """A random event identifier (8 hex digits); the caller checks it is not taken."""
    return secrets.token_hex(4)


def unique_prefix() -> str:
    """16 random hex digits that keep two stored objects of the same name apart."""
    return secrets.token_hex(8)


def new_uuid() -> str:
    return str(uuid.uuid4())


def derived_uuid(*parts: object) -> str:
    """A stable UUID for things that have none: same parts, same UUID, in every export."""
    return str(uuid.uuid5(DERIVED_NAMESPACE, "/".join(str(part) for part in parts)))


def is_uuid(text: object) -> bool:
    """True for a string in the canonical 8-4-4-4-12 hex form (either case)."""
    return isinstance(text, str) and _UUID.match(text) is not None


def normal_uuid(text: str) -> str:
    """The canonical lowercase form (frab guids come in any case)."""
    return str(uuid.UUID(text))


def slugify(text: str, max_length: int = 60, fallback: str = "file") -> str:
    """ASCII, lowercase, dash-separated: safe in any filesystem, zip tool and URL.

    ``fallback`` is returned when the text has no Latin letters or digits at all.
    """
    normalized = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", normalized.lower()).strip("-")
    return slug[:max_length].rstrip("-") or fallback


def human_size(size: int | None) -> str:
    """``512 bytes``, ``1.5 MB`` (decimal units, as disks and browsers show them)."""
    if size is None:
        return "—"
    if size < 1000:
        return plural(size, "byte")
    value = size / 1000
    for unit in ("KB", "MB"):
        if value < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 export``, ``2 exports``, ``1 category``/``2 categories`` (give the plural then)."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"
