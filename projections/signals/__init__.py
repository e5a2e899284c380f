"""Signals (docs/SIGNALS.md): surge detection, recurring problems, hotspots and duplicate
suggestions, computed from the projections; the signals table and its projector."""
