"""Backup policies: exports an event's schedule creates by itself (docs/DESIGN.md "Backups")."""
