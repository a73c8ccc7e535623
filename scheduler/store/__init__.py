"""The store port and its implementations.

base: the `Store` port (MUST docstrings); records: the values it speaks; errors: what it refuses.
memory: `MemoryStore` (tests, simulator); sqlite: `SqliteStore` (the default; WAL, migrations).
codec: exact JSON for the value objects it persists; rules: what both stores decide alike.
"""
