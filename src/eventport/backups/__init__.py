"""Backup policies: exports an event's schedule creates by itself (DESIGN.md "Backups")."""
