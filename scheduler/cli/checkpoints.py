"""The jobs' checkpoint directory belongs to one database.

Job ids restart at job-0 in a new database, and job j resumes from `<checkpoints>/j`: a new
database beside an old checkpoint directory would start its job-0 from the old job-0's
checkpoint (another tenant's work, maybe, and a run that "ends" at once and is billed nothing).
So `gbasched serve` writes the database's identity into the directory (`MARKER`) and refuses a
directory that carries another one. A directory without the marker (made before it existed) is
taken only if every job directory in it is a job the database knows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scheduler.cli.errors import CommandError
from scheduler.cli.files import write_atomically

MARKER = ".gbasched-store"
SHOWN = 5  # unknown job directories named in the error


def bind_checkpoints(
    directory: Path, identity: str, knows_job: Callable[[str], bool], status: int
) -> None:
    """Check that `directory` is the checkpoint directory of the database of `identity` (or
    claim it, when it is new or holds only that database's jobs); CommandError with `status`
    otherwise, saying what to do."""
    marker = directory / MARKER
    try:
        bound = marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        bound = None
    except OSError as exc:
        raise CommandError(f"cannot read {marker}: {exc.strerror or exc}", status) from None
    if bound is not None:
        if bound != identity:
            raise CommandError(
                f"--checkpoints: {directory} holds the checkpoints of another database (store"
                f" {bound}, this one is {identity}): its jobs would resume from them; pass a"
                " --checkpoints directory of this database's own, or move that one away",
                status,
            )
        return
    try:
        strangers = sorted(
            entry.name
            for entry in directory.iterdir()
            if entry.is_dir() and not knows_job(entry.name)
        )
    except OSError as exc:
        raise CommandError(f"cannot read {directory}: {exc.strerror or exc}", status) from None
    if strangers:
        named = ", ".join(strangers[:SHOWN]) + (", ..." if len(strangers) > SHOWN else "")
        raise CommandError(
            f"--checkpoints: {directory} holds checkpoints of {len(strangers)} job(s) this database"
            f" does not know ({named}), left by another database: its jobs would resume from"
            " them; pass a --checkpoints directory of this database's own, or move that one away",
            status,
        )
    write_atomically(marker, lambda file: file.write(identity + "\n"))
