"""Format module pentabarf (not written yet)."""
