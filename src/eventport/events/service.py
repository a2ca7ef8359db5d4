"""Creating, changing and removing events and their program, with the rules the
database alone cannot express (times in order, references within the same event).

Every entry point — API, web pages, demo loader, importer — goes through here, so a
rule lives in one place. Functions flush but never commit: the caller owns the
transaction (the importer commits a whole event at once, the API one request at a time).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from eventport.accounts.models import EventRole, Role, User
from eventport.db.paging import MAX_PER_PAGE as MAX_PER_PAGE  # the lists of events and items
from eventport.db.paging import paginate
from eventport.errors import Conflict, InvalidInput, NotFound
from eventport.events.models import Event, MediaFile, ProgramSession, Speaker
from eventport.events.resources import EVENT, RESOURCES, Resource
from eventport.naming import is_identifier, new_identifier
from eventport.storage import Storage, StorageError


def localize(value: dt.datetime | None, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A naive datetime is wall-clock time in the event's timezone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=tz)


def _new_identifier(db: Session) -> str:
    while True:
        identifier = new_identifier()
        if db.scalar(select(Event.id).where(Event.identifier == identifier)) is None:
            return identifier


def check_identifier(identifier: str) -> str:
    """Every way in (API, importer) gets the same rule; the schema alone covers only the API."""
    if not is_identifier(identifier):
        raise InvalidInput(f"identifier {identifier[:80]!r} must be 2–63 lowercase letters, "
                           "digits and dashes, starting with a letter or digit")
    return identifier


def check_period(starts_at: dt.datetime | None, ends_at: dt.datetime | None, what: str) -> None:
    """Both times or neither, in order (events, sessions — and bulk imports, row by row)."""
    if (starts_at is None) != (ends_at is None):
        raise InvalidInput(f"{what}: starts_at and ends_at must be given together")
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise InvalidInput(f"{what}: ends_at ({ends_at.isoformat()}) is before starts_at "
                           f"({starts_at.isoformat()})")


def _refuse_nulls(resource: Resource, changes: dict[str, Any]) -> None:
    nullable = {
        name for name, info in resource.fields.model_fields.items()
        if info.annotation is not None and type(None) in getattr(info.annotation, "__args__", ())
    }
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise InvalidInput(f"{name} cannot be null")


# ----------------------------------------------------------------------------- events


def create_event(db: Session, owner: User, data: dict[str, Any]) -> Event:
    tz = zoneinfo.ZoneInfo(data.get("timezone") or "UTC")
    data = dict(data)
    data["starts_at"] = localize(data["starts_at"], tz)
    data["ends_at"] = localize(data["ends_at"], tz)
    check_period(data["starts_at"], data["ends_at"], "event")
    identifier = data.pop("identifier", None)
    if identifier:
        check_identifier(identifier)
    if identifier and db.scalar(select(Event.id).where(Event.identifier == identifier)):
        raise Conflict(f"identifier {identifier!r} is already taken")
    event = Event(identifier=identifier or _new_identifier(db), **data)
    db.add(event)
    db.flush()
    db.add(EventRole(event_id=event.id, user_id=owner.id, role=Role.OWNER.value))
    db.flush()
    return event


def update_event(db: Session, event: Event, changes: dict[str, Any]) -> Event:
    _refuse_nulls(EVENT, {k: v for k, v in changes.items() if k != "identifier"})
    if "identifier" in changes:
        identifier = changes.pop("identifier")
        if identifier and identifier != event.identifier:
            check_identifier(identifier)
            if db.scalar(select(Event.id).where(Event.identifier == identifier)):
                raise Conflict(f"identifier {identifier!r} is already taken")
            event.identifier = identifier
    tz = zoneinfo.ZoneInfo(changes.get("timezone") or event.timezone)
    for key in ("starts_at", "ends_at"):
        if key in changes:
            changes[key] = localize(changes[key], tz)
    for key, value in changes.items():
        setattr(event, key, value)
    check_period(event.starts_at, event.ends_at, "event")
    db.flush()
    return event


def get_event(db: Session, event_id: int) -> Event:
    event = db.get(Event, event_id)
    if event is None:
        raise NotFound(f"event {event_id} not found")
    return event


def events_for(db: Session, user: User, page: int, per_page: int) -> tuple[list[Event], int]:
    query = select(Event)
    if not user.is_admin:
        query = query.join(EventRole, EventRole.event_id == Event.id).where(
            EventRole.user_id == user.id
        )
    return paginate(db, query.order_by(Event.starts_at, Event.id), page, per_page)


def delete_event(db: Session, event: Event) -> list[str]:
    """Delete the event's rows; returns the storage prefixes to discard after commit."""
    event_id = event.id
    keys = list(db.scalars(select(MediaFile.storage_key).where(MediaFile.event_id == event_id)))
    db.delete(event)
    db.flush()
    return [*keys, f"events/{event_id}/"]


