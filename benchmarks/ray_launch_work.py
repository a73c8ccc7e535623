"""What `benchmarks.ray_launch` runs on Ray, in a module of its own so that Ray's worker
processes import it by name (a class defined in `__main__` would be shipped by value).

`noop` is the job's entrypoint in both arms: the executor's rank actor resolves it from the
job's `module:function`, the bare arm's `BareRank` actor calls it directly.
"""

from __future__ import annotations

from pathlib import Path

from scheduler.workloads.context import FULL_BP, WorkerContext

ENTRYPOINT = "benchmarks.ray_launch_work:noop"


def noop(ctx: WorkerContext) -> None:
    """A job that is done as soon as it starts."""
    ctx.report(FULL_BP)


class BareContext:
    """The smallest `WorkerContext`: what a plain Ray user would pass their function."""

    def __init__(self, rank: int, world_size: int, node: str, checkpoint_dir: str) -> None:
        self._rank = rank
        self._world_size = world_size
        self._node = node
        self._dir = Path(checkpoint_dir)
        self.progress_bp = 0

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    @property
    def node(self) -> str:
        return self._node

    @property
    def checkpoint_dir(self) -> Path:
        return self._dir

    def report(self, progress_bp: int) -> None:
        self.progress_bp = progress_bp

    def checkpoint(self, progress_bp: int) -> None:
        self.progress_bp = progress_bp


class BareRank:
    """One rank of the bare arm (wrapped with `ray.remote` by the benchmark)."""

    def __init__(self, rank: int, world_size: int, node: str, checkpoint_dir: str) -> None:
        self._ctx = BareContext(rank, world_size, node, checkpoint_dir)

    def run(self) -> int:
        noop(self._ctx)
        return self._ctx.progress_bp
