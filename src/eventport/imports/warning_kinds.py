"""Import warnings grouped by kind, so 51 warnings read as "51 warnings of 4 kinds".

Readers write warnings as sentences (they name the entry, the field, the value: what a
person fixing the source needs). Those sentences differ in names and numbers, so a
dry run of a real schedule lists dozens that say the same thing. :func:`group` sorts
them into kinds — the known sentences of the readers by a pattern each, anything else
by its text with quoted names and numbers blanked — most frequent kind first. The API
returns the groups with the job (``warning_groups``), so the Import page, the CLI and
any client show the same kinds.
"""

from __future__ import annotations

import re
from typing import Any

#: (pattern, kind) for the sentences readers and importer write; first match wins; a
#: kind may name what the pattern captured (``{0}``: the field of an invalid value).
KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind) for pattern, kind in (
        (r"have no counterpart in Eventport", "Fields Eventport has no place for, left out"),
        (r"media path\(s\) are not in the file", "Media paths that are not in the file"),
        (r"links to \d+ session\(s\) that do not exist", "Links to sessions that do not exist"),
        (r"(does|do) not exist; left out", "References to entities that do not exist"),
        (r"time zone", "Time zone"),
        (r"imported unscheduled", "Talks without a usable time, imported unscheduled"),
        (r"merged into one speaker by name", "Persons without an id, merged by name"),
        (r"not used by any entity", "Media files no entity uses"),
        (r"missing from the exporting server", "Media the exporting server was missing"),
        (r"^identifier ", "Identifier already in use"),
        (r"unknown state", "Unknown session states"),
        (r"shares its guid", "Rooms sharing a guid"),
        (r"link\(s\) that are not slides", "Links that are not slides, audio or video"),
        (r"is not valid JSON; skipped", "Form settings that are not valid JSON"),
        (r": (\w+) left out \(", "Invalid {0} values, left out"),
    ))
_BLANKS = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|\d+")


def kind_of(warning: str) -> str:
    for pattern, kind in KINDS:
        match = pattern.search(warning)
        if match:
            return kind.format(*match.groups())
    return _BLANKS.sub("…", warning)


def group(warnings: list[Any]) -> list[dict[str, Any]]:
    """``[{kind, count, warnings}]``, most frequent kind first (then first seen)."""
    groups: dict[str, list[str]] = {}
    for warning in warnings:
        text = warning if isinstance(warning, str) else str(warning)
        groups.setdefault(kind_of(text), []).append(text)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    return [{"kind": kind, "count": len(items), "warnings": items} for kind, items in ordered]