def discard_objects(storage: Storage, keys: list[str]) -> list[str]:
    """Delete stored objects (keys ending in / are prefixes) once their rows are gone.

    Called after the commit, so a failed transaction never loses a file; returns what
    could not be deleted (an orphan object is harmless, a missing one is not).
    """
    leftovers = []
    for key in keys:
        try:
            if key.endswith("/"):
                storage.delete_prefix(key)
            else:
                storage.delete(key)
        except StorageError:
            leftovers.append(key)
    return leftovers


# ------------------------------------------------------------------------------ program


def list_items(db: Session, resource: Resource, event_id: int, page: int, per_page: int
               ) -> tuple[list[Any], int]:
    model: Any = resource.model
    query = select(model).where(model.event_id == event_id)
    order = (model.starts_at, model.id) if model is ProgramSession else (model.id,)
    return paginate(db, query.order_by(*order), page, per_page)


def get_item(db: Session, resource: Resource, event_id: int, item_id: int) -> Any:
    row = db.get(resource.model, item_id)
    if row is None or row.event_id != event_id:  # type: ignore[attr-defined]
        raise NotFound(f"{resource.name} {item_id} not found in event {event_id}")
    return row


def _apply(db: Session, resource: Resource, event: Event, row: Any, changes: dict[str, Any]
           ) -> None:
    tz = zoneinfo.ZoneInfo(event.timezone)
    for attr, target in resource.references.items():
        if changes.get(attr) is not None:
            ref = RESOURCES[target]
            found = db.get(ref.model, changes[attr])
            if found is None or found.event_id != event.id:  # type: ignore[attr-defined]
                raise InvalidInput(f"{attr}: {target.rstrip('s').replace('-', ' ')} "
                                   f"{changes[attr]} does not exist in this event")
    speaker_ids = changes.pop("speaker_ids", None)
    for key, value in changes.items():
        if isinstance(value, dt.datetime):
            value = localize(value, tz)
        setattr(row, key, value)
    if speaker_ids is not None:
        unique_ids = sorted(set(speaker_ids))
        speakers = db.scalars(
            select(Speaker).where(Speaker.id.in_(unique_ids), Speaker.event_id == event.id)
        ).all() if unique_ids else []
        missing = set(unique_ids) - {s.id for s in speakers}
        if missing:
            raise InvalidInput(f"speaker_ids: speaker {min(missing)} does not exist in this event")
        row.speakers = list(speakers)
    if isinstance(row, ProgramSession):
        check_period(row.starts_at, row.ends_at, "session")


def check_within_event(event: Event, row: Any) -> None:
    """Refuse a session scheduled on a day outside the event's dates (in its timezone).

    The API and the pages call this; importers do not, since a source may hold late
    sessions after its own end date and an import must not lose them.
    """
    if not isinstance(row, ProgramSession) or row.starts_at is None:
        return
    tz = zoneinfo.ZoneInfo(event.timezone)
    first, last = event.starts_at.astimezone(tz).date(), event.ends_at.astimezone(tz).date()
    for name in ("starts_at", "ends_at"):
        value = getattr(row, name)
        day = value.astimezone(tz).date() if value is not None else None
        # a session may run past midnight after the last day
        if day is not None and not first <= day <= last + dt.timedelta(days=name == "ends_at"):
            message = (f"{day:%a %d %b %Y} is outside the event's dates "
                       f"({first:%d %b %Y} – {last:%d %b %Y}); change the event's dates first")
            raise InvalidInput(f"{name}: {message}", errors=[{"field": name,
                                                             "message": message}])


def create_item(db: Session, resource: Resource, event: Event, data: dict[str, Any]) -> Any:
    row: Any = resource.model(event_id=event.id)
    _apply(db, resource, event, row, dict(data))
    db.add(row)
    db.flush()
    return row


def update_item(db: Session, resource: Resource, event: Event, row: Any,
                changes: dict[str, Any]) -> Any:
    _refuse_nulls(resource, changes)
    _apply(db, resource, event, row, dict(changes))
    db.flush()
    return row


def delete_item(db: Session, resource: Resource, row: Any) -> list[str]:
    """Delete a row and its media rows; returns the storage keys to discard after commit."""
    media = [getattr(row, slot.name) for slot in resource.media]
    db.delete(row)
    for file in media:
        if file is not None:
            db.delete(file)
    db.flush()
    return [file.storage_key for file in media if file is not None]


def media_usage(db: Session, event_id: int) -> dict[str, tuple[int, int]]:
    """Count and total bytes of the event's stored media per kind (image, document, …).

    What an export with those media kinds will copy, so the export page can estimate
    the archive's size before anyone presses Export.
    """
    rows = db.execute(
        select(MediaFile.kind, func.count(), func.coalesce(func.sum(MediaFile.size), 0))
        .where(MediaFile.event_id == event_id)
        .group_by(MediaFile.kind)
    ).all()
    return {str(kind): (int(count), int(total)) for kind, count, total in rows}
