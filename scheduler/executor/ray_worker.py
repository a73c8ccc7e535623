"""One gang rank on Ray: an actor that runs the job's entrypoint and keeps what it reported.

The actor is created in the attempt's placement group, bundle `rank`. Its constructor starts the
entrypoint on a thread, so the actor answers `drain` while the job runs: the executor learns that
a rank started from its first answer, and how it ended from the sticky `state`/`error`. Reports
wait in the actor until drained, so none is lost while the coordinator is away.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ray

from scheduler.workloads.context import FULL_BP, WorkerContext

RankState = Literal["running", "finished", "failed"]
ReportKind = Literal["progress", "checkpoint"]


@dataclass(frozen=True, slots=True)
class RankSpec:
    job_id: str
    attempt: int
    rank: int
    world_size: int
    node: str
    entrypoint: str
    checkpoint_dir: str


@dataclass(frozen=True, slots=True)
class RankReport:
    """What a rank reported since the previous drain, and how it stands now."""

    reports: tuple[tuple[ReportKind, int], ...]
    state: RankState
    error: str | None
    started_at: int | None
    """When the executor saw the gang start (set through `mark_started`), for re-attaching."""


def split_entrypoint(entrypoint: str) -> tuple[str, str]:
    """`module:function` -> (module, function); ValueError when it has not that shape."""
    module_name, sep, function_name = entrypoint.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"entrypoint {entrypoint!r} is not module:function")
    return module_name, function_name


def resolve(entrypoint: str) -> Callable[[WorkerContext], object]:
    """`module:function` -> the function; ValueError naming what is wrong."""
    module_name, function_name = split_entrypoint(entrypoint)
    function = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise ValueError(
            f"entrypoint {entrypoint!r}: {module_name} has no function {function_name}"
        )
    return function  # type: ignore[no-any-return]


@dataclass
class _Outbox:
    lock: threading.Lock = field(default_factory=threading.Lock)
    reports: list[tuple[ReportKind, int]] = field(default_factory=list)
    highest: int = -1

    def add(self, kind: ReportKind, progress_bp: int) -> None:
        figure = max(0, min(FULL_BP, int(progress_bp)))
        with self.lock:
            # Progress never decreases within an attempt (the port's rule): a lower figure is
            # dropped here, an equal one kept (a checkpoint at the figure last reported).
            if figure < self.highest:
                return
            self.highest = figure
            self.reports.append((kind, figure))


class RankContext:
    """The `WorkerContext` a rank's entrypoint receives."""

    def __init__(self, spec: RankSpec, outbox: _Outbox) -> None:
        self._spec = spec
        self._outbox = outbox
        self._dir = Path(spec.checkpoint_dir)

    @property
    def rank(self) -> int:
        return self._spec.rank

    @property
    def world_size(self) -> int:
        return self._spec.world_size

    @property
    def node(self) -> str:
        return self._spec.node

    @property
    def checkpoint_dir(self) -> Path:
        return self._dir

    def report(self, progress_bp: int) -> None:
        if self._spec.rank == 0:
            self._outbox.add("progress", progress_bp)

    def checkpoint(self, progress_bp: int) -> None:
        if self._spec.rank == 0:
            self._outbox.add("checkpoint", progress_bp)


class RankWorker:
    """The actor's class (wrapped with `ray.remote` by the executor)."""

    def __init__(self, spec: RankSpec) -> None:
        self._spec = spec
        self._outbox = _Outbox()
        self._state: RankState = "running"
        self._error: str | None = None
        self._started_at: int | None = None
        self._ray_node = ray.get_runtime_context().get_node_id()
        threading.Thread(target=self._run, name=f"rank-{spec.rank}", daemon=True).start()

    def drain(self) -> RankReport:
        with self._outbox.lock:
            reports, self._outbox.reports = tuple(self._outbox.reports), []
            return RankReport(reports, self._state, self._error, self._started_at)

    def mark_started(self, at: int) -> None:
        self._started_at = at

    def ray_node(self) -> str:
        """The Ray node this rank runs on (tests check it holds the rank's pool node)."""
        return self._ray_node

    def _run(self) -> None:
        try:
            function = resolve(self._spec.entrypoint)
            ctx = RankContext(self._spec, self._outbox)
            ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            function(ctx)
        except BaseException as error:
            self._end("failed", f"rank {self._spec.rank}: {type(error).__name__}: {error}")
        else:
            self._end("finished", None)

    def _end(self, state: RankState, error: str | None) -> None:
        with self._outbox.lock:
            self._state, self._error = state, error


RemoteRank: Any = ray.remote(RankWorker)
