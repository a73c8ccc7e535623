"""Immutable value objects of the pool, in integer units. No I/O, no dependencies above."""
