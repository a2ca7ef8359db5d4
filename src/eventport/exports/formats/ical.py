"""iCalendar (RFC 5545): the program in attendees' calendars, one VEVENT per scheduled session.

Built with the ``icalendar`` library rather than by string concatenation: folding, text
escaping (``,;\\``), and the VTIMEZONE of the event's zone (generated from the tz
database for the event's dates, so a DST change inside the event is right) are exactly
what hand-written exporters get wrong.

Decisions:

* ``UID`` is the session's ``uuid``: stable across exports, edits and instances, so a
  subscribed calendar updates an entry instead of duplicating it.
* Times carry ``TZID`` of the event's zone plus its VTIMEZONE; an event in UTC is written
  in UTC (``Z``), which needs no VTIMEZONE; so is a time that occurs twice on the night
  clocks go back, which a TZID cannot tell apart.
* ``DTSTAMP`` must be deterministic (the archive's bytes depend on the data only, not on
  the export time), and the snapshot has no per-session change time, so it is the
  event's start in UTC.
* No ATTENDEE or ORGANIZER: they need e-mail addresses, which a program never shows.
  Speakers are named in ``DESCRIPTION`` instead.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Timezone
from icalendar import Event as CalendarEvent

from eventport import __version__
from eventport.exports.formats.schedule import (
    UTC,
    FormatOptions,
    Schedule,
    Slot,
    build_schedule,
    parse_time,
)
from eventport.exports.registry import ExportContext, Exporter, register
from eventport.exports.snapshot import EventSnapshot

PRODID = f"-//Eventport//Eventport {__version__}//EN"


def _description(slot: Slot) -> str:
    parts = [slot.subtitle]
    if slot.persons:
        parts.append("Speakers: " + ", ".join(person.name for person in slot.persons))
    parts += [slot.abstract, slot.description]
    return "\n\n".join(part for part in parts if part)


def _calendar_time(value: dt.datetime, utc_only: bool) -> dt.datetime:
    """The time as written: local with TZID, unless the wall-clock time is ambiguous.

    RFC 5545 reads a local time that occurs twice (02:30 on the night clocks go back) as
    its *first* occurrence, so the second one can only be written in UTC.
    """
    if utc_only or value.replace(fold=0).astimezone(UTC) != value.astimezone(UTC):
        return value.astimezone(UTC)
    return value


def _vtimezone(schedule: Schedule) -> Timezone:
    """The event zone's rules for the schedule's dates (small, and exact for those dates)."""
    first = min(day.date for day in schedule.days) - dt.timedelta(days=1)
    last = max(day.date for day in schedule.days) + dt.timedelta(days=2)
    vtimezone = Timezone.from_tzinfo(schedule.tz, tzid=schedule.timezone_name,
                                     first_date=first, last_date=last)
    # icalendar notes the validity range in a COMMENT, which RFC 5545 (and RFC 6321's
    # schema) do not allow on VTIMEZONE itself.
    vtimezone.pop("COMMENT", None)
    return vtimezone


def build_calendar(schedule: Schedule) -> Calendar:
    """The VCALENDAR of a schedule; xCal is written from this same object."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", schedule.title)
    if not schedule.is_utc:
        calendar.add("x-wr-timezone", schedule.timezone_name)
        calendar.add_component(_vtimezone(schedule))
    stamp = (parse_time(schedule.event.get("starts_at"), schedule.tz)
             or dt.datetime(1970, 1, 1, tzinfo=UTC)).astimezone(UTC)
    for slot in schedule.slots:
        start = _calendar_time(slot.start, schedule.is_utc)
        end = _calendar_time(slot.end, schedule.is_utc)
        entry = CalendarEvent()
        entry.add("uid", slot.guid)
        entry.add("dtstamp", stamp)
        entry.add("dtstart", start)
        entry.add("dtend", end)
        entry.add("summary", slot.title)
        description = _description(slot)
        if description:
            entry.add("description", description)
        entry.add("location", slot.room.name)
        if slot.room.latitude is not None and slot.room.longitude is not None:
            entry.add("geo", (slot.room.latitude, slot.room.longitude))
        if slot.track is not None:
            entry.add("categories", [slot.track.name])
        if slot.url:
            entry.add("url", slot.url)
        calendar.add_component(entry)
    return calendar


@register
class ICalExporter(FormatOptions, Exporter):
    """``.ics`` for calendar apps; also served as a public feed of published events."""

    identifier = "ical"
    verbose_name = "iCalendar"
    extension = "ics"
    content_type = "text/calendar"
    public = True

    def render(self, snapshot: EventSnapshot, ctx: ExportContext) -> bytes:
        calendar = build_calendar(build_schedule(snapshot, ctx))
        return calendar.to_ical()
