"""How the commands write a count of things."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """`1 node`, `12,500 nodes`: the count with thousands separated, the noun in the plural
    unless there is exactly one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
