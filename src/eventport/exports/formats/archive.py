"""Format module archive (not written yet)."""
