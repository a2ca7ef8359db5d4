"""The audit log: who did what to an event's data, and when (DESIGN.md "Audit")."""
