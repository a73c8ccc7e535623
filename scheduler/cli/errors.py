"""Errors the command line reports as `gbasched: error: …` instead of a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """A bad command line. argparse would exit the process; main() reports it and returns 2."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class CommandError(Exception):
    """A command could not do its work for a reason outside the domain (e.g. an unwritable
    output file)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status
