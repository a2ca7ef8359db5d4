"""Format module xcal (not written yet)."""
