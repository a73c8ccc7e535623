"""The invariant checker catches unlawful decisions (so the property tests can fail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import Job, Placement, RunningJob
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.engine.decisions import Admission, CycleResult, Preemption
from scheduler.engine.invariants import violations
from scheduler.engine.reasons import PreemptionCause, Reason, ReasonCode
from scheduler.engine.snapshot import Snapshot
from tests.builders import ASCEND, H800, a_job, a_pool, a_tenant

MAINLAND = Jurisdiction.MAINLAND


def on(*workers: tuple[str, int], model: str = ASCEND, zone: Jurisdiction = MAINLAND) -> Placement:
    return Placement(model, zone, workers)


def admit(
    job: str, placement: Placement, tenant: str = "t1", preempts: tuple[str, ...] = ()
) -> Admission:
    return Admission(job, tenant, placement, preempts=preempts)


def waits(code: ReasonCode = ReasonCode.NO_CAPACITY) -> Reason:
    return Reason(code, "")


@dataclass
class Case:
    pool: Pool
    pending: list[Job]
    admissions: list[Admission]
    running: list[RunningJob] = field(default_factory=list)
    preemptions: list[Preemption] = field(default_factory=list)
    pending_reasons: dict[str, Reason] = field(default_factory=dict)
    rejected: dict[str, Reason] = field(default_factory=dict)

    def violations(self) -> list[str]:
        snapshot = Snapshot.build(self.pool, running=self.running, pending=self.pending)
        result = CycleResult(
            0,
            "test",
            tuple(self.admissions),
            tuple(self.preemptions),
            self.pending_reasons,
            self.rejected,
            len(self.pending),
        )
        return violations(snapshot, result)


POOL = (
    a_pool()
    .nodes(2, ASCEND, prefix="n")
    .nodes(1, ASCEND, prefix="off", state=NodeState.CORDONED)
    .nodes(1, H800, prefix="h")
    .nodes(1, ASCEND, prefix="hk", city=City.HONG_KONG)
    .build()
)
COHORT = (
    a_pool()
    .nodes(3, ASCEND, prefix="n")
    .tenant(a_tenant("a").cohort("c").quota(ASCEND, 8))
    .tenant(a_tenant("b").cohort("c").quota(ASCEND, 8, borrowing=8))
    .tenant(a_tenant("solo").quota(ASCEND, 8))
    .build()
)


def job(job_id: str, count: int = 8, **kw: str) -> Job:
    builder = a_job(job_id).accelerators(count)
    if "tenant" in kw:
        builder.tenant(kw["tenant"])
    if "priority" in kw:
        builder.priority(kw["priority"])
    return builder.build()


CASES: dict[str, tuple[Callable[[], Case], str]] = {
    "over capacity": (
        lambda: Case(
            POOL,
            [job("j")],
            [admit("j", on(("n-000", 8)))],
            [a_job("r").accelerators(4).running_on(("n-000", 4))],
        ),
        "over capacity",
    ),
    "new work on a cordoned node": (
        lambda: Case(POOL, [job("j")], [admit("j", on(("off-000", 8)))]),
        "takes no new work",
    ),
    "gang resized": (
        lambda: Case(POOL, [a_job("j").gang(2, ASCEND, 8).build()], [admit("j", on(("n-000", 8)))]),
        "split or resized",
    ),
    "model not accepted": (
        lambda: Case(POOL, [job("j")], [admit("j", on(("h-000", 8), model=H800))]),
        "did not accept",
    ),
    "gang across zones": (
        lambda: Case(
            POOL,
            [a_job("j").gang(2, ASCEND, 8).build()],
            [admit("j", on(("n-000", 8), ("hk-000", 8)))],
        ),
        "spans zones",
    ),
    "residency": (
        lambda: Case(
            POOL, [job("j")], [admit("j", on(("hk-000", 8), zone=Jurisdiction.HONG_KONG))]
        ),
        "not allowed for data from mainland",
    ),
    "no outcome": (lambda: Case(POOL, [job("j")], []), "has 0 outcomes"),
    "two outcomes": (
        lambda: Case(
            POOL, [job("j")], [admit("j", on(("n-000", 8)))], pending_reasons={"j": waits()}
        ),
        "has 2 outcomes",
    ),
    "quota above ceiling": (
        lambda: Case(
            COHORT,
            [job("j", tenant="solo"), job("k", tenant="solo")],
            [admit("j", on(("n-000", 8)), "solo"), admit("k", on(("n-001", 8)), "solo")],
        ),
        "above its ceiling",
    ),
    "priority preemption by an equal priority": (
        lambda: Case(
            POOL,
            [job("j")],
            [admit("j", on(("n-000", 8)), preempts=("r",))],
            [a_job("r").accelerators(8).running_on(("n-000", 8))],
            [Preemption("r", "t1", "j", PreemptionCause.PRIORITY, "")],
        ),
        "no higher priority",
    ),
    "non-preemptible victim": (
        lambda: Case(
            POOL,
            [job("j", priority="high")],
            [admit("j", on(("n-000", 8)), preempts=("r",))],
            [a_job("r").accelerators(8).not_preemptible().running_on(("n-000", 8))],
            [Preemption("r", "t1", "j", PreemptionCause.PRIORITY, "")],
        ),
        "non-preemptible",
    ),
    "victim not listed by its preemptor": (
        lambda: Case(
            POOL,
            [job("j", priority="high")],
            [admit("j", on(("n-000", 8)))],
            [a_job("r").accelerators(8).priority("low").running_on(("n-000", 8))],
            [Preemption("r", "t1", "j", PreemptionCause.PRIORITY, "")],
        ),
        "does not list its victim",
    ),
    "owner reclaim without an owner": (
        lambda: Case(
            POOL,
            [job("j")],
            [admit("j", on(("n-000", 8)), preempts=("r",))],
            [a_job("r").accelerators(8).running_on(("n-000", 8))],
            [Preemption("r", "t1", "j", PreemptionCause.RECLAIM_OWNER, "")],
        ),
        "did not borrow from",
    ),
    "quota reclaim from a member within its nominal": (
        lambda: Case(
            COHORT,
            [job("j", tenant="a")],
            [admit("j", on(("n-000", 8)), "a", preempts=("r",))],
            [a_job("r").tenant("b").accelerators(8).running_on(("n-000", 8))],
            [Preemption("r", "b", "j", PreemptionCause.RECLAIM_QUOTA, "")],
        ),
        "within its nominal quota",
    ),
    "quota reclaim beyond the taker's nominal": (
        lambda: Case(
            COHORT,
            [job("j", 8, tenant="a")],
            [admit("j", on(("n-002", 8)), "a", preempts=("r2",))],
            [
                a_job("a1").tenant("a").accelerators(4).running_on(("n-000", 4)),
                a_job("r1").tenant("b").accelerators(8).running_on(("n-001", 8)),
                a_job("r2").tenant("b").accelerators(4).running_on(("n-000", 4)),
            ],
            [Preemption("r2", "b", "j", PreemptionCause.RECLAIM_QUOTA, "")],
        ),
        "beyond its own nominal",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_checker_reports(name: str) -> None:
    make, expected = CASES[name]
    found = make().violations()
    assert any(expected in v for v in found), found


def test_the_checker_accepts_lawful_decisions() -> None:
    case = Case(
        COHORT,
        [job("j", tenant="a"), job("k", tenant="a")],
        [admit("j", on(("n-001", 8)), "a", preempts=("r2",))],
        [
            a_job("r1").tenant("b").accelerators(8).running_on(("n-000", 8)),
            a_job("r2").tenant("b").accelerators(8).running_on(("n-001", 8)),
        ],
        [Preemption("r2", "b", "j", PreemptionCause.RECLAIM_QUOTA, "")],
        pending_reasons={"k": waits(ReasonCode.OVER_QUOTA)},
    )
    assert case.violations() == []
