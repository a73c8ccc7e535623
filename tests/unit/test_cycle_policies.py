"""Table tests: one row per scenario, the decisions each queue policy and placement strategy makes.

Each row gives a pool, running work, pending jobs in arrival order, and every pending job's
expected outcome: the nodes it starts on ("n-000+n-001"), ADMITTED (anywhere), or a reason code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import RunningJob
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.policy.registry import PLACEMENT_STRATEGIES, QUEUE_POLICIES
from tests.builders import (
    ASCEND,
    H800,
    JobBuilder,
    a_job,
    a_pool,
    a_tenant,
    an_approval,
)
from tests.decisions import ADMITTED, admission, assert_outcomes, decide

ALL_POLICIES = [f"{q}:{p}" for q in QUEUE_POLICIES for p in PLACEMENT_STRATEGIES]


@dataclass
class Row:
    name: str
    pool: Pool
    pending: list[JobBuilder]  # in arrival order
    expect: dict[str, str]
    running: list[RunningJob] = field(default_factory=list)
    usage: Mapping[str, int] = field(default_factory=dict)
    now: int = 0

    def run(self, policy: str) -> None:
        jobs = [job.seq(i + 1).build() for i, job in enumerate(self.pending)]
        result = decide(
            self.pool,
            pending=jobs,
            running=self.running,
            policy=policy,
            now=self.now,
            usage=self.usage,
        )
        assert_outcomes(result, self.expect)


def rows(*table: Row) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("row", table, ids=[row.name for row in table])


def two_nodes() -> Pool:
    return a_pool().nodes(2, ASCEND, prefix="n").build()


def busy(node: str, count: int = 8, *, until: int = 1000, tenant: str = "t1") -> RunningJob:
    """Work nobody may preempt, holding `count` accelerators of `node` until `until`."""
    return (
        a_job(f"busy-{node}")
        .tenant(tenant)
        .accelerators(count)
        .walltime(until)
        .not_preemptible()
        .running_on((node, count))
    )


# ------------------------------------------------------------------ fifo


@rows(
    Row(
        "a blocked head blocks later small jobs",
        two_nodes(),
        [a_job("big").gang(2, ASCEND, 8), a_job("small").accelerators(1)],
        {"big": "NO_CAPACITY", "small": "BLOCKED_BY_HEAD"},
        running=[busy("n-000")],
    ),
    Row(
        "jobs ahead of the blocked head start",
        two_nodes(),
        [
            a_job("first").accelerators(4),
            a_job("big").gang(2, ASCEND, 8),
            a_job("after").accelerators(1),
        ],
        {"first": ADMITTED, "big": "NO_CAPACITY", "after": "BLOCKED_BY_HEAD"},
    ),
    Row(
        "the head blocks jobs for other models too",
        a_pool().nodes(1, ASCEND, prefix="n").nodes(1, H800, prefix="h").build(),
        [a_job("ascend").accelerators(8), a_job("h800").gang(1, H800, 8)],
        {"ascend": "NO_CAPACITY", "h800": "BLOCKED_BY_HEAD"},
        running=[busy("n-000")],
    ),
    Row(
        "arrival order, not priority",
        a_pool().nodes(1, ASCEND, prefix="n").build(),
        [
            a_job("low").accelerators(8).priority("low"),
            a_job("high").accelerators(8).priority("high"),
        ],
        {"low": "n-000", "high": "NO_CAPACITY"},
    ),
    Row(
        "an over-quota job does not block",
        (
            a_pool()
            .nodes(2, ASCEND, prefix="n")
            .tenant(a_tenant("capped").quota(ASCEND, 8))
            .tenant(a_tenant("free"))
            .build()
        ),
        [
            a_job("capped").tenant("capped").accelerators(1),
            a_job("free").tenant("free").accelerators(8),
        ],
        {"capped": "OVER_QUOTA", "free": "n-001"},
        running=[busy("n-000", tenant="capped")],
    ),
    Row(
        "an infeasible job does not block",
        a_pool().nodes(1, ASCEND, prefix="n").build(),
        [a_job("huge").gang(2, ASCEND, 8), a_job("fits").accelerators(8)],
        {"huge": "GANG_TOO_LARGE", "fits": "n-000"},
    ),
    Row(
        "an infeasible job behind a blocked head is rejected, the rest wait behind it",
        two_nodes(),
        [
            a_job("big").gang(2, ASCEND, 8),
            a_job("small").accelerators(1),
            a_job("huge").gang(3, ASCEND, 8),
            a_job("h800").gang(1, H800, 8),
            a_job("last").accelerators(2),
        ],
        {
            "big": "NO_CAPACITY",
            "small": "BLOCKED_BY_HEAD",
            "huge": "GANG_TOO_LARGE",
            "h800": "NO_FLAVOR",
            "last": "BLOCKED_BY_HEAD",
        },
        running=[busy("n-000")],
    ),
)
def test_fifo(row: Row) -> None:
    row.run("fifo:binpack")


# ------------------------------------------------------------------ priority-fairshare

TWO_TENANTS = a_pool().nodes(2, ASCEND, prefix="n").tenant(a_tenant("a")).tenant(a_tenant("b"))
ONE_NODE_TWO_TENANTS = (
    a_pool().nodes(1, ASCEND, prefix="n").tenant(a_tenant("a")).tenant(a_tenant("b"))
)


def weighted(weight_a: int) -> Pool:
    return (
        a_pool()
        .nodes(3, ASCEND, prefix="n")
        .tenant(a_tenant("a").weight(weight_a))
        .tenant(a_tenant("b"))
        .build()
    )


# a holds 8 of 24 accelerators, b 4 of 24: with equal weights b is further below its share;
# with weight 3, a's weighted use (8/3) is below b's (4)
WEIGHTED_RUNNING = [busy("n-000", tenant="a"), busy("n-001", 4, tenant="b")]


@rows(
    Row(
        "higher priority first",
        a_pool().nodes(1, ASCEND, prefix="n").build(),
        [a_job("standard").accelerators(8), a_job("high").accelerators(8).priority("high")],
        {"standard": "NO_CAPACITY", "high": "n-000"},
    ),
    Row(
        "higher priority first within a tenant",
        ONE_NODE_TWO_TENANTS.build(),
        [
            a_job("a-std").tenant("a").accelerators(8),
            a_job("a-high").tenant("a").accelerators(8).priority("high"),
        ],
        {"a-std": "NO_CAPACITY", "a-high": "n-000"},
    ),
    Row(
        "equal priority: the tenant using less goes first",
        TWO_TENANTS.build(),
        [a_job("a1").tenant("a").accelerators(8), a_job("b1").tenant("b").accelerators(8)],
        {"a1": "NO_CAPACITY", "b1": "n-001"},
        running=[busy("n-000", tenant="a")],
    ),
    Row(
        "equal weights: b uses less",
        weighted(1),
        [a_job("b1").tenant("b").accelerators(8), a_job("a1").tenant("a").accelerators(8)],
        {"b1": "n-002", "a1": "NO_CAPACITY"},
        running=WEIGHTED_RUNNING,
    ),
    Row(
        "weight 3: a's weighted use is the smaller",
        weighted(3),
        [a_job("b1").tenant("b").accelerators(8), a_job("a1").tenant("a").accelerators(8)],
        {"b1": "NO_CAPACITY", "a1": "n-002"},
        running=WEIGHTED_RUNNING,
    ),
    Row(
        "no history: arrival order breaks the tie",
        ONE_NODE_TWO_TENANTS.build(),
        [a_job("a1").tenant("a").accelerators(8), a_job("b1").tenant("b").accelerators(8)],
        {"a1": "n-000", "b1": "NO_CAPACITY"},
    ),
    Row(
        "decayed usage history: the tenant that used more waits",
        ONE_NODE_TWO_TENANTS.build(),
        [a_job("a1").tenant("a").accelerators(8), a_job("b1").tenant("b").accelerators(8)],
        {"a1": "NO_CAPACITY", "b1": "n-000"},
        usage={"a": 10**9},
    ),
    Row(
        "history counts less than a higher priority",
        ONE_NODE_TWO_TENANTS.build(),
        [
            a_job("a1").tenant("a").accelerators(8).priority("high"),
            a_job("b1").tenant("b").accelerators(8),
        ],
        {"a1": "n-000", "b1": "NO_CAPACITY"},
        usage={"a": 10**12},
    ),
    Row(
        "an admission moves its tenant behind the others",
        TWO_TENANTS.build(),
        [
            a_job("a1").tenant("a").accelerators(8),
            a_job("a2").tenant("a").accelerators(8),
            a_job("b1").tenant("b").accelerators(8),
        ],
        {"a1": ADMITTED, "b1": ADMITTED, "a2": "NO_CAPACITY"},
    ),
    Row(
        "a blocked job is skipped so a later small one starts",
        two_nodes(),
        [a_job("big").gang(2, ASCEND, 8).priority("high"), a_job("small").accelerators(4)],
        {"big": "NO_CAPACITY", "small": "n-001"},
        running=[busy("n-000")],
    ),
)
def test_priority_fairshare(row: Row) -> None:
    row.run("priority-fairshare:binpack")


# ------------------------------------------------------------------ backfill (EASY)

# Mostly: n-000 is busy until t=1000; a 2×8 gang can start then, on n-000 and n-001.


@rows(
    Row(
        "the first blocked job gets a reservation",
        two_nodes(),
        [a_job("big").gang(2, ASCEND, 8)],
        {"big": "RESERVED"},
        running=[busy("n-000", until=1000)],
    ),
    Row(
        "a later short job that ends before the reservation starts on held capacity",
        two_nodes(),
        [a_job("big").gang(2, ASCEND, 8), a_job("short").accelerators(8).walltime(500)],
        {"big": "RESERVED", "short": "n-001"},
        running=[busy("n-000", until=1000)],
    ),
    Row(
        "a job ending exactly when the reservation starts may backfill",
        two_nodes(),
        [a_job("big").gang(2, ASCEND, 8), a_job("short").accelerators(8).walltime(1000)],
        {"big": "RESERVED", "short": "n-001"},
        running=[busy("n-000", until=1000)],
    ),
    Row(
        "a later long job that would delay the reservation waits",
        two_nodes(),
        [a_job("big").gang(2, ASCEND, 8), a_job("long").accelerators(8).walltime(1001)],
        {"big": "RESERVED", "long": "BACKFILL_WOULD_DELAY"},
        running=[busy("n-000", until=1000)],
    ),
    Row(
        "a long job that fits on nodes the reservation does not need starts",
        a_pool().nodes(3, ASCEND, prefix="n").build(),
        [a_job("big").gang(2, ASCEND, 8), a_job("long").accelerators(4).walltime(50_000)],
        {"big": "RESERVED", "long": "n-002"},
        running=[busy("n-000", until=1000), busy("n-002", 4, until=9000)],
    ),
    Row(
        "a long job that fits on another model starts",
        a_pool().nodes(2, ASCEND, prefix="n").nodes(1, H800, prefix="h").build(),
        [
            a_job("big").gang(2, ASCEND, 8),
            a_job("long").accelerators(8).models(ASCEND, H800).walltime(50_000),
        ],
        {"big": "RESERVED", "long": "h-000"},
        running=[busy("n-000", until=1000)],
    ),
    Row(
        "only one reservation: a second blocked job waits for capacity",
        two_nodes(),
        [a_job("big").gang(2, ASCEND, 8), a_job("big2").gang(2, ASCEND, 8).walltime(10)],
        {"big": "RESERVED", "big2": "NO_CAPACITY"},
        running=[busy("n-000", until=1000)],
    ),
    Row(
        "capacity admitted earlier in the same cycle counts towards the reservation",
        two_nodes(),
        [
            a_job("first").accelerators(8).priority("high").walltime(100),
            a_job("big").gang(2, ASCEND, 8),
            a_job("long").accelerators(8).priority("low").walltime(10_000),
            a_job("short").accelerators(8).priority("low").walltime(50),
        ],
        {"first": "n-000", "big": "RESERVED", "long": "BACKFILL_WOULD_DELAY", "short": "n-001"},
    ),
    Row(
        "no running work will free room: no reservation, later jobs start",
        a_pool()
        .nodes(1, ASCEND, prefix="n")
        .nodes(1, ASCEND, prefix="n", state=NodeState.CORDONED)
        .build(),
        [a_job("big").gang(2, ASCEND, 8), a_job("long").accelerators(8).walltime(50_000)],
        {"big": "NO_CAPACITY", "long": "n-000"},
    ),
    Row(
        "jobs that fit before any job blocks start as usual",
        two_nodes(),
        [
            a_job("small").accelerators(8).priority("high").walltime(50_000),
            a_job("big").gang(2, ASCEND, 8),
        ],
        {"small": "n-000", "big": "RESERVED"},
    ),
)
def test_backfill(row: Row) -> None:
    row.run("backfill:binpack")


# ------------------------------------------------------------------ placement strategies

HALF_USED_AND_EMPTY = a_pool().nodes(2, ASCEND, prefix="n").build()
PRICED = (
    a_pool()
    .nodes(1, ASCEND, prefix="dear", owner="dear", price=3000)
    .nodes(1, ASCEND, prefix="cheap", owner="cheap", price=1000)
    .build()
)
# Hong Kong machines bill in HKD: the number is lower, but a mainland job that may run there
# (an approval) keeps to its home zone while it has room (and the product never compares prices in
# two currencies).
TWO_CURRENCIES = (
    a_pool()
    .nodes(1, ASCEND, prefix="hkd", owner="hk-co", price=500, city=City.HONG_KONG)
    .nodes(1, ASCEND, prefix="cny", owner="sz-co", price=2000)
    .approval(an_approval("ap1").held_by("t1"))
    .build()
)
DOMESTIC_AND_IMPORTED = (
    a_pool().nodes(1, ASCEND, prefix="ascend").nodes(1, H800, prefix="h800").build()
)


@pytest.mark.parametrize(
    ("strategy", "pool", "running", "chosen"),
    [
        ("binpack", HALF_USED_AND_EMPTY, [busy("n-000", 4)], "n-000"),
        ("spread", HALF_USED_AND_EMPTY, [busy("n-000", 4)], "n-001"),
        ("binpack", PRICED, [busy("dear-000", 4)], "dear-000"),
        ("cheapest", PRICED, [busy("dear-000", 4)], "cheap-000"),
        ("cheapest", TWO_CURRENCIES, [], "cny-000"),
        ("cheapest", TWO_CURRENCIES, [busy("cny-000", 7)], "hkd-000"),
        ("binpack", DOMESTIC_AND_IMPORTED, [busy("h800-000", 4)], "h800-000"),
        ("domestic-first", DOMESTIC_AND_IMPORTED, [busy("h800-000", 4)], "ascend-000"),
        ("domestic-first", DOMESTIC_AND_IMPORTED, [busy("ascend-000", 7)], "h800-000"),
    ],
    ids=[
        "binpack fills the partly used node",
        "spread picks the emptiest node",
        "binpack ignores price",
        "cheapest picks the lowest price",
        "cheapest keeps to the home zone though an approved one is cheaper",
        "cheapest uses the approved zone when the home one is full",
        "binpack ignores origin",
        "domestic-first prefers Ascend over H800",
        "domestic-first falls back to H800",
    ],
)
def test_placement_strategy(
    strategy: str, pool: Pool, running: list[RunningJob], chosen: str
) -> None:
    job = a_job("j").accelerators(2).models(ASCEND, H800)
    if "ap1" in pool.approvals:
        job = job.approvals("ap1")
    result = decide(
        pool, pending=[job.build()], running=running, policy=f"priority-fairshare:{strategy}"
    )
    assert_outcomes(result, {"j": chosen})


# ------------------------------------------------------------------ gangs


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_a_gang_with_room_for_only_one_worker_stays_pending_and_nothing_is_placed(
    policy: str,
) -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="n")
        .nodes(1, ASCEND, prefix="n", state=NodeState.CORDONED)
        .build()
    )
    result = decide(pool, pending=[a_job("gang").gang(2, ASCEND, 8).build()], policy=policy)
    assert_outcomes(result, {"gang": "NO_CAPACITY"})
    assert result.admissions == () and result.preemptions == ()


def test_a_gang_waiting_behind_running_work_places_nothing() -> None:
    result = decide(
        two_nodes(), pending=[a_job("gang").gang(2, ASCEND, 8).build()], running=[busy("n-000")]
    )
    assert_outcomes(result, {"gang": "NO_CAPACITY"})
    assert result.admissions == ()


@pytest.mark.parametrize("strategy", list(PLACEMENT_STRATEGIES))
def test_a_gang_is_never_split_across_jurisdictions(strategy: str) -> None:
    pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="sz")
        .nodes(2, ASCEND, prefix="hk", city=City.HONG_KONG)
        .tenant(a_tenant("pcl"))
        .approval(an_approval("ap1").held_by("pcl"))
        .build()
    )
    job = a_job("gang").tenant("pcl").gang(2, ASCEND, 8).approvals("ap1").build()
    running = [busy("sz-000", tenant="pcl"), busy("hk-000", tenant="pcl")]
    result = decide(pool, pending=[job], running=running, policy=f"priority-fairshare:{strategy}")
    assert_outcomes(result, {"gang": "NO_CAPACITY"})


def test_a_gang_larger_than_any_one_jurisdiction_is_too_large_whatever_the_approvals() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz")
        .nodes(1, ASCEND, prefix="hk", city=City.HONG_KONG)
        .tenant(a_tenant("pcl"))
        .approval(an_approval("ap1").held_by("pcl"))
        .build()
    )
    job = a_job("gang").tenant("pcl").gang(2, ASCEND, 8).approvals("ap1").build()
    assert_outcomes(decide(pool, pending=[job]), {"gang": "GANG_TOO_LARGE"})


@pytest.mark.parametrize("strategy", list(PLACEMENT_STRATEGIES))
def test_a_gang_goes_whole_to_the_approved_zone_when_its_home_zone_is_short(
    strategy: str,
) -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz")
        .nodes(2, ASCEND, prefix="hk", city=City.HONG_KONG)
        .tenant(a_tenant("pcl"))
        .approval(an_approval("ap1").held_by("pcl").into(Jurisdiction.HONG_KONG))
        .build()
    )
    job = a_job("gang").tenant("pcl").gang(2, ASCEND, 8).approvals("ap1").build()
    result = decide(pool, pending=[job], policy=f"priority-fairshare:{strategy}")
    assert_outcomes(result, {"gang": "hk-000+hk-001"})
    placement = admission(result, "gang").placement
    assert (placement.zone, placement.approval) == (Jurisdiction.HONG_KONG, "ap1")


@pytest.mark.parametrize("strategy", list(PLACEMENT_STRATEGIES))
def test_a_gang_prefers_one_city(strategy: str) -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz", price=500)
        .nodes(2, ASCEND, prefix="gz", city=City.GUANGZHOU)
        .nodes(1, ASCEND, prefix="zh", city=City.ZHUHAI, price=500)
        .build()
    )
    result = decide(
        pool,
        pending=[a_job("gang").gang(2, ASCEND, 8).build()],
        policy=f"priority-fairshare:{strategy}",
    )
    assert_outcomes(result, {"gang": "gz-000+gz-001"})


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_gangs_are_admitted_whole_or_not_at_all(policy: str) -> None:
    pool = a_pool().nodes(3, ASCEND, prefix="n", size=8).build()
    jobs = [a_job(f"g{i}").gang(2, ASCEND, 8).build() for i in range(3)]
    result = decide(pool, pending=jobs, policy=policy)
    placed = list(result.admissions)
    assert len(placed) == 1
    assert len(placed[0].placement.workers) == 2
    assert {*result.pending} | {placed[0].job_id} == {"g0", "g1", "g2"}
