"""Cron expressions in an event's time zone → the next run time in UTC (``cronsim``).

``cronsim`` (healthchecks.io's parser) is used because it handles daylight-saving
changes the way people expect: a 02:30 job on the night the clocks skip 02:00–03:00 runs
at 03:00 once, and on the night 02:00–03:00 repeats it runs once, not twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from cronsim import CronSim, CronSimError

from eventport.errors import InvalidInput


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r} (use an IANA name such as "
                           "Europe/Berlin)") from None


def next_run(cron: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first time strictly after ``after`` that ``cron`` names, as UTC.

    Computing it from *now* (not from the missed run) is what makes the scheduler catch
    up once after downtime instead of once per missed tick.
    """
    local = after.astimezone(zone(timezone))
    try:
        upcoming = next(iter(CronSim(cron, local)))
    except CronSimError as exc:
        raise InvalidInput(f"cron expression {cron!r} is not valid: {exc}") from None
    except StopIteration:
        raise InvalidInput(f"cron expression {cron!r} never fires") from None
    return upcoming.astimezone(dt.UTC)
