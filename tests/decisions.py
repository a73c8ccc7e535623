"""Running one cycle and reading its decisions in domain terms.

`decide(pool, pending=..., running=...)` runs a cycle and asserts it broke no invariant, so every
scenario test also checks capacity, gangs, quotas, residency and preemption rules.
`outcomes(result)` reads each job's fate as a short word: the nodes it was placed on
("n-000+n-001"), or its reason code ("NO_CAPACITY").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scheduler.domain.jobs import Job, RunningJob
from scheduler.domain.pool import Pool
from scheduler.engine.cycle import run_cycle
from scheduler.engine.decisions import Admission, CycleResult
from scheduler.engine.invariants import violations
from scheduler.engine.snapshot import Snapshot
from scheduler.ledger.budgets import Budgets
from scheduler.policy.registry import resolve_policy
from scheduler.policy.service import ServiceHistory

DEFAULT_POLICY = "priority-fairshare:binpack"
ADMITTED = "admitted"  # in an expectation: admitted anywhere


def decide(
    pool: Pool,
    *,
    pending: Iterable[Job] = (),
    running: Iterable[RunningJob] = (),
    policy: str = DEFAULT_POLICY,
    now: int = 0,
    usage: Mapping[str, int] | None = None,
    budgets: Budgets | None = None,
    service: ServiceHistory | None = None,
) -> CycleResult:
    snapshot = Snapshot.build(
        pool, running=running, pending=pending, usage=usage, budgets=budgets, service=service
    )
    resolved = resolve_policy(policy)
    result = run_cycle(snapshot, resolved, now)
    broken = violations(snapshot, result, resolved)
    assert broken == [], broken
    return result


def placed_on(admission: Admission) -> str:
    """The nodes of a placement, sorted and joined: "n-000+n-001"."""
    return "+".join(sorted(admission.placement.nodes))


def outcomes(result: CycleResult) -> dict[str, str]:
    out = {a.job_id: placed_on(a) for a in result.admissions}
    out.update({job_id: reason.code.value for job_id, reason in result.pending.items()})
    out.update({job_id: reason.code.value for job_id, reason in result.rejected.items()})
    return out


def assert_outcomes(result: CycleResult, expected: Mapping[str, str]) -> None:
    """Every job's outcome is as expected; ADMITTED accepts any placement."""
    actual = outcomes(result)
    admitted = {a.job_id for a in result.admissions}
    seen = {
        job_id: ADMITTED if expected.get(job_id) == ADMITTED and job_id in admitted else outcome
        for job_id, outcome in actual.items()
    }
    assert seen == dict(expected), f"outcomes {seen}, expected {dict(expected)}"


def admission(result: CycleResult, job_id: str) -> Admission:
    for a in result.admissions:
        if a.job_id == job_id:
            return a
    raise AssertionError(f"job {job_id} was not admitted: {outcomes(result).get(job_id)}")


def victims(result: CycleResult) -> dict[str, str]:
    """Preempted job -> the cause, e.g. {"low-1": "PRIORITY"}."""
    return {p.job_id: p.cause.value for p in result.preemptions}
