"""What jobs have run: the service figures the service-based queue policies (`las`, `qssf`) read.

Service is counted in accelerator-seconds (accelerators × seconds held), integers throughout.
A `ServiceHistory` is kept by `ClusterState` between cycles and shared, read-only, with each
cycle's snapshot (like the running index): the cycle never changes it.

- `past`: for every job still queued or running that has had an attempt end, the
  accelerator-seconds of those ended attempts and when the last of them ended. A running job's
  attained service is that plus its accelerators × the time its current attempt has held them.
- run-time windows: the run times (seconds, over all attempts) of the last `HISTORY_WINDOW`
  finished jobs per (tenant, accelerators), per tenant and pool-wide, with their sums, so a
  rolling mean is O(1).

The clock is the scheduler's: an attempt holds its accelerators from the cycle that admits it to
the moment the scheduler releases them (a report of its end, a preemption, a cancel), the same
span fair-share usage accrues over.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from scheduler.domain.jobs import Job, RunningJob

HISTORY_WINDOW = 20
"""Finished jobs remembered per (tenant, accelerators), per tenant and pool-wide."""


@dataclass(frozen=True, slots=True)
class Past:
    """A job's ended attempts: accelerator-seconds they held, and when the last one ended."""

    accelerator_s: int
    ended_at: int


class RunWindow:
    """The last `HISTORY_WINDOW` run times (seconds) and their sum."""

    __slots__ = ("runs", "total")

    def __init__(self) -> None:
        self.runs: deque[int] = deque(maxlen=HISTORY_WINDOW)
        self.total = 0

    def add(self, seconds: int) -> None:
        if len(self.runs) == HISTORY_WINDOW:
            self.total -= self.runs[0]
        self.runs.append(seconds)
        self.total += seconds

    def mean(self) -> int | None:
        """The rolling mean, rounded down; None when empty."""
        return self.total // len(self.runs) if self.runs else None

    def copy(self) -> RunWindow:
        out = RunWindow()
        out.runs.extend(self.runs)
        out.total = self.total
        return out


class ServiceHistory:
    __slots__ = ("by_shape", "by_tenant", "past", "pool")

    def __init__(self) -> None:
        self.past: dict[str, Past] = {}
        self.by_shape: dict[tuple[str, int], RunWindow] = {}  # (tenant, accelerators)
        self.by_tenant: dict[str, RunWindow] = {}
        self.pool = RunWindow()

    # ------------------------------------------------------------ changes
    def attempt_ended(self, job_id: str, accelerators: int, started_at: int, ended_at: int) -> None:
        """An attempt held `accelerators` from `started_at` to `ended_at`."""
        held = accelerators * max(0, ended_at - started_at)
        before = self.past.get(job_id)
        self.past[job_id] = Past((before.accelerator_s if before else 0) + held, ended_at)

    def job_ended(self, job_id: str, tenant: str, accelerators: int, *, finished: bool) -> None:
        """The job is over for good. Its attained service is forgotten; when `finished` (it
        succeeded or failed after running, not cancelled or rejected), its run time over all
        attempts joins its tenant's history."""
        past = self.past.pop(job_id, None)
        if not finished or past is None or accelerators <= 0:
            return
        seconds = past.accelerator_s // accelerators
        for window in (
            self.by_shape.setdefault((tenant, accelerators), RunWindow()),
            self.by_tenant.setdefault(tenant, RunWindow()),
            self.pool,
        ):
            window.add(seconds)

    def forget(self, job_id: str) -> None:
        self.past.pop(job_id, None)

    def copy(self) -> ServiceHistory:
        out = ServiceHistory()
        out.past = dict(self.past)
        out.by_shape = {k: w.copy() for k, w in self.by_shape.items()}
        out.by_tenant = {k: w.copy() for k, w in self.by_tenant.items()}
        out.pool = self.pool.copy()
        return out

    # ------------------------------------------------------------ reading
    def attained(self, job: Job) -> int:
        """Accelerator-seconds of the job's ended attempts (a queued job's attained service)."""
        past = self.past.get(job.id)
        return past.accelerator_s if past is not None else 0

    def attained_running(self, running: RunningJob, now: int) -> int:
        """A running job's attained service at `now`: its ended attempts plus the current one."""
        past = self.past.get(running.id)
        held = running.placement.accelerators * max(0, now - running.started_at)
        return held + (past.accelerator_s if past is not None else 0)

    def mean_runtime(self, tenant: str, accelerators: int) -> int | None:
        """Rolling mean run time (seconds) of the tenant's recently finished jobs of this many
        accelerators; else of all its recently finished jobs; else of the pool's; else None."""
        window = self.by_shape.get((tenant, accelerators))
        if window is None:
            window = self.by_tenant.get(tenant)
        if window is None:
            window = self.pool
        return window.mean()
