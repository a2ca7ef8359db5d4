"""Format module frab_json (not written yet)."""
