"""Who may do what on an event: the role matrix, declared once.

Every API route and every page asks :func:`allows` (through ``require``) for one
:class:`Permission`; nothing compares role names elsewhere. The matrix follows what
organizers expect from pretalx and the Open Event server:

* **owner** — everything: also the team, backups (their schedule and who can decrypt
  them), webhooks (where event data is sent), the audit log, and deleting the event —
  the things that decide who gets the event's data;
* **organizer** — runs the event: its settings and publishing, the program, exports
  (including pinning and deleting them), replacing the event's data by an import;
* **coorganizer** — helps with the program: edits sessions, speakers, rooms… and
  requests, follows and downloads exports; does not change the event's settings,
  the team, backups or webhooks, and does not pin or delete exports.

The README's "Roles" table is this matrix; ``tests/accounts/test_permissions.py`` checks
it through the API.
"""

from __future__ import annotations

import enum

from eventport.accounts.models import Role


class Permission(enum.StrEnum):
    VIEW = "view"                      # see the event, its program, exports and team
    EDIT_PROGRAM = "edit_program"      # create/change/delete program entities and media
    EXPORT = "export"                  # request, cancel and download exports
    MANAGE_EXPORTS = "manage_exports"  # pin, unpin and delete exports
    EDIT_EVENT = "edit_event"          # event settings, identifier, publish, logo
    IMPORT_UPDATE = "import_update"    # replace the event's data from an import
    MANAGE_BACKUPS = "manage_backups"  # backup policy
    MANAGE_WEBHOOKS = "manage_webhooks"
    VIEW_AUDIT = "view_audit"
    MANAGE_TEAM = "manage_team"        # roles and invitations
    DELETE_EVENT = "delete_event"


_COORGANIZER = frozenset({Permission.VIEW, Permission.EDIT_PROGRAM, Permission.EXPORT})
_ORGANIZER = _COORGANIZER | {
    Permission.MANAGE_EXPORTS, Permission.EDIT_EVENT, Permission.IMPORT_UPDATE,
}
MATRIX: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ORGANIZER: frozenset(_ORGANIZER),
    Role.COORGANIZER: _COORGANIZER,
}

#: Words for refusals and the team page ("… needs a role that may change the team").
DESCRIPTIONS: dict[Permission, str] = {
    Permission.VIEW: "see the event",
    Permission.EDIT_PROGRAM: "edit the program",
    Permission.EXPORT: "request and download exports",
    Permission.MANAGE_EXPORTS: "pin and delete exports",
    Permission.EDIT_EVENT: "change the event's settings and publish it",
    Permission.IMPORT_UPDATE: "replace the event's data by an import",
    Permission.MANAGE_BACKUPS: "change the backup policy",
    Permission.MANAGE_WEBHOOKS: "manage webhooks",
    Permission.VIEW_AUDIT: "read the audit log",
    Permission.MANAGE_TEAM: "manage the team",
    Permission.DELETE_EVENT: "delete the event",
}


def allows(role: Role | None, permission: Permission) -> bool:
    return role is not None and permission in MATRIX[role]


def lowest_role_with(permission: Permission) -> Role:
    """The least role that holds ``permission`` (for messages: "needs organizer")."""
    for role in (Role.COORGANIZER, Role.ORGANIZER, Role.OWNER):
        if permission in MATRIX[role]:
            return role
    return Role.OWNER
