"""Export formats; each module registers one exporter."""
