"""Drives the pure engine and the ledger with a simulated clock: jobs are submitted, cycles admit
them (reserving their estimated cost), they run, and when they end or are preempted their
actual usage is settled. It is the engine of `gbasched cycle` and the seed of the trace-replay
simulator; the durable coordinator will do the same against a store and a real executor.

A job runs for `runtime_bp` basis points of its walltime (a per-job figure, so estimates and
actual costs differ as they do in life). A preempted job's attempt is settled for the time it
ran, and it goes back to the queue as a new attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from scheduler.domain.jobs import Job
from scheduler.domain.pool import Pool
from scheduler.engine.cycle import run_cycle
from scheduler.engine.decisions import CycleResult
from scheduler.engine.state import ClusterState
from scheduler.ledger.available import budgets_from
from scheduler.ledger.book import Ledger
from scheduler.ledger.config import ProgramsConfig
from scheduler.ledger.flows import actual_split, fund_program, reservation, reserve, settle, top_up
from scheduler.ledger.usage import placement_usage
from scheduler.policy.registry import Policy

BASIS_POINTS = 10_000


def default_runtime_bp(job: Job) -> int:
    """Between 50 % and 100 % of the walltime, fixed per job so runs are reproducible."""
    return 5_000 + (job.seq * 7_919) % 5_001


@dataclass
class Attempt:
    number: int
    started_at: int
    ends_at: int


class Driver:
    def __init__(
        self,
        pool: Pool,
        policy: Policy,
        programs: ProgramsConfig | None = None,
        start: int = 0,
        runtime_bp: Callable[[Job], int] = default_runtime_bp,
    ) -> None:
        self.pool = pool
        self.policy = policy
        self.programs = programs
        self.runtime_bp = runtime_bp
        self.now = start
        self.state = ClusterState(pool)
        self.ledger = Ledger()
        self.attempts: dict[str, Attempt] = {}  # running attempts by job
        self.attempt_numbers: dict[str, int] = {}  # the last attempt number of every job
        self.finished: list[str] = []
        if programs is not None:
            for program in programs.programs.values():
                fund_program(self.ledger, program)
            for (tenant, currency), amount in sorted(programs.balances.items()):
                if amount > 0:
                    top_up(
                        self.ledger, tenant, currency, amount, ref=f"opening-{currency}", at=start
                    )

    def submit(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            self.state.submit(job)

    def step(self, now: int) -> CycleResult:
        """Advance to `now`: settle what ended, run one cycle, reserve and start what it admitted,
        settle what it preempted (the victims go back to the queue)."""
        self.now = now
        self.state.accrue_usage(now, self.policy.half_life_s)
        for job_id, attempt in sorted(self.attempts.items(), key=lambda kv: (kv[1].ends_at, kv[0])):
            if attempt.ends_at <= now:
                self._settle(job_id, attempt.ends_at)
                # as the coordinator does: the attempt's attained service counts up to when the
                # scheduler learns of its end (and frees its capacity), and the job's run time
                # joins its tenant's history (what qssf estimates from)
                running = self.state.finish(job_id, now)
                self.state.retire(running.job, finished=True)
                self.finished.append(job_id)
        if self.programs is not None:
            self.state.set_budgets(budgets_from(self.ledger, self.programs.programs.values()))
        result = run_cycle(self.state.snapshot(), self.policy, now)
        for preemption in result.preemptions:
            self._settle(preemption.job_id, now)
        for admission in result.admissions:
            job = self.state.pending[admission.job_id]
            number = self.attempt_numbers.get(job.id, 0) + 1
            self.attempt_numbers[job.id] = number
            if admission.funding is not None:
                reserve(self.ledger, job.id, number, job.tenant, admission.funding, now)
            runtime = job.walltime_s * self.runtime_bp(job) // BASIS_POINTS
            self.attempts[job.id] = Attempt(number, now, now + runtime)
        self.state.apply(result, now)
        return result

    def _settle(self, job_id: str, at: int) -> None:
        """Close a running attempt: bill the time it ran (when money is on)."""
        attempt = self.attempts.pop(job_id)
        if self.programs is None:
            return
        running = self.state.running[job_id]
        usage = placement_usage(
            self.pool, running.job.tenant, running.placement, at - attempt.started_at
        )
        reserved = reservation(self.ledger, job_id, attempt.number)
        settle(self.ledger, job_id, attempt.number, usage, actual_split(reserved, usage.cost), at)
