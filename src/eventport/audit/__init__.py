"""The audit log: who did what to an event's data, and when (docs/DESIGN.md "Audit")."""
