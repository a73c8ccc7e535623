"""Preemption: for priority (the fewest, lowest-priority, most recently started preemptible
victims), for an owner reclaiming its nodes from borrowers, and for a tenant within its nominal
quota reclaiming what its cohort borrowed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from scheduler.domain.jobs import RunningJob
from scheduler.domain.nodes import OwnerClass
from scheduler.domain.pool import Pool
from scheduler.engine.reasons import PreemptionCause
from tests.builders import ASCEND, H800, JobBuilder, a_job, a_pool, a_tenant
from tests.decisions import ADMITTED, admission, assert_outcomes, decide, victims


def running(
    job_id: str,
    node: str,
    count: int = 8,
    *,
    priority: str = "standard",
    started_at: int = 0,
    tenant: str = "t1",
    preemptible: bool = True,
    model: str = ASCEND,
) -> RunningJob:
    job = a_job(job_id).tenant(tenant).gang(1, model, count).priority(priority)
    if not preemptible:
        job = job.not_preemptible()
    return job.running_on((node, count), started_at=started_at)


@dataclass
class Row:
    name: str
    pool: Pool
    running: list[RunningJob]
    pending: list[JobBuilder]
    expect: dict[str, str]  # pending job -> outcome
    victims: dict[str, str] = field(default_factory=dict)  # preempted job -> cause
    policy: str = "priority-fairshare:binpack"


def check(row: Row) -> None:
    jobs = [job.seq(1000 + i).build() for i, job in enumerate(row.pending)]
    result = decide(row.pool, pending=jobs, running=row.running, policy=row.policy, now=1000)
    assert_outcomes(result, row.expect)
    assert victims(result) == row.victims
    for a in result.admissions:
        assert set(a.preempts) == {p.job_id for p in result.preemptions if p.by_job == a.job_id}


def rows(*table: Row) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("row", table, ids=[row.name for row in table])


def nodes(count: int) -> Pool:
    return a_pool().nodes(count, ASCEND, prefix="n").build()


HIGH_8 = a_job("high").accelerators(8).priority("high")


# ------------------------------------------------------------------ priority


@rows(
    Row(
        "the lowest priority goes first",
        nodes(2),
        [running("standard", "n-000", started_at=900), running("low", "n-001", priority="low")],
        [HIGH_8],
        {"high": "n-001"},
        {"low": "PRIORITY"},
    ),
    Row(
        "among equal priorities the most recently started goes first",
        nodes(2),
        [
            running("older", "n-000", priority="low", started_at=100),
            running("newer", "n-001", priority="low", started_at=200),
        ],
        [HIGH_8],
        {"high": "n-001"},
        {"newer": "PRIORITY"},
    ),
    Row(
        "the fewest victims: one job that makes room rather than two",
        nodes(2),
        [
            running("small-1", "n-000", 4, priority="low", started_at=300),
            running("small-2", "n-000", 4, priority="low", started_at=400),
            running("whole", "n-001", priority="low", started_at=100),
        ],
        [HIGH_8],
        {"high": "n-001"},
        {"whole": "PRIORITY"},
    ),
    Row(
        "a victim that does not help make room is not preempted",
        nodes(1),
        [
            running("small", "n-000", 2, priority="low", started_at=200),
            running("big", "n-000", 6, priority="low", started_at=100),
        ],
        [a_job("high").accelerators(6).priority("high")],
        {"high": "n-000"},
        {"big": "PRIORITY"},
    ),
    Row(
        "a victim on another node that does not help is not preempted",
        nodes(2),
        [
            running("useless", "n-000", 4, priority="low", started_at=300),
            running("keeps-n-000-busy", "n-000", 4, preemptible=False),
            running("useful", "n-001", 8, priority="low", started_at=100),
        ],
        [a_job("high").gang(1, ASCEND, 8).priority("high")],
        {"high": "n-001"},
        {"useful": "PRIORITY"},
    ),
    Row(
        "a gang takes victims on as many nodes as it needs",
        nodes(3),
        [
            running("low-1", "n-000", priority="low"),
            running("low-2", "n-001", priority="low"),
            running("standard", "n-002"),
        ],
        [a_job("high").gang(2, ASCEND, 8).priority("high")],
        {"high": "n-000+n-001"},
        {"low-1": "PRIORITY", "low-2": "PRIORITY"},
    ),
    Row(
        "non-preemptible work is never a victim, even of lower priority",
        nodes(2),
        [
            running("low-pinned", "n-000", priority="low", preemptible=False),
            running("standard", "n-001"),
        ],
        [HIGH_8],
        {"high": "n-001"},
        {"standard": "PRIORITY"},
    ),
    Row(
        "nothing preemptible: the job waits",
        nodes(1),
        [running("low-pinned", "n-000", priority="low", preemptible=False)],
        [HIGH_8],
        {"high": "NO_CAPACITY"},
    ),
    Row(
        "equal priority never preempts",
        nodes(1),
        [running("standard", "n-000")],
        [a_job("pending").accelerators(8)],
        {"pending": "NO_CAPACITY"},
    ),
    Row(
        "lower priority never preempts higher",
        nodes(1),
        [running("high", "n-000", priority="high")],
        [a_job("pending").accelerators(8).priority("low")],
        {"pending": "NO_CAPACITY"},
    ),
    Row(
        "victims only where the job could run",
        a_pool().nodes(1, ASCEND, prefix="n").nodes(1, H800, prefix="h").build(),
        [
            running("pinned", "n-000", preemptible=False),
            running("low-h800", "h-000", priority="low", model=H800),
        ],
        [HIGH_8],
        {"high": "NO_CAPACITY"},
    ),
    Row(
        "a job preempts its own tenant's lower-priority work",
        nodes(1),
        [running("mine", "n-000", priority="low")],
        [HIGH_8],
        {"high": "n-000"},
        {"mine": "PRIORITY"},
    ),
    Row(
        "preempting its own lower-priority work frees the tenant's quota",
        a_pool().nodes(2, ASCEND, prefix="n").tenant(a_tenant("pcl").quota(ASCEND, 8)).build(),
        [running("mine", "n-000", priority="low", tenant="pcl")],
        [a_job("high").tenant("pcl").accelerators(8).priority("high")],
        {"high": ADMITTED},
        {"mine": "PRIORITY"},
    ),
    Row(
        "another tenant's work is not preempted to fix a quota it does not share",
        a_pool()
        .nodes(1, ASCEND, prefix="n")
        .tenant(a_tenant("pcl").quota(ASCEND, 0))
        .tenant(a_tenant("other"))
        .build(),
        [running("other-low", "n-000", priority="low", tenant="other")],
        [a_job("high").tenant("pcl").accelerators(8).priority("high")],
        {"high": "QUOTA_TOO_SMALL"},
    ),
    Row(
        "one preemption per freed node: the second job of equal need waits",
        nodes(1),
        [running("low", "n-000", priority="low")],
        [HIGH_8, a_job("high-2").accelerators(8).priority("high")],
        {"high": "n-000", "high-2": "NO_CAPACITY"},
        {"low": "PRIORITY"},
    ),
)
def test_priority_preemption(row: Row) -> None:
    check(row)


@pytest.mark.parametrize(
    ("policy", "expect", "preempted"),
    [
        ("fifo:binpack", {"high": "NO_CAPACITY"}, {}),
        ("priority-fairshare:binpack", {"high": "n-000"}, {"low": "PRIORITY"}),
        ("backfill:binpack", {"high": "n-000"}, {"low": "PRIORITY"}),
        ("las:binpack", {"high": "n-000"}, {"low": "PRIORITY"}),
        ("qssf:binpack", {"high": "NO_CAPACITY"}, {}),
    ],
)
def test_which_queue_policies_preempt(
    policy: str, expect: dict[str, str], preempted: dict[str, str]
) -> None:
    check(
        Row(
            policy,
            nodes(1),
            [running("low", "n-000", priority="low")],
            [HIGH_8],
            expect,
            preempted,
            policy,
        )
    )


def test_a_preemption_names_its_victim_the_preemptor_and_the_cause() -> None:
    pool = a_pool().nodes(1, ASCEND, prefix="n").tenant(a_tenant("a")).tenant(a_tenant("b"))
    result = decide(
        pool.build(),
        pending=[a_job("high").tenant("a").accelerators(8).priority("high").build()],
        running=[running("low", "n-000", priority="low", tenant="b")],
    )
    (preemption,) = result.preemptions
    assert (preemption.job_id, preemption.tenant, preemption.by_job, preemption.cause) == (
        "low",
        "b",
        "high",
        PreemptionCause.PRIORITY,
    )
    assert "high" in preemption.message
    assert admission(result, "high").preempts == ("low",)


# ------------------------------------------------------------------ owner reclaim

# "ent" lends its two Shenzhen nodes to the pool; "gov" owns a third. Tenant "ent-team" belongs
# to ent, "ent-lab" too; "gov-team" belongs to gov; "guest" belongs to no owner.
OWNERS = (
    a_pool()
    .nodes(2, ASCEND, prefix="e", owner="ent", owner_class=OwnerClass.ENTERPRISE)
    .nodes(1, ASCEND, prefix="g", owner="gov")
    .tenant(a_tenant("ent-team").owner("ent"))
    .tenant(a_tenant("ent-lab").owner("ent"))
    .tenant(a_tenant("gov-team").owner("gov"))
    .tenant(a_tenant("guest"))
    .build()
)
G_BUSY = running("gov-pinned", "g-000", tenant="gov-team", preemptible=False)


def team_job(tenant: str = "ent-team", priority: str = "standard") -> JobBuilder:
    return a_job("mine").tenant(tenant).accelerators(8).priority(priority)


@rows(
    Row(
        "the owner's tenant reclaims its node from a borrower at equal priority",
        OWNERS,
        [
            running("guest-old", "e-000", tenant="guest", started_at=100),
            running("guest-new", "e-001", tenant="guest", started_at=200),
            G_BUSY,
        ],
        [team_job()],
        {"mine": "e-001"},
        {"guest-new": "RECLAIM_OWNER"},
    ),
    Row(
        "even from a borrower of higher priority",
        OWNERS,
        [running("guest-high", "e-000", tenant="guest", priority="high"), G_BUSY],
        [team_job().gang(2, ASCEND, 8)],
        {"mine": "e-000+e-001"},
        {"guest-high": "RECLAIM_OWNER"},
    ),
    Row(
        "a tenant of another owner borrowing the node is a borrower too",
        OWNERS,
        [
            running("gov-borrows", "e-000", tenant="gov-team"),
            running("own", "e-001", tenant="ent-team", preemptible=False),
            G_BUSY,
        ],
        [team_job()],
        {"mine": "e-000"},
        {"gov-borrows": "RECLAIM_OWNER"},
    ),
    Row(
        "no reclaim of a borrower on another owner's node",
        OWNERS,
        [
            running("own-1", "e-000", tenant="ent-team", preemptible=False),
            running("own-2", "e-001", tenant="ent-team", preemptible=False),
            running("guest-on-gov", "g-000", tenant="guest"),
        ],
        [team_job()],
        {"mine": "NO_CAPACITY"},
    ),
    Row(
        "no reclaim from a tenant of the same owner",
        OWNERS,
        [
            running("lab-1", "e-000", tenant="ent-lab"),
            running("lab-2", "e-001", tenant="ent-lab"),
            G_BUSY,
        ],
        [team_job()],
        {"mine": "NO_CAPACITY"},
    ),
    Row(
        "a tenant without an owner reclaims nothing",
        OWNERS,
        [
            running("guest-1", "e-000", tenant="guest"),
            running("guest-2", "e-001", tenant="guest"),
            G_BUSY,
        ],
        [team_job("guest")],
        {"mine": "NO_CAPACITY"},
    ),
)
def test_owner_reclaim(row: Row) -> None:
    check(row)


def test_a_lower_priority_borrower_on_the_owners_node_is_reclaimed_for_priority() -> None:
    result = decide(
        OWNERS,
        pending=[team_job().build()],
        running=[
            running("guest-low", "e-000", tenant="guest", priority="low"),
            running("own", "e-001", tenant="ent-team", preemptible=False),
            G_BUSY,
        ],
    )
    assert victims(result) == {"guest-low": "PRIORITY"}


# ------------------------------------------------------------------ quota reclaim in a cohort


def cohort(a_nominal: int, b_nominal: int, b_borrowing: int, node_count: int) -> Pool:
    """Tenants a and b lend all their nominal quota to cohort c; b may borrow."""
    return (
        a_pool()
        .nodes(node_count, ASCEND, prefix="n")
        .tenant(a_tenant("a").cohort("c").quota(ASCEND, a_nominal))
        .tenant(a_tenant("b").cohort("c").quota(ASCEND, b_nominal, borrowing=b_borrowing))
        .tenant(a_tenant("x").cohort("other").quota(ASCEND, 8, borrowing=8))
        .tenant(a_tenant("y").cohort("other").quota(ASCEND, 8))
        .build()
    )


def a_job_of(tenant: str, count: int = 8) -> JobBuilder:
    return a_job(f"{tenant}-job").tenant(tenant).accelerators(count)


@rows(
    Row(
        "a tenant within its nominal takes back from a borrower",
        cohort(8, 8, 8, node_count=2),
        [
            running("b-old", "n-000", tenant="b", started_at=100),
            running("b-new", "n-001", tenant="b", started_at=200),
        ],
        [a_job_of("a")],
        {"a-job": "n-001"},
        {"b-new": "RECLAIM_QUOTA"},
    ),
    Row(
        "a lower-priority borrower is preempted for priority",
        cohort(8, 8, 8, node_count=2),
        [
            running("b-old", "n-000", tenant="b", started_at=100),
            running("b-new", "n-001", tenant="b", started_at=200, priority="low"),
        ],
        [a_job_of("a").priority("high")],
        {"a-job": "n-001"},
        {"b-new": "PRIORITY"},
    ),
    Row(
        "no reclaim from a member within its nominal",
        cohort(8, 16, 0, node_count=2),
        [running("b-1", "n-000", tenant="b"), running("b-2", "n-001", tenant="b")],
        [a_job_of("a")],
        {"a-job": "NO_CAPACITY"},
    ),
    Row(
        "no reclaim by a tenant that would go above its nominal",
        # a and b keep their nominal to themselves and borrow from "lender"
        a_pool()
        .nodes(3, ASCEND, prefix="n")
        .tenant(a_tenant("a").cohort("c").quota(ASCEND, 8, borrowing=8, lending=0))
        .tenant(a_tenant("b").cohort("c").quota(ASCEND, 8, borrowing=8, lending=0))
        .tenant(a_tenant("lender").cohort("c").quota(ASCEND, 16))
        .build(),
        [
            running("a-1", "n-000", tenant="a", preemptible=False),
            running("b-1", "n-001", tenant="b"),
            running("b-2", "n-002", tenant="b"),
        ],
        [a_job_of("a")],
        {"a-job": "NO_CAPACITY"},
    ),
    Row(
        "reclaim stops once the borrower is back within its nominal",
        cohort(8, 4, 12, node_count=1),
        [
            running("b-1", "n-000", 4, tenant="b", started_at=100),
            running("b-2", "n-000", 4, tenant="b", started_at=200),
        ],
        [a_job_of("a")],
        {"a-job": "OVER_QUOTA"},
    ),
    Row(
        "a member without quotas has no nominal quota to reclaim",
        a_pool()
        .nodes(2, ASCEND, prefix="n")
        .tenant(a_tenant("unlimited").cohort("c"))
        .tenant(a_tenant("lender").cohort("c").quota(ASCEND, 8))
        .tenant(a_tenant("b").cohort("c").quota(ASCEND, 8, borrowing=8))
        .build(),
        [running("b-1", "n-000", tenant="b"), running("b-2", "n-001", tenant="b")],
        [a_job_of("unlimited")],
        {"unlimited-job": "NO_CAPACITY"},
    ),
    Row(
        "no reclaim across cohorts",
        cohort(8, 8, 8, node_count=2),
        [running("x-1", "n-000", tenant="x"), running("x-2", "n-001", tenant="x")],
        [a_job_of("a")],
        {"a-job": "NO_CAPACITY"},
    ),
)
def test_quota_reclaim(row: Row) -> None:
    check(row)
