"""Sessions and speakers as CSV: the lists organizers open in a spreadsheet and print.

* UTF-8; ``{"bom": true}`` prepends a byte-order mark, without which Excel reads UTF-8
  as the local code page and mangles every accent.
* Formula injection neutralized: a cell starting with ``= + - @``, tab or carriage
  return gets a leading apostrophe, so a title like ``=HYPERLINK(...)`` is shown, not run
  (OWASP's advice). Numbers we write ourselves are left alone.
* ``{"states": ["accepted", ...]}`` filters by session state like the original server's
  ``status`` parameter; without it every session is listed (this is the organizer's
  working list, not the program). Speakers are filtered through their sessions.
* Outside ``public_only`` the organizer's private columns (e-mail, phone, comments) are
  included; a public export drops those columns and shows only accepted/confirmed
  sessions and the speakers of those.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from eventport.exports.formats.schedule import (
    ALL_STATES,
    FormatOptions,
    clean_text,
    elapsed,
    parse_time,
    selected_states,
)
from eventport.exports.registry import ExportContext, Exporter, register
from eventport.exports.snapshot import EventSnapshot

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """A text cell a spreadsheet will not evaluate; non-text values pass unchanged."""
    if isinstance(value, str):
        value = clean_text(value)
        if value.startswith(_FORMULA_PREFIXES):
            return "'" + value
    return value


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]], bom: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else neutralize(cell) for cell in row])
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8")


def _names(documents: list[dict[str, Any]]) -> dict[int, str]:
    return {int(doc["id"]): clean_text(doc.get("name")) for doc in documents}


class _CsvExporter(FormatOptions, Exporter):
    extension = "csv"
    content_type = "text/csv"
    option_names = frozenset({"states", "bom"})

    def render(self, snapshot: EventSnapshot, ctx: ExportContext) -> bytes:
        header, rows = self.table(snapshot, ctx, selected_states(ctx, default=ALL_STATES))
        return write_csv(header, rows, bom=bool(ctx.options.get("bom")))

    def table(self, snapshot: EventSnapshot, ctx: ExportContext, states: frozenset[str]
              ) -> tuple[list[str], list[list[Any]]]:
        raise NotImplementedError


@register
class SessionsCsvExporter(_CsvExporter):
    """One row per session, with its room, track, type and speakers."""

    identifier = "sessions-csv"
    verbose_name = "Sessions (CSV)"

    def table(self, snapshot: EventSnapshot, ctx: ExportContext, states: frozenset[str]
              ) -> tuple[list[str], list[list[Any]]]:
        private = not ctx.public_only
        tz = snapshot.timezone
        rooms = _names(snapshot.documents.get("microlocations", []))
        tracks = _names(snapshot.documents.get("tracks", []))
        types = _names(snapshot.documents.get("session_types", []))
        speakers = snapshot.by_id("speakers")
        header = ["id", "title", "subtitle", "state", "starts_at", "ends_at",
                  "duration_minutes", "room", "track", "session_type", "language", "level",
                  "speakers"]
        header += ["speaker_emails"] if private else []
        header += ["short_abstract", "long_abstract"]
        header += ["comments"] if private else []
        header += ["slides_url", "audio_url", "video_url", "is_featured", "uuid"]
        rows = []
        for doc in snapshot.documents.get("sessions", []):
            if doc.get("state") not in states:
                continue
            start, end = parse_time(doc.get("starts_at"), tz), parse_time(doc.get("ends_at"), tz)
            people = [speakers[i] for i in doc.get("speaker_ids") or [] if i in speakers]
            row: list[Any] = [
                doc["id"], doc.get("title"), doc.get("subtitle"), doc.get("state"),
                start.isoformat() if start else "", end.isoformat() if end else "",
                int(elapsed(start, end).total_seconds() // 60) if start and end else "",
                rooms.get(doc.get("microlocation_id") or 0, ""),
                tracks.get(doc.get("track_id") or 0, ""),
                types.get(doc.get("session_type_id") or 0, ""),
                doc.get("language"), doc.get("level"),
                "; ".join(clean_text(p.get("name")) for p in people),
            ]
            if private:
                row.append("; ".join(p["email"] for p in people if p.get("email")))
            row += [doc.get("short_abstract"), doc.get("long_abstract")]
            if private:
                row.append(doc.get("comments"))
            row += [doc.get("slides_url"), doc.get("audio_url"), doc.get("video_url"),
                    "yes" if doc.get("is_featured") else "no", doc.get("uuid")]
            rows.append(row)
        return header, rows


@register
class SpeakersCsvExporter(_CsvExporter):
    """One row per speaker, with the titles of their sessions (in the selected states)."""

    identifier = "speakers-csv"
    verbose_name = "Speakers (CSV)"

    def table(self, snapshot: EventSnapshot, ctx: ExportContext, states: frozenset[str]
              ) -> tuple[list[str], list[list[Any]]]:
        private = not ctx.public_only
        filtered = states != ALL_STATES
        sessions = snapshot.by_id("sessions")
        header = ["id", "name"]
        header += ["email", "mobile"] if private else []
        header += ["organisation", "position", "country", "city", "short_biography",
                   "long_biography", "website", "twitter", "mastodon", "github", "linkedin",
                   "facebook", "photo_url", "sessions", "session_states"]
        rows = []
        for doc in snapshot.documents.get("speakers", []):
            own = [sessions[i] for i in doc.get("session_ids") or [] if i in sessions]
            shown = [s for s in own if s.get("state") in states]
            if filtered and not shown:
                continue  # e.g. states=accepted: speakers without an accepted session go
            row: list[Any] = [doc["id"], doc.get("name")]
            if private:
                row += [doc.get("email"), doc.get("mobile")]
            row += [doc.get(name) for name in (
                "organisation", "position", "country", "city", "short_biography",
                "long_biography", "website", "twitter", "mastodon", "github", "linkedin",
                "facebook", "photo_url")]
            row += ["; ".join(clean_text(s.get("title")) for s in shown),
                    "; ".join(str(s.get("state")) for s in shown)]
            rows.append(row)
        return header, rows
