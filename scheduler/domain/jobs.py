"""Training jobs: a gang of N workers × M accelerators, and where a running job was placed."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField
from scheduler.domain.frozen import quick_init
from scheduler.domain.geography import Jurisdiction

MAX_ENTRYPOINT = 200
_ENTRYPOINT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)


def check_entrypoint(entrypoint: str, field: str) -> None:
    """An entrypoint is `module:function`: a Python module path and a function in it."""
    if len(entrypoint) > MAX_ENTRYPOINT or not _ENTRYPOINT.fullmatch(entrypoint):
        raise InvalidField(
            field,
            f"must be module:function (a Python module path and a function in it, at most "
            f"{MAX_ENTRYPOINT} characters), e.g. scheduler.workloads.sample:train",
        )


class JobState(enum.StrEnum):
    QUEUED = "queued"
    ADMITTED = "admitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED})


@quick_init
@dataclass(frozen=True, slots=True)
class Gang:
    """`workers` ranks, each needing `per_worker` accelerators on one node. All or nothing."""

    workers: int
    per_worker: int

    def __post_init__(self) -> None:
        if self.workers <= 0:
            raise InvalidField("gang.workers", "must be a positive integer")
        if self.per_worker <= 0:
            raise InvalidField("gang.per_worker", "must be a positive integer")

    @property
    def total(self) -> int:
        return self.workers * self.per_worker


@quick_init
@dataclass(frozen=True, slots=True)
class Job:
    """A submitted job as the scheduler sees it.

    `models` are the accepted accelerator models, already resolved at intake (a minimum TFLOPS
    request becomes the set of models that meet it). `seq` is the arrival order, which breaks
    every tie deterministically. Times are integer seconds.
    """

    id: str
    tenant: str
    gang: Gang
    models: frozenset[str]
    priority_class: str
    priority: int
    walltime_s: int
    data_origin: Jurisdiction
    submitted_at: int
    seq: int
    preemptible: bool = True
    checkpoint_interval_s: int = 0
    approvals: tuple[str, ...] = ()
    entrypoint: str = ""
    programs: tuple[str, ...] = ()
    client_key: str | None = None
    min_tflops_fp16: int | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidField("job.id", "must not be empty")
        if not self.models:
            raise InvalidField("job.models", "at least one accepted accelerator model is required")
        if self.walltime_s <= 0:
            raise InvalidField("job.walltime_s", "must be a positive number of seconds")
        if self.checkpoint_interval_s < 0:
            raise InvalidField("job.checkpoint_interval_s", "must not be negative")
        if self.entrypoint:
            check_entrypoint(self.entrypoint, "job.entrypoint")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a gang runs: rank i on `workers[i] = (node id, accelerators)`, all of one model and
    one zone. `approval` names the cross-border approval used, or None in the data's own zone."""

    model: str
    zone: Jurisdiction
    workers: tuple[tuple[str, int], ...]
    approval: str | None = None

    @property
    def nodes(self) -> frozenset[str]:
        return frozenset(node for node, _ in self.workers)

    @property
    def accelerators(self) -> int:
        return sum(count for _, count in self.workers)

    def per_node(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for node, count in self.workers:
            out[node] = out.get(node, 0) + count
        return out


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A job holding capacity (admitted or running) since `started_at`."""

    job: Job
    placement: Placement
    started_at: int

    @property
    def id(self) -> str:
        return self.job.id
