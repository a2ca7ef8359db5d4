"""The importer: writes one event's data in a transaction the caller commits.

Three modes (docs/DESIGN.md *Imports*):

* ``create`` — a new event with the source's uuids; refused (409) when an event with
  the source's uuid already exists here, naming it.
* ``copy`` — a new event with fresh uuids (the source may be imported any number of times).
* ``update`` — into an existing event: entities are matched by uuid and created, updated
  or deleted so the event equals the source. Media whose SHA-256 is unchanged stay as
  they are (and are never staged: :func:`unchanged_media` tells the stager what to skip).

:func:`plan` compares the source with the event and returns the change list a dry run
shows; :func:`apply` writes exactly that plan. Neither commits; storage is touched by
neither (staged media come in as :class:`Staged`, and what to publish or discard after
the commit goes out in :class:`Written`).
"""

from __future__ import annotations

import datetime as dt
import posixpath
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from eventport.accounts.models import User
from eventport.accounts.service import role_on
from eventport.errors import Conflict, EventportError
from eventport.events import service as events
from eventport.events.models import Event, MediaFile
from eventport.events.resources import EVENT, KIND_DIRS, PROGRAM, Resource
from eventport.imports import bulk
from eventport.imports.errors import ImportRefused
from eventport.imports.eventdata import EventData, ItemData, MediaRef
from eventport.naming import new_uuid, slugify, unique_prefix

MODES = ("create", "update", "copy")
#: Kinds in a plan: the event, then the program resources in import order.
KINDS = ("event", *(resource.name for resource in PROGRAM))


@dataclass(frozen=True)
class Staged:
    """A media file copied out of the upload into the job's staging area."""

    ref: MediaRef
    key: str | None  # None: unchanged in an update, never staged
    content_type: str
    size: int
    sha256: str


@dataclass
class Change:
    kind: str
    uuid: str
    action: str  # created, updated, deleted, unchanged
    fields: list[str] = field(default_factory=list)
    item: ItemData | None = None  # the source's item (None for a deletion)
    row: Any = None  # the existing row (None for a creation)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "uuid": self.uuid, "action": self.action,
                "fields": self.fields}


@dataclass
class Plan:
    changes: list[Change]

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {a: {} for a in
                                             ("created", "updated", "deleted", "unchanged")}
        for change in self.changes:
            bucket = counts[change.action]
            bucket[change.kind] = bucket.get(change.kind, 0) + 1
        return {**counts, "changes": [c.as_dict() for c in self.changes
                                      if c.action != "unchanged"]}

    @property
    def changed(self) -> int:
        return sum(1 for c in self.changes if c.action != "unchanged")


@dataclass
class Written:
    event: Event
    publish: list[tuple[str, str]] = field(default_factory=list)  # staging key -> final key
    discard: list[str] = field(default_factory=list)  # storage keys to delete after commit


# ------------------------------------------------------------------------ comparing


def _utc(value: Any, tz: zoneinfo.ZoneInfo) -> Any:
    if isinstance(value, dt.datetime):
        return events.localize(value, tz).astimezone(dt.UTC)  # type: ignore[union-attr]
    return value


