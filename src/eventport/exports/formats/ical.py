"""Format module ical (not written yet)."""
