"""UUIDs: checking them, and deriving them for sources that have none (DESIGN.md *Identity*).

A frab ``schedule.xml``, an Open Event export or a version 1 archive names its entities
by ids local to the system that wrote it. Importing the same source twice must give the
same uuids (so a re-import *updates*), and two sources must not collide: the uuid is a
name-based UUID (version 5) over the source's own identity — its kind of source, its
conference, the entity kind and the source's id.
"""

from __future__ import annotations

import re
import uuid

#: Namespace of every uuid Eventport derives (a fixed, random-looking UUID of its own).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://eventport.invalid/identity")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def is_uuid(value: object) -> bool:
    """A UUID in its usual 36-character form (or the 32 hex digits without dashes)."""
    return isinstance(value, str) and bool(_UUID.match(value))


def normal_uuid(value: str) -> str:
    """The canonical lowercase, dashed form (frab guids come in any case)."""
    return str(uuid.UUID(value))


def source_uuid(*parts: object) -> str:
    """The same parts give the same uuid on every server, every time."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


def fresh_uuid() -> str:
    return str(uuid.uuid4())
