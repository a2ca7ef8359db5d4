"""The ``timezone`` option of an import: the IANA zone for a source that names none.

frab files often give bare local times and no ``time_zone_name`` (FOSDEM 2007 does);
without a zone they would be read as UTC, an hour or more off. The option supplies it.
When the source states its zone the source wins (it knows its own times) and the job's
warnings say so. Without the option, an update uses the target event's zone.
"""

from __future__ import annotations

import functools
import zoneinfo

from eventport.errors import InvalidInput


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this server knows, sorted (the Import page's select)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def check_timezone(name: str | None) -> str | None:
    """``name`` if it is a known IANA zone; None for none; 422 for anything else."""
    if name is None or name == "":
        return None
    if name not in zone_names():
        raise InvalidInput(f"unknown time zone {name!r}: use an IANA name such as "
                           "Europe/Brussels or America/New_York")
    return name
