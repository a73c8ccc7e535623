"""Infeasible is data: every reason the engine gives, with a message that names what matters.
And residency: where a job's data may go."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import RunningJob
from scheduler.domain.pool import Pool
from scheduler.engine.reasons import INFEASIBLE, ReasonCode
from scheduler.policy.registry import PLACEMENT_STRATEGIES, QUEUE_POLICIES
from tests.builders import (
    ASCEND,
    H800,
    MLU,
    JobBuilder,
    a_job,
    a_pool,
    a_tenant,
    an_approval,
)
from tests.decisions import admission, assert_outcomes, decide

ALL_POLICIES = [f"{q}:{p}" for q in QUEUE_POLICIES for p in PLACEMENT_STRATEGIES]


def busy(node: str, count: int = 8, *, until: int = 1000, tenant: str = "t1") -> RunningJob:
    return (
        a_job(f"busy-{node}")
        .tenant(tenant)
        .accelerators(count)
        .walltime(until)
        .not_preemptible()
        .running_on((node, count))
    )


@dataclass
class ReasonRow:
    code: ReasonCode
    pool: Pool
    pending: list[JobBuilder]  # the last job is the one the row is about
    names: tuple[str, ...]  # what its message must mention
    running: list[RunningJob] = field(default_factory=list)
    policy: str = "priority-fairshare:binpack"


TWO_NODES = a_pool().nodes(2, ASCEND, prefix="n").build()
CAPPED = a_pool().nodes(2, ASCEND, prefix="n").tenant(a_tenant("pcl").quota(ASCEND, 8)).build()

REASONS = [
    ReasonRow(
        ReasonCode.UNKNOWN_TENANT,
        TWO_NODES,
        [a_job("j").tenant("ghost")],
        ("ghost",),
    ),
    ReasonRow(
        ReasonCode.PRIORITY_NOT_ALLOWED,
        a_pool().nodes(1).tenant(a_tenant("pcl").priorities("low", "standard")).build(),
        [a_job("j").tenant("pcl").priority("high")],
        ("pcl", "high"),
    ),
    ReasonRow(
        ReasonCode.NO_FLAVOR,
        TWO_NODES,
        [a_job("j").gang(1, MLU, 4)],
        (MLU, ASCEND),
    ),
    ReasonRow(
        ReasonCode.RESIDENCY,
        a_pool().nodes(1, ASCEND).nodes(1, H800, city=City.HONG_KONG).build(),
        [a_job("j").gang(1, H800, 8)],
        (H800, "mainland", "hong-kong"),
    ),
    ReasonRow(
        ReasonCode.GANG_TOO_LARGE,
        TWO_NODES,
        [a_job("j").gang(3, ASCEND, 8)],
        ("3×8", ASCEND, "mainland"),
    ),
    ReasonRow(
        ReasonCode.QUOTA_TOO_SMALL,
        CAPPED,
        [a_job("j").tenant("pcl").gang(2, ASCEND, 8)],
        ("pcl", ASCEND, "16"),
    ),
    ReasonRow(
        ReasonCode.OVER_QUOTA,
        CAPPED,
        [a_job("j").tenant("pcl").accelerators(2)],
        ("pcl", ASCEND),
        running=[busy("n-000", 8, tenant="pcl")],
    ),
    ReasonRow(
        ReasonCode.NO_CAPACITY,
        TWO_NODES,
        [a_job("j").gang(2, ASCEND, 8)],
        ("2×8", ASCEND, "mainland"),
        running=[busy("n-000")],
    ),
    ReasonRow(
        ReasonCode.BLOCKED_BY_HEAD,
        TWO_NODES,
        [a_job("head").gang(2, ASCEND, 8), a_job("j").accelerators(1)],
        ("head",),
        running=[busy("n-000")],
        policy="fifo",
    ),
    ReasonRow(
        ReasonCode.RESERVED,
        TWO_NODES,
        [a_job("j").gang(2, ASCEND, 8)],
        ("1000",),  # when it is expected to start: when the busy node is due to free up
        running=[busy("n-000", until=1000)],
        policy="backfill",
    ),
    ReasonRow(
        ReasonCode.BACKFILL_WOULD_DELAY,
        TWO_NODES,
        [a_job("big").gang(2, ASCEND, 8), a_job("j").accelerators(8).walltime(5000)],
        ("big", "1000"),
        running=[busy("n-000", until=1000)],
        policy="backfill",
    ),
]


@pytest.mark.parametrize("row", REASONS, ids=[row.code.value for row in REASONS])
def test_reason_code_and_message(row: ReasonRow) -> None:
    jobs = [job.seq(i + 1).build() for i, job in enumerate(row.pending)]
    result = decide(row.pool, pending=jobs, running=row.running, policy=row.policy)
    assert result.admissions == ()
    about = jobs[-1].id
    bucket = result.rejected if row.code in INFEASIBLE else result.pending
    assert about in bucket, f"{about}: {result.pending.get(about) or result.rejected.get(about)}"
    reason = bucket[about]
    assert reason.code is row.code
    for name in row.names:
        assert name in reason.message, f"{name!r} not in {reason.message!r}"
    assert str(reason).startswith(f"{row.code}: ")


def test_the_table_covers_every_reason_the_engine_gives() -> None:
    not_yet = {ReasonCode.NO_FUNDS}  # the ledger that would give it is not built yet
    assert {row.code for row in REASONS} == set(ReasonCode) - not_yet


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_infeasible_jobs_are_rejected_under_every_policy(policy: str) -> None:
    jobs = [
        a_job("ghost").tenant("ghost").build(),
        a_job("mlu").gang(1, MLU, 1).build(),
        a_job("huge").gang(3, ASCEND, 8).build(),
        a_job("hk").origin(Jurisdiction.HONG_KONG).build(),
    ]
    result = decide(TWO_NODES, pending=jobs, policy=policy)
    assert {job_id: r.code for job_id, r in result.rejected.items()} == {
        "ghost": ReasonCode.UNKNOWN_TENANT,
        "mlu": ReasonCode.NO_FLAVOR,
        "huge": ReasonCode.GANG_TOO_LARGE,
        "hk": ReasonCode.RESIDENCY,
    }
    assert result.pending == {} and result.admissions == ()


def test_a_residency_reason_says_an_approval_could_help() -> None:
    pool = a_pool().nodes(1, ASCEND, city=City.HONG_KONG).build()
    result = decide(pool, pending=[a_job("j").build()])
    assert "approval" in result.rejected["j"].message


# ------------------------------------------------------------------ residency

HOME_FULL_HK_FREE = (
    a_pool()
    .nodes(1, ASCEND, prefix="sz")
    .nodes(1, ASCEND, prefix="hk", city=City.HONG_KONG)
    .tenant(a_tenant("pcl"))
    .tenant(a_tenant("other"))
    .approval(an_approval("own").held_by("pcl").into(Jurisdiction.HONG_KONG).expires_at(5000))
    .approval(an_approval("theirs").held_by("other").into(Jurisdiction.HONG_KONG))
    .approval(
        an_approval("reverse")
        .held_by("pcl")
        .out_of(Jurisdiction.HONG_KONG)
        .into(Jurisdiction.MAINLAND)
    )
    .approval(an_approval("to-macao").held_by("pcl").into(Jurisdiction.MACAO))
    .build()
)
SZ_BUSY = [busy("sz-000", tenant="pcl")]


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_a_mainland_job_never_lands_in_hong_kong_without_an_approval(policy: str) -> None:
    job = a_job("j").tenant("pcl").accelerators(8).build()
    result = decide(HOME_FULL_HK_FREE, pending=[job], running=SZ_BUSY, policy=policy)
    assert result.admissions == ()
    assert result.pending["j"].code in {ReasonCode.NO_CAPACITY, ReasonCode.RESERVED}


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_an_active_approval_of_its_own_tenant_lets_a_job_cross(policy: str) -> None:
    job = a_job("j").tenant("pcl").accelerators(8).approvals("own").build()
    result = decide(HOME_FULL_HK_FREE, pending=[job], running=SZ_BUSY, policy=policy, now=4999)
    placement = admission(result, "j").placement
    assert placement.workers == (("hk-000", 8),)
    assert (placement.zone, placement.approval) == (Jurisdiction.HONG_KONG, "own")


@pytest.mark.parametrize(
    ("approvals", "now"),
    [
        (("own",), 5000),  # expired the moment it reaches its expiry
        (("own",), 9000),
        (("theirs",), 0),  # another tenant's approval
        (("reverse",), 0),  # allows data from Hong Kong into the mainland, not the reverse
        (("to-macao",), 0),  # allows another zone
        (("no-such-approval",), 0),
    ],
    ids=["expires now", "expired", "another tenant's", "other direction", "other zone", "unknown"],
)
def test_an_approval_that_does_not_apply_keeps_the_job_home(
    approvals: tuple[str, ...], now: int
) -> None:
    job = a_job("j").tenant("pcl").accelerators(8).approvals(*approvals).build()
    result = decide(HOME_FULL_HK_FREE, pending=[job], running=SZ_BUSY, now=now)
    assert_outcomes(result, {"j": "NO_CAPACITY"})


@pytest.mark.parametrize("strategy", list(PLACEMENT_STRATEGIES))
def test_the_home_zone_is_preferred_when_both_have_room(strategy: str) -> None:
    pool = (
        a_pool()
        # the home zone is the worse choice for every strategy: dearer, fuller, imported
        .nodes(1, H800, prefix="sz", price=9000)
        .nodes(2, ASCEND, prefix="hk", city=City.HONG_KONG, price=1)
        .tenant(a_tenant("pcl"))
        .approval(an_approval("ap1").held_by("pcl"))
        .build()
    )
    job = a_job("j").tenant("pcl").accelerators(2).models(ASCEND, H800).approvals("ap1").build()
    running = [busy("sz-000", 4, tenant="pcl")]
    result = decide(pool, pending=[job], running=running, policy=f"priority-fairshare:{strategy}")
    placement = admission(result, "j").placement
    assert placement.workers == (("sz-000", 2),)
    assert (placement.zone, placement.approval) == (Jurisdiction.MAINLAND, None)


def test_a_job_whose_models_exist_only_across_the_border_runs_there_with_an_approval() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz")
        .nodes(1, H800, prefix="hk", city=City.HONG_KONG)
        .tenant(a_tenant("pcl"))
        .approval(an_approval("ap1").held_by("pcl"))
        .build()
    )
    with_approval = a_job("with").tenant("pcl").gang(1, H800, 8).approvals("ap1").build()
    without = a_job("without").tenant("pcl").gang(1, H800, 8).build()
    result = decide(pool, pending=[with_approval, without])
    assert_outcomes(result, {"with": "hk-000", "without": "RESIDENCY"})
    assert admission(result, "with").placement.approval == "ap1"


def test_a_hong_kong_job_stays_in_hong_kong_without_an_approval() -> None:
    pool = a_pool().nodes(1, ASCEND, prefix="sz").nodes(1, ASCEND, prefix="hk", city=City.HONG_KONG)
    job = a_job("j").origin(Jurisdiction.HONG_KONG).accelerators(8).build()
    result = decide(pool.build(), pending=[job], running=[busy("hk-000")])
    assert_outcomes(result, {"j": "NO_CAPACITY"})
    assert "hong-kong" in result.pending["j"].message
