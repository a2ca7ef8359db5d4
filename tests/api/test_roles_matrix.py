"""The role matrix (README "Roles"), checked through the API for each role.

owner: everything; organizer: settings, program, exports incl. pin/delete, import-update —
not the team, backups, webhooks, audit or deleting the event; coorganizer: program and
requesting/downloading exports only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from eventport.accounts.models import Role
from eventport.accounts.permissions import MATRIX, Permission, allows
from eventport.db.base import utcnow
from eventport.exports.models import ExportJob, new_job_id


def _succeeded_job(db: Session, event_id: int) -> str:
    job = ExportJob(id=new_job_id(), event_id=event_id, format="ical", options={},
                    options_key="x", state="succeeded", progress_stage="done", warnings=[],
                    storage_key=f"events/{event_id}/exports/x.ics", filename="x.ics",
                    size=1, sha256="0" * 64, created_at=utcnow(), heartbeat_at=utcnow(),
                    expires_at=utcnow() + dt.timedelta(days=1))
    db.add(job)
    db.commit()
    return job.id


Check = Callable[[TestClient, dict[str, str], int, Session], int]


def _view(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.get(f"/api/v1/events/{eid}", headers=h).status_code


def _edit_program(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.post(f"/api/v1/events/{eid}/tracks", headers=h, json={"name": "T"}).status_code


def _export(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.post(f"/api/v1/events/{eid}/exports", headers=h, json={"format": "ical"}
                  ).status_code


def _manage_exports(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    job = _succeeded_job(db, eid)
    return c.patch(f"/api/v1/exports/{job}", headers=h, json={"pinned": True}).status_code


def _delete_export(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    job = _succeeded_job(db, eid)
    return c.delete(f"/api/v1/exports/{job}", headers=h).status_code


def _edit_event(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.patch(f"/api/v1/events/{eid}", headers=h, json={"description": "x"}).status_code


def _event_logo(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.delete(f"/api/v1/events/{eid}/logo", headers=h).status_code  # 404: none yet


def _import_update(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.post(f"/api/v1/imports?mode=update&event_id={eid}&dry_run=true", headers=h,
                  files={"file": ("schedule.xml", b"<schedule/>", "text/xml")}).status_code


def _manage_team(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.post("/api/v1/invitations", headers=h,
                  json={"event_id": eid, "email": "new@example.org", "role": "coorganizer"}
                  ).status_code


def _delete_event(c: TestClient, h: dict[str, str], eid: int, db: Session) -> int:
    return c.delete(f"/api/v1/events/{eid}", headers=h).status_code


CHECKS: list[tuple[Permission, Check, int]] = [
    (Permission.VIEW, _view, 200),
    (Permission.EDIT_PROGRAM, _edit_program, 201),
    (Permission.EXPORT, _export, 202),
    (Permission.MANAGE_EXPORTS, _manage_exports, 200),
    (Permission.MANAGE_EXPORTS, _delete_export, 204),
    (Permission.EDIT_EVENT, _edit_event, 200),
    (Permission.EDIT_EVENT, _event_logo, 404),
    (Permission.IMPORT_UPDATE, _import_update, 202),
    (Permission.MANAGE_TEAM, _manage_team, 201),
    (Permission.DELETE_EVENT, _delete_event, 204),  # last: it removes the event
]


def test_matrix_reads_as_the_readme_says() -> None:
    assert MATRIX[Role.OWNER] == frozenset(Permission)
    organizer_lacks = set(Permission) - MATRIX[Role.ORGANIZER]
    assert organizer_lacks == {Permission.MANAGE_TEAM, Permission.DELETE_EVENT,
                               Permission.MANAGE_BACKUPS, Permission.MANAGE_WEBHOOKS,
                               Permission.VIEW_AUDIT}
    assert MATRIX[Role.COORGANIZER] == {Permission.VIEW, Permission.EDIT_PROGRAM,
                                        Permission.EXPORT}
    assert not allows(None, Permission.VIEW)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_may_do_exactly_what_the_matrix_says(
        client: TestClient, db: Session, event: dict[str, Any], with_role, role: Role) -> None:
    caller = with_role(f"{role.value}-2@example.org", role)
    for permission, check, ok_status in CHECKS:
        status = check(client, caller.headers, event["id"], db)
        expected = ok_status if allows(role, permission) else 403
        assert status == expected, (role.value, permission.value, check.__name__, status)
