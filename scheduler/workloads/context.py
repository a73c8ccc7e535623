"""What a job's entrypoint is called with: one object per gang rank."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

FULL_BP = 10_000
"""Progress is counted in basis points of the attempt's work: 10000 is all of it."""


class WorkerContext(Protocol):
    """Rank `rank` of `world_size`, on pool node `node`. `checkpoint_dir` is the job's (shared by
    its attempts, so a resumed attempt finds what an earlier one wrote); it exists.

    Progress figures are basis points of the whole job's work, not of this attempt's: a resumed
    run reports from where it resumed. Rank 0 speaks for the gang: the executor reports rank 0's
    figures and ignores the other ranks'. A figure lower than one already reported is ignored."""

    @property
    def rank(self) -> int: ...

    @property
    def world_size(self) -> int: ...

    @property
    def node(self) -> str: ...

    @property
    def checkpoint_dir(self) -> Path: ...

    def report(self, progress_bp: int) -> None:
        """How far the job got."""

    def checkpoint(self, progress_bp: int) -> None:
        """A checkpoint holding `progress_bp` of the work was written to `checkpoint_dir`."""