def _source_values(resource: Resource, item: ItemData, uuids: dict[str, dict[int, str]],
                   tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """The item's values as comparable data: references as uuids, times in UTC."""
    # The identifier is not a value of the event's data: the plan compares it apart.
    out = {name: _utc(value, tz) for name, value in item.values.items() if name != "identifier"}
    for attr, target in resource.references.items():
        if out.get(attr) is not None:
            out[attr] = uuids[target][out[attr]]
    if "speaker_ids" in out:
        out["speaker_ids"] = sorted({uuids["speakers"][s] for s in out["speaker_ids"]})
    return out


def _row_values(resource: Resource, row: Any, names: list[str], tz: zoneinfo.ZoneInfo
                ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        if name == "speaker_ids":
            out[name] = sorted(speaker.uuid for speaker in row.speakers)
        elif name in resource.references:
            target = getattr(row, name.removesuffix("_id"))
            out[name] = target.uuid if target is not None else None
        else:
            out[name] = _utc(getattr(row, name), tz)
    return out


def _media_changes(resource: Resource, item: ItemData, row: Any,
                   staged: dict[str, Staged]) -> list[str]:
    changed = []
    for slot in resource.media:
        ref = item.media.get(slot.name)
        current = getattr(row, slot.name)
        new_sha = staged[ref.path].sha256 if ref is not None else None
        if new_sha != (current.sha256 if current is not None else None):
            changed.append(slot.name)
    return changed


def _diff(resource: Resource, item: ItemData, row: Any, uuids: dict[str, dict[int, str]],
          staged: dict[str, Staged], tz: zoneinfo.ZoneInfo) -> list[str]:
    source = _source_values(resource, item, uuids, tz)
    current = _row_values(resource, row, list(source), tz)
    fields = sorted(name for name in source if source[name] != current[name])
    return fields + _media_changes(resource, item, row, staged)


def source_uuids(data: EventData) -> dict[str, dict[int, str]]:
    """resource name -> source id -> uuid (every item has one once a reader is done)."""
    return {resource.name: {item.source_id: str(item.uuid) for item in data.items[resource.name]}
            for resource in PROGRAM}


def _rows(db: Session, resource: Resource, event_id: int) -> dict[str, Any]:
    model: Any = resource.model
    return {row.uuid: row for row in db.scalars(select(model).where(model.event_id == event_id))}


def plan(db: Session, event: Event, data: EventData, staged: dict[str, Staged]) -> Plan:
    """What an update of ``event`` with ``data`` creates, updates, deletes, leaves alone."""
    tz = zoneinfo.ZoneInfo(str(data.event.values.get("timezone") or event.timezone))
    uuids = source_uuids(data)
    fields = _diff(EVENT, data.event, event, uuids, staged, tz)
    if data.identifier and data.identifier != event.identifier:
        fields.append("identifier")
    changes = [Change("event", event.uuid, "updated" if fields else "unchanged", fields,
                      data.event, event)]
    for resource in PROGRAM:
        rows = _rows(db, resource, event.id)
        for item in data.items[resource.name]:
            row = rows.pop(str(item.uuid), None)
            if row is None:
                changes.append(Change(resource.name, str(item.uuid), "created", item=item))
                continue
            diff = _diff(resource, item, row, uuids, staged, tz)
            changes.append(Change(resource.name, row.uuid, "updated" if diff else "unchanged",
                                  diff, item, row))
        changes += [Change(resource.name, u, "deleted", row=row) for u, row in rows.items()]
    return Plan(changes)


def creation_plan(data: EventData) -> Plan:
    """The plan of a new event: everything is created."""
    changes = [Change("event", str(data.event.uuid), "created", item=data.event)]
    for resource in PROGRAM:
        changes += [Change(resource.name, str(item.uuid), "created", item=item)
                    for item in data.items[resource.name]]
    return Plan(changes)


def unchanged_media(db: Session, event_id: int, data: EventData) -> set[str]:
    """Upload paths whose declared SHA-256 equals what the event's slot already holds:
    an update leaves those files alone, so they need not even be read from the upload."""
    skip: set[str] = set()
    event = db.get(Event, event_id)
    owners: list[tuple[ItemData, Any]] = [(data.event, event)]
    for resource in PROGRAM:
        if resource.media:
            rows = _rows(db, resource, event_id)
            owners += [(item, rows.get(str(item.uuid))) for item in data.items[resource.name]]
    for item, row in owners:
        for slot_name, ref in item.media.items():
            current = getattr(row, slot_name, None) if row is not None else None
            if current is not None and ref.sha256 and ref.sha256 == current.sha256:
                skip.add(ref.path)
    return skip


# -------------------------------------------------------------------------- writing


def refuse_existing(db: Session, data: EventData, user: User | None) -> None:
    """``create`` mode: the source's event must not be here already (409)."""
    found = db.scalar(select(Event).where(Event.uuid == data.event.uuid))
    if found is not None:
        raise existing_event_conflict(db, user, found)


def existing_event_conflict(db: Session, user: User | None, event: Event) -> Conflict:
    """The 409 of a ``create`` import whose event is here already. Only a caller with a
    role on that event learns which one it is (name, identifier, id — and how to update
    it); anyone else learns that the uuid is taken, which their own file told them."""
    if user is not None and role_on(db, user, event.id) is not None:
        return Conflict(
            f"event {event.identifier!r} ({event.name}, id {event.id}) already has this "
            f"source's uuid {event.uuid}; import with mode=update and event_id={event.id} "
            "to update it, or mode=copy for a new event",
            event={"id": event.id, "identifier": event.identifier, "name": event.name,
                   "uuid": event.uuid})
    return Conflict(f"an event with this source's uuid ({event.uuid}) already exists on "
                    "this server; import with mode=copy for a new event with fresh uuids")


def give_fresh_uuids(data: EventData) -> None:
    """``copy`` mode: a new identity for everything (references are by source id)."""
    data.event.uuid = new_uuid()
    for resource in PROGRAM:
        for item in data.items[resource.name]:
            item.uuid = new_uuid()


def _final_key(event_id: int, ref: MediaRef, number: int) -> str:
    stem, ext = posixpath.splitext(posixpath.basename(ref.path))
    ext = ext[1:].lower() if ext[1:].isalnum() and len(ext) <= 9 else "bin"
    return (f"events/{event_id}/media/{KIND_DIRS[ref.kind]}/"
            f"{unique_prefix()}-{number}-{slugify(stem, 40)}.{ext}")


def _attach(db: Session, written: Written, resource: Resource, row: Any, item: ItemData,
            staged: dict[str, Staged], slots: list[str] | None = None) -> None:
    """Give the row the item's media (only ``slots`` when given); old files are discarded."""
    for slot in resource.media:
        if slots is not None and slot.name not in slots:
            continue
        old = getattr(row, slot.name)
        ref = item.media.get(slot.name)
        media = None
        if ref is not None:
            stage = staged[ref.path]
            key = _final_key(written.event.id, ref, len(written.publish) + 1)
            media = MediaFile(event_id=written.event.id, kind=ref.kind.value, storage_key=key,
                              content_type=stage.content_type, size=stage.size,
                              sha256=stage.sha256,
                              original_filename=posixpath.basename(ref.path)[:255])
            db.add(media)
            db.flush()
            written.publish.append((str(stage.key), key))
        setattr(row, slot.name, media)
        if old is not None:
            db.delete(old)
            written.discard.append(old.storage_key)


def _values(resource: Resource, item: ItemData, ids: dict[str, dict[int, int]]
            ) -> dict[str, Any]:
    values = dict(item.values)
    for attr, target in resource.references.items():
        if values.get(attr) is not None:
            values[attr] = ids[target][values[attr]]
    if "speaker_ids" in values:
        values["speaker_ids"] = [ids["speakers"][s] for s in values["speaker_ids"]]
    return values


def create(db: Session, owner: User, data: EventData, staged: dict[str, Staged],
           keep_identifier: bool) -> Written:
    """A new event with every row of the source (``create`` and ``copy``)."""
    values = dict(data.event.values)
    values["identifier"] = data.identifier if keep_identifier else None
    event = events.create_event(db, owner, values)
    event.uuid = str(data.event.uuid)
    written = Written(event)
    _attach(db, written, EVENT, event, data.event, staged)
    db.flush()
    # A new event has nothing to diff: one INSERT per kind instead of a flush per row.
    bulk.insert_program(db, written, data.items, staged, _values, _final_key)
    return written


def _update_event(db: Session, event: Event, data: EventData, change: Change,
                  written: Written, staged: dict[str, Staged], warnings: list[str]) -> None:
    if "identifier" in change.fields:
        taken = db.scalar(select(Event.id).where(Event.identifier == data.identifier))
        if taken:
            warnings.append(f"identifier {data.identifier!r} is used by another event here; "
                            f"the event keeps {event.identifier!r}")
        else:
            event.identifier = str(data.identifier)
    events.update_event(db, event, {k: v for k, v in data.event.values.items()
                                    if k != "identifier"})
    _attach(db, written, EVENT, event, data.event, staged,
            [s.name for s in EVENT.media if s.name in change.fields])


def apply(db: Session, event: Event, data: EventData, staged: dict[str, Staged],
          the_plan: Plan, warnings: list[str]) -> Written:
    """Make ``event`` equal the source, exactly as ``the_plan`` says (caller commits)."""
    written = Written(event)
    by_kind: dict[str, list[Change]] = {}
    for change in the_plan.changes:
        by_kind.setdefault(change.kind, []).append(change)
    event_change = by_kind["event"][0]
    if event_change.action == "updated":
        _update_event(db, event, data, event_change, written, staged, warnings)
    for resource in reversed(PROGRAM):  # what references others goes first
        for change in by_kind.get(resource.name, []):
            if change.action == "deleted":
                written.discard += events.delete_item(db, resource, change.row)
    ids: dict[str, dict[int, int]] = {}
    for resource in PROGRAM:
        mapping = ids.setdefault(resource.name, {})
        for change in by_kind.get(resource.name, []):
            if change.action == "deleted" or change.item is None:
                continue
            mapping[change.item.source_id] = _apply_one(
                db, written, resource, change, _values(resource, change.item, ids), staged)
    db.flush()
    return written


def _apply_one(db: Session, written: Written, resource: Resource, change: Change,
               values: dict[str, Any], staged: dict[str, Staged]) -> int:
    item = change.item
    assert item is not None
    try:
        if change.action == "created":
            row = events.create_item(db, resource, written.event, values)
            row.uuid = change.uuid
            _attach(db, written, resource, row, item, staged)
            return int(row.id)
        row = change.row
        if change.action == "updated":
            events.update_item(db, resource, written.event, row, values)
            _attach(db, written, resource, row, item, staged,
                    [s.name for s in resource.media if s.name in change.fields])
    except EventportError as exc:
        raise ImportRefused(f"{item.where}: {exc.detail}") from None
    return int(row.id)


def uuid_taken_elsewhere(db: Session, event_id: int | None, data: EventData) -> str | None:
    """A uuid of the source that another event's entity already holds (uuids are unique
    per server), described for the error message; None when there is none."""
    for resource in PROGRAM:
        wanted = [str(item.uuid) for item in data.items[resource.name]]
        model: Any = resource.model
        for start in range(0, len(wanted), 500):
            query = select(model.uuid).where(model.uuid.in_(wanted[start:start + 500]))
            if event_id is not None:
                query = query.where(model.event_id != event_id)
            found = db.scalar(query)
            if found:
                return f"{resource.name} {found}"
    return None
