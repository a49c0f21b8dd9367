"""Gridloop's process engine: definitions, persistence, runtime and queries (no Flask)."""
