"""How the commands write: counts of things, and the console their tables go to."""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPED_WIDTH = 200
"""Columns of a table written to a pipe or a file: rich would assume 80 and cut values short."""


def counted(n: int, noun: str) -> str:
    """`1 node`, `12,500 nodes`: the count with thousands separated, the noun in the plural
    unless there is exactly one."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def stdout_console() -> Console:
    """Standard output for rich: a terminal's own width, else (a pipe, a file) PIPED_WIDTH
    columns, so that `gbasched node list > nodes.txt` keeps every id and amount whole. `COLUMNS`
    in the environment still decides when set."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console(file=sys.stdout)
    return Console(file=sys.stdout, width=PIPED_WIDTH)
