"""What happened to every job and tenant during a replay, kept as it happens so the figures
(`scheduler.sim.report`) need no second pass: per job its arrival, first start and end; per
tenant the integrals the fairness index needs; the pool's allocated accelerator-seconds.

Integrals are kept lazily: a tenant's are brought up to date only when something about it
changes (it gains or loses a waiting job, or accelerators), so the cost is per change, not per
tenant per tick. `docs/simulator.md` defines the figures.

For plots, `keep_series()` (before the replay runs) also records the pool's state at every
second something changed in it: accelerators held and jobs waiting, one sample per change
second (not per simulated second), so the cost is one list append per change. Off by default.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple


class Outcome(enum.StrEnum):
    WAITING = "waiting"
    HOLDING = "holding"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"


@dataclass(slots=True)
class JobTally:
    tenant: str
    arrived: int
    first_start: int | None = None
    ended: int | None = None
    outcome: Outcome = Outcome.WAITING
    accelerators: int = 0  # held now
    attempts: int = 0
    preemptions: int = 0


class Sample(NamedTuple):
    """The pool from `at` until the next sample: accelerators held, jobs waiting (arrived, not
    holding, not ended)."""

    at: int
    held: int
    waiting: int


@dataclass(slots=True)
class TenantTally:
    weight: int
    waiting: int = 0  # jobs arrived and not holding nor ended
    held: int = 0  # accelerators held now
    since: int = 0  # the integrals below are up to date until here
    backlogged_s: int = 0  # time with at least one waiting job
    served_backlogged: int = 0  # accelerator-seconds received during that time
    served: int = 0  # accelerator-seconds received in all


class Tally:
    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = weights
        self.jobs: dict[str, JobTally] = {}
        self.tenants: dict[str, TenantTally] = {}
        self.allocated = 0  # accelerator-seconds, all tenants, up to `_since`
        self._held = 0
        self._since = 0
        self.first_arrival: int | None = None
        self.last_end: int | None = None
        self.preemptions = 0
        self.series: list[Sample] | None = None
        self._waiting_jobs = 0
        self.ended_jobs = 0  # jobs that ended, any outcome

    def keep_series(self) -> None:
        """Record a `Sample` at every change from now on (`series`)."""
        if self.series is None:
            self.series = []

    # ------------------------------------------------------------------ changes

    def arrive(self, job_id: str, tenant: str, at: int) -> None:
        self.jobs[job_id] = JobTally(tenant, at)
        if self.first_arrival is None:
            self.first_arrival = self._since = at
        t = self._tenant(tenant, at)
        t.waiting += 1
        self._waiting_jobs += 1
        if self.series is not None:
            self._sample(at)

    def admit(self, job_id: str, accelerators: int, at: int) -> None:
        job = self.jobs[job_id]
        if job.first_start is None:
            job.first_start = at
        job.attempts += 1
        t = self._tenant(job.tenant, at)
        if job.outcome is Outcome.WAITING:
            t.waiting -= 1
            self._waiting_jobs -= 1
        self._pool(at)
        job.outcome = Outcome.HOLDING
        job.accelerators = accelerators
        t.held += accelerators
        self._held += accelerators
        if self.series is not None:
            self._sample(at)

    def release(self, job_id: str, at: int, preempted: bool = False) -> None:
        """The job's attempt gave its accelerators back; it waits again."""
        job = self.jobs[job_id]
        if preempted:
            job.preemptions += 1
            self.preemptions += 1
        if job.outcome is not Outcome.HOLDING:
            return
        t = self._tenant(job.tenant, at)
        self._free(job, t, at)
        job.outcome = Outcome.WAITING
        t.waiting += 1
        self._waiting_jobs += 1
        if self.series is not None:
            self._sample(at)

    def end(self, job_id: str, at: int, outcome: Outcome) -> None:
        job = self.jobs[job_id]
        if job.outcome is not Outcome.HOLDING and job.outcome is not Outcome.WAITING:
            raise ValueError(f"job {job_id} already ended ({job.outcome})")
        t = self._tenant(job.tenant, at)
        if job.outcome is Outcome.HOLDING:
            self._free(job, t, at)
        else:
            t.waiting -= 1
            self._waiting_jobs -= 1
        self.ended_jobs += 1
        job.outcome = outcome
        job.ended = at
        self.last_end = at if self.last_end is None else max(self.last_end, at)
        if self.series is not None:
            self._sample(at)

    def close(self, at: int) -> None:
        """Bring every integral up to `at` (the end of the replay)."""
        self._pool(at)
        for tenant in self.tenants:
            self._tenant(tenant, at)

    # ------------------------------------------------------------------ reading

    @property
    def waiting(self) -> int:
        return self._waiting_jobs  # Σ tenants' waiting, kept as jobs come and go

    @property
    def holding(self) -> int:
        return self._held

    # ------------------------------------------------------------------ inside

    def _sample(self, at: int) -> None:
        series = self.series
        assert series is not None
        sample = Sample(at, self._held, self._waiting_jobs)
        if series and series[-1].at == at:
            series[-1] = sample  # one sample per second: the state after its last change
        else:
            series.append(sample)

    def _free(self, job: JobTally, t: TenantTally, at: int) -> None:
        self._pool(at)
        t.held -= job.accelerators
        self._held -= job.accelerators
        job.accelerators = 0

    def _pool(self, at: int) -> None:
        self.allocated += self._held * (at - self._since)
        self._since = at

    def _tenant(self, tenant: str, at: int) -> TenantTally:
        t = self.tenants.get(tenant)
        if t is None:
            t = self.tenants[tenant] = TenantTally(self.weights.get(tenant, 1), since=at)
            return t
        span = at - t.since
        if span:
            t.served += t.held * span
            if t.waiting:
                t.backlogged_s += span
                t.served_backlogged += t.held * span
            t.since = at
        return t
