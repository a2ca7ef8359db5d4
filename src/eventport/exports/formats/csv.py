"""Format module csv (not written yet)."""
