"""Bulk row writing for a new event (``create`` and ``copy`` imports).

Inserting the program one ORM object at a time (an ``add`` and a ``flush`` per row and
per media file, a lookup per reference) cost ~17 s for 2,000 sessions and 1,500 speakers
(issue 15). A new event has no rows to diff or to keep, so each kind is written with one
multi-row ``INSERT`` instead: media files, then the resource's rows, then the
session–speaker links. The rules :func:`eventport.events.service.create_item` applies
still hold, computed here without a round trip per row:

* references point at rows of this same event — they are mapped from the source's ids
  to the ids inserted just before, so they cannot point anywhere else;
* naive datetimes are wall-clock time in the event's timezone, and a session's period
  must be in order (``check_period``), refused with the item's location as before.

Database ids come back by uuid (unique per server, checked before the import writes),
and media ids by storage key (unique, freshly generated), so nothing depends on the
order in which the database assigns ids.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import zoneinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from eventport.errors import EventportError
from eventport.events import service as events
from eventport.events.models import MediaFile, ProgramSession, session_speakers
from eventport.events.resources import PROGRAM, Resource
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import ItemData

if TYPE_CHECKING:  # importer imports this module; the names are only for annotations
    from eventport.imports.importer import Staged, Written

#: Rows per INSERT statement batch (SQLite's variable limit is handled by SQLAlchemy's
#: insertmanyvalues; this only bounds the size of one parameter list in memory).
BATCH = 1000


def _insert(db: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        db.execute(insert(model), rows[start:start + BATCH])


def _media_rows(written: Written, resource: Resource, items: list[ItemData],
                staged: dict[str, Staged], final_key: Any) -> list[dict[str, Any]]:
    """One media_files row per media of ``items``; the publish list grows in the same
    order the per-row writer used (item by item, slot by slot)."""
    rows = []
    for item in items:
        for slot in resource.media:
            ref = item.media.get(slot.name)
            if ref is None:
                continue
            stage = staged[ref.path]
            key = final_key(written.event.id, ref, len(written.publish) + 1)
            rows.append({"event_id": written.event.id, "kind": ref.kind.value,
                         "storage_key": key, "content_type": stage.content_type,
                         "size": stage.size, "sha256": stage.sha256,
                         "original_filename": posixpath.basename(ref.path)[:255]})
            written.publish.append((str(stage.key), key))
    return rows


def _row(resource: Resource, item: ItemData, values: dict[str, Any], event_id: int,
         tz: zoneinfo.ZoneInfo, media_ids: dict[str, int]) -> dict[str, Any]:
    """The INSERT parameters of one item, as create_item would have set them."""
    row = {key: events.localize(value, tz) if isinstance(value, dt.datetime) else value
           for key, value in values.items() if key != "speaker_ids"}
    row.update(event_id=event_id, uuid=str(item.uuid))
    for slot in resource.media:
        row[f"{slot.name}_id"] = media_ids.get(f"{item.source_id}:{slot.name}")
    if resource.model is ProgramSession:
        try:
            events.check_period(row.get("starts_at"), row.get("ends_at"), "session")
        except EventportError as exc:
            raise ImportRefused(f"{item.where}: {exc.detail}") from None
    return row


def _media_ids(db: Session, resource: Resource, items: list[ItemData],
               media_rows: list[dict[str, Any]], event_id: int) -> dict[str, int]:
    """``"<source id>:<slot>"`` -> media_files.id of the rows just inserted."""
    if not media_rows:
        return {}
    _insert(db, MediaFile, media_rows)
    by_key = dict(db.execute(select(MediaFile.storage_key, MediaFile.id)
                             .where(MediaFile.event_id == event_id)).tuples().all())
    keys = iter(row["storage_key"] for row in media_rows)
    out = {}
    for item in items:  # same order as _media_rows
        for slot in resource.media:
            if item.media.get(slot.name) is not None:
                out[f"{item.source_id}:{slot.name}"] = by_key[next(keys)]
    return out


def insert_program(db: Session, written: Written, items: dict[str, list[ItemData]],
                   staged: dict[str, Staged], values_of: Any, final_key: Any) -> None:
    """Every program row of the new event ``written.event``, kind by kind.

    ``values_of(resource, item, ids)`` gives an item's values with references mapped to
    database ids; ``final_key`` names a media file's storage key (both from the importer).
    """
    event = written.event
    tz = zoneinfo.ZoneInfo(event.timezone)
    ids: dict[str, dict[int, int]] = {}
    for resource in PROGRAM:
        batch = items[resource.name]
        media_rows = _media_rows(written, resource, batch, staged, final_key)
        media_ids = _media_ids(db, resource, batch, media_rows, event.id)
        values = [values_of(resource, item, ids) for item in batch]
        rows = [_row(resource, item, v, event.id, tz, media_ids)
                for item, v in zip(batch, values, strict=True)]
        model: Any = resource.model
        if rows:
            _insert(db, model, rows)
        by_uuid: dict[str, int] = dict(db.execute(select(model.uuid, model.id).where(
            model.event_id == event.id)).tuples().all())
        ids[resource.name] = {item.source_id: by_uuid[str(item.uuid)] for item in batch}
        if model is ProgramSession:
            _link_speakers(db, batch, values, ids)


def _link_speakers(db: Session, sessions: list[ItemData], values: list[dict[str, Any]],
                   ids: dict[str, dict[int, int]]) -> None:
    links = [{"session_id": ids["sessions"][item.source_id], "speaker_id": speaker_id}
             for item, v in zip(sessions, values, strict=True)
             for speaker_id in sorted(set(v.get("speaker_ids") or ()))]
    if links:
        _insert(db, session_speakers, links)


__all__ = ["insert_program"]
