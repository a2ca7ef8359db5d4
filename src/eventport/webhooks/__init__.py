"""Signed webhooks: tell an organizer's system when an export or import finished."""
