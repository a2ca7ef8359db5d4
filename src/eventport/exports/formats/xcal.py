"""xCal (RFC 6321): the iCalendar export's exact content, as XML.

Rather than build the XML from the schedule a second time (and let the two drift), the
VCALENDAR that :mod:`.ical` builds is converted: ``icalendar`` gives its jCal form
(RFC 7265, which mirrors RFC 6321 value for value: ``[name, params, type, values...]``)
and this module writes that structure with lxml. The rules of RFC 6321 that jCal does
not spell out are applied here: parameter values are typed (``<tzid><text>…``),
``GEO`` splits into ``<latitude>``/``<longitude>``, ``RECUR`` parts keep the schema's order.

Extension properties (``X-WR-CALNAME``) are dropped: RFC 6321 leaves them to agreement
between parties and the RFC's schema does not accept them.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from eventport.exports.formats.ical import build_calendar
from eventport.exports.formats.schedule import FormatOptions, build_schedule
from eventport.exports.registry import ExportContext, Exporter, register
from eventport.exports.snapshot import EventSnapshot

XCAL_NS = "urn:ietf:params:xml:ns:icalendar-2.0"

#: Parameters whose value type is not ``text`` (RFC 6321 section 3.5.1).
_PARAMETER_TYPES = {"altrep": "uri", "dir": "uri", "delegated-from": "cal-address",
                    "delegated-to": "cal-address", "member": "cal-address",
                    "sent-by": "cal-address", "rsvp": "boolean"}
#: Order of RECUR parts in RFC 6321's schema.
_RECUR_ORDER = ("freq", "until", "count", "interval", "bysecond", "byminute", "byhour",
                "byday", "bymonthday", "byyearday", "byweekno", "bymonth", "bysetpos", "wkst")


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{XCAL_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value(parent: etree._Element, value_type: str, value: Any) -> None:
    if value_type == "recur":
        recur = _el(parent, "recur")
        for part in sorted(value, key=lambda k: _RECUR_ORDER.index(k)
                           if k in _RECUR_ORDER else len(_RECUR_ORDER)):
            items = value[part] if isinstance(value[part], list) else [value[part]]
            for item in items:
                _el(recur, part, _scalar(item))
    elif value_type == "period":
        period = _el(parent, "period")
        _el(period, "start", _scalar(value[0]))
        second = _scalar(value[1])
        _el(period, "duration" if second.lstrip("+-").startswith("P") else "end", second)
    elif value_type == "float" and isinstance(value, list):  # GEO: [latitude, longitude]
        _el(parent, "latitude", _scalar(value[0]))
        _el(parent, "longitude", _scalar(value[1]))
    else:
        _el(parent, value_type, _scalar(value))


def _property(parent: etree._Element, prop: list[Any]) -> None:
    name, parameters, value_type, *values = prop
    element = _el(parent, name)
    if parameters:
        holder = _el(element, "parameters")
        for key, value in parameters.items():
            param = _el(holder, key)
            for item in value if isinstance(value, list) else [value]:
                _el(param, _PARAMETER_TYPES.get(key, "text"), _scalar(item))
    for value in values:
        _value(element, value_type, value)


def _component(parent: etree._Element, component: list[Any]) -> None:
    name, properties, children = component
    element = _el(parent, name)
    holder = _el(element, "properties")
    for prop in properties:
        if not prop[0].startswith("x-"):
            _property(holder, prop)
    if children or name == "vcalendar":
        components = _el(element, "components")
        for child in children:
            _component(components, child)


def jcal_to_xcal(jcal: list[Any]) -> bytes:
    """An RFC 7265 jCal VCALENDAR as an RFC 6321 xCal document."""
    root = etree.Element(f"{{{XCAL_NS}}}icalendar", nsmap={None: XCAL_NS})
    _component(root, jcal)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@register
class XCalExporter(FormatOptions, Exporter):
    """``.xcs``: iCalendar as XML, for tools that prefer an XML parser to RFC 5545."""

    identifier = "xcal"
    verbose_name = "xCal (iCalendar in XML)"
    extension = "xcs"
    content_type = "application/calendar+xml"
    public = True

    def render(self, snapshot: EventSnapshot, ctx: ExportContext) -> bytes:
        return jcal_to_xcal(build_calendar(build_schedule(snapshot, ctx)).to_jcal())
