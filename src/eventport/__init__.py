"""Eventport: an organizer server for conferences whose events export and import without loss."""

__version__ = "0.1.0"
