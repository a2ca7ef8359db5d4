"""frab/Pentabarf ``schedule.xml``: what Giggity, ConfClerk and EventFahrplan read.

Written to be valid against the c3voc XSD (``voc/schedule`` ``schedule.xml.xsd``), the
de-facto definition of the format: importers must be lenient, but an exporter must be
strict, because every app parses it slightly differently. Layout ``day/room/event``
(frab's, not the old Pentabarf ``day/event`` with a ``<room>`` element); every room that
has sessions appears on every day so apps keep stable columns.
"""

from __future__ import annotations

from lxml import etree

from eventport import __version__
from eventport.exports.formats.schedule import (
    FormatOptions,
    Schedule,
    Slot,
    build_schedule,
    hhmm,
    iso,
)
from eventport.exports.registry import ExportContext, Exporter, register
from eventport.exports.snapshot import EventSnapshot

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = "https://c3voc.de/schedule/schema.xsd"


def _text(parent: etree._Element, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, name)
    element.text = text
    return element


def _conference(root: etree._Element, schedule: Schedule) -> None:
    conference = etree.SubElement(root, "conference")
    _text(conference, "acronym", schedule.acronym)
    _text(conference, "title", schedule.title)
    _text(conference, "start", schedule.days[0].date.isoformat())
    _text(conference, "end", schedule.days[-1].date.isoformat())
    _text(conference, "days", str(len(schedule.days)))
    _text(conference, "timeslot_duration", schedule.timeslot_duration)
    if schedule.url:
        _text(conference, "url", schedule.url)
    if schedule.logo:
        _text(conference, "logo", schedule.logo)
    _text(conference, "time_zone_name", schedule.timezone_name)
    for track in schedule.tracks:
        element = _text(conference, "track", track.name)
        element.set("name", track.name)
        element.set("color", track.color)
        if track.slug:
            element.set("slug", track.slug)


def _event(parent: etree._Element, slot: Slot) -> None:
    event = etree.SubElement(parent, "event", guid=slot.guid, id=str(slot.id))
    _text(event, "date", iso(slot.start))
    _text(event, "start", slot.start.strftime("%H:%M"))
    _text(event, "duration", hhmm(slot.duration))
    _text(event, "room", slot.room.name)
    _text(event, "slug", slot.slug)
    if slot.url:
        _text(event, "url", slot.url)
    _text(event, "title", slot.title)
    _text(event, "subtitle", slot.subtitle)
    _text(event, "track", slot.track.name if slot.track else "")
    _text(event, "type", slot.type)
    _text(event, "language", slot.language)
    _text(event, "abstract", slot.abstract)
    _text(event, "description", slot.description)
    persons = etree.SubElement(event, "persons")
    for person in slot.persons:
        _text(persons, "person", person.name).attrib.update(
            {"id": str(person.id), "guid": person.guid})
    links = etree.SubElement(event, "links")
    for link in slot.links:
        _text(links, "link", link.title).attrib.update({"href": link.url, "type": link.type})


def schedule_xml(schedule: Schedule) -> bytes:
    root = etree.Element("schedule", nsmap={"xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}noNamespaceSchemaLocation", SCHEMA_LOCATION)
    etree.SubElement(root, "generator", name="eventport", version=__version__)
    _text(root, "version", schedule.version)
    _conference(root, schedule)
    for day in schedule.days:
        day_element = etree.SubElement(root, "day", index=str(day.index),
                                       date=day.date.isoformat(), start=iso(day.start),
                                       end=iso(day.end))
        for room, slots in day.by_room(schedule.rooms):
            room_element = etree.SubElement(day_element, "room", name=room.name,
                                            guid=room.guid)
            for slot in slots:
                _event(room_element, slot)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@register
class PentabarfExporter(FormatOptions, Exporter):
    """frab ``schedule.xml`` (historically "Pentabarf XML")."""

    identifier = "pentabarf"
    verbose_name = "frab/Pentabarf schedule.xml"
    extension = "xml"
    content_type = "application/xml"
    public = True

    def render(self, snapshot: EventSnapshot, ctx: ExportContext) -> bytes:
        return schedule_xml(build_schedule(snapshot, ctx))
