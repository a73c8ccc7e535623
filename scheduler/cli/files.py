"""Output files the commands write: whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from scheduler.cli.errors import CommandError


def write_atomically(
    path: Path, write: Callable[[TextIO], object], *, newline: str | None = None
) -> None:
    """Call `write` on a temporary file in `path`'s directory, then rename it over `path`, so
    readers see the old file or the whole new one, never half of it; the file gets the mode a
    plain open() would give it. An OSError is a CommandError `cannot write PATH: why`, and no
    temporary file is left behind."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as file:
            # mkstemp makes the file private (0600); give it the mode a plain open() would have.
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(file.fileno(), 0o666 & ~umask)
            write(file)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
