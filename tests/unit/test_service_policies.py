"""Table tests for the service-based queue policies: `las` (Tiresias's discretised 2D-LAS) and
`qssf` (Helios's Quasi-Shortest-Service-First). Each row gives a pool, running work, what jobs
have run before (`a_history()`), pending jobs in arrival order, every pending job's expected
outcome and the expected victims. `decide` also checks every invariant, the las ranking of each
preemption for service included."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from scheduler.cli.main import main
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import RunningJob
from scheduler.domain.pool import Pool
from scheduler.engine.cycle import run_cycle
from scheduler.engine.invariants import violations
from scheduler.engine.snapshot import Snapshot
from scheduler.policy.ordering import Las, Qssf
from scheduler.policy.placement import BinPack
from scheduler.policy.registry import Policy, describe_policies, resolve_policy
from scheduler.policy.service import ServiceHistory
from tests.builders import ASCEND, HistoryBuilder, JobBuilder, a_history, a_job, a_pool, a_tenant
from tests.decisions import assert_outcomes, decide, victims

HOUR = 3600
NOW = 100 * HOUR
THRESHOLD = Las.DEFAULT_THRESHOLDS[0]  # 8 accelerator-hours


def nodes(count: int, *tenants: str) -> Pool:
    pool = a_pool().nodes(count, ASCEND, prefix="n")
    for tenant in tenants or ("t1",):
        pool.tenant(a_tenant(tenant))
    return pool.build()


def ran(
    job_id: str,
    node: str,
    hours: float,
    *,
    count: int = 8,
    tenant: str = "t1",
    priority: str = "standard",
    preemptible: bool = True,
) -> RunningJob:
    """A job that has held `count` accelerators of `node` for `hours` by NOW."""
    job = a_job(job_id).tenant(tenant).accelerators(count).priority(priority).walltime(1000 * HOUR)
    if not preemptible:
        job = job.not_preemptible()
    return job.running_on((node, count), started_at=NOW - int(hours * HOUR))


@dataclass
class Row:
    name: str
    pool: Pool
    pending: list[JobBuilder]  # in arrival order
    expect: dict[str, str]
    running: list[RunningJob] = field(default_factory=list)
    history: HistoryBuilder = field(default_factory=a_history)
    victims: dict[str, str] = field(default_factory=dict)
    now: int = NOW

    def run(self, policy: str | Policy) -> None:
        jobs = [job.seq(1000 + i).build() for i, job in enumerate(self.pending)]
        service = self.history.build()
        if isinstance(policy, str):
            result = decide(
                self.pool,
                pending=jobs,
                running=self.running,
                policy=policy,
                now=self.now,
                service=service,
            )
        else:
            snapshot = Snapshot.build(
                self.pool, running=self.running, pending=jobs, service=service
            )
            result = run_cycle(snapshot, policy, self.now)
            assert violations(snapshot, result, policy) == []
        assert_outcomes(result, self.expect)
        assert victims(result) == self.victims


def rows(*table: Row) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("row", table, ids=[row.name for row in table])


def job8(job_id: str, tenant: str = "t1") -> JobBuilder:
    return a_job(job_id).tenant(tenant).accelerators(8).walltime(1000 * HOUR)


# ------------------------------------------------------------------ las: order


@rows(
    Row(
        "the job with less attained service goes first",
        nodes(1),
        [job8("long"), job8("new")],
        {"new": "n-000", "long": "NO_CAPACITY"},
        history=a_history().attained("long", THRESHOLD, ended_at=NOW),
    ),
    Row(
        "within a queue, arrival order",
        nodes(1),
        [job8("first"), job8("second")],
        {"first": "n-000", "second": "NO_CAPACITY"},
        history=a_history().attained("second", THRESHOLD - 1, ended_at=NOW),
    ),
    Row(
        "two demoted jobs: arrival order among them, whatever each attained",
        nodes(1),
        [job8("more"), job8("less")],
        {"more": "n-000", "less": "NO_CAPACITY"},
        history=a_history()
        .attained("more", 10 * THRESHOLD, ended_at=NOW)
        .attained("less", THRESHOLD, ended_at=NOW),
    ),
    Row(
        "priority classes come first",
        nodes(1),
        [job8("new"), job8("urgent").priority("high")],
        {"urgent": "n-000", "new": "NO_CAPACITY"},
        history=a_history().attained("urgent", 10 * THRESHOLD, ended_at=NOW),
    ),
    Row(
        "jobs that do not fit are skipped",
        nodes(2),
        [a_job("gang").gang(2, ASCEND, 8), a_job("small").accelerators(1)],
        {"gang": "NO_CAPACITY", "small": "n-000"},
        running=[ran("young", "n-000", 0.1, count=4)],
    ),
)
def test_las_order(row: Row) -> None:
    row.run("las:binpack")


# ------------------------------------------------------------------ las: preemption


@rows(
    Row(
        "a short new job preempts a long-running job in a lower queue",
        nodes(1),
        [job8("short")],
        {"short": "n-000"},
        running=[ran("long", "n-000", 4)],
        victims={"long": "ATTAINED_SERVICE"},
    ),
    Row(
        "a running job still in the top queue is not preempted",
        nodes(1),
        [job8("short")],
        {"short": "NO_CAPACITY"},
        running=[ran("young", "n-000", 0.5)],
    ),
    Row(
        "attained service counts earlier attempts",
        nodes(1),
        [job8("short")],
        {"short": "n-000"},
        running=[ran("resumed", "n-000", 0.5)],
        history=a_history().attained("resumed", THRESHOLD, ended_at=NOW - HOUR),
        victims={"resumed": "ATTAINED_SERVICE"},
    ),
    Row(
        "a demoted pending job does not preempt a job of its own queue",
        nodes(1),
        [job8("demoted")],
        {"demoted": "NO_CAPACITY"},
        running=[ran("long", "n-000", 4)],
        history=a_history().attained("demoted", THRESHOLD, ended_at=NOW),
    ),
    Row(
        "a non-preemptible job is never preempted",
        nodes(1),
        [job8("short")],
        {"short": "NO_CAPACITY"},
        running=[ran("long", "n-000", 40, preemptible=False)],
    ),
    Row(
        "a job of a higher priority class is never preempted for service",
        nodes(1),
        [job8("short")],
        {"short": "NO_CAPACITY"},
        running=[ran("long", "n-000", 40, priority="high")],
    ),
    Row(
        "the victim with the most attained service goes first",
        nodes(2),
        [job8("short")],
        {"short": "n-001"},
        running=[ran("long", "n-000", 4), ran("longer", "n-001", 8)],
        victims={"longer": "ATTAINED_SERVICE"},
    ),
    Row(
        "a lower-priority job is still preempted for priority first",
        nodes(2),
        [job8("short")],
        {"short": "n-000"},
        running=[ran("low", "n-000", 0.1, priority="low"), ran("long", "n-001", 40)],
        victims={"low": "PRIORITY"},
    ),
    Row(
        "a gang preempts whole nodes for all its workers at once",
        nodes(2),
        [a_job("gang").gang(2, ASCEND, 8)],
        {"gang": "n-000+n-001"},
        running=[ran("a", "n-000", 4), ran("b", "n-001", 4)],
        victims={"a": "ATTAINED_SERVICE", "b": "ATTAINED_SERVICE"},
    ),
    Row(
        "a gang that cannot get every worker preempts nothing",
        nodes(2),
        [a_job("gang").gang(2, ASCEND, 8)],
        {"gang": "NO_CAPACITY"},
        running=[ran("a", "n-000", 4), ran("pinned", "n-001", 4, preemptible=False)],
    ),
)
def test_las_preemption(row: Row) -> None:
    row.run("las:binpack")


CAPPED = (
    a_pool()
    .nodes(2, ASCEND, prefix="n")
    .tenant(a_tenant("capped").quota(ASCEND, 8, borrowing=0))
    .tenant(a_tenant("other"))
    .build()
)


@rows(
    Row(
        "a tenant at its quota does not preempt another tenant's long job",
        CAPPED,
        [job8("mine", "capped")],
        {"mine": "OVER_QUOTA"},
        running=[
            ran("own", "n-000", 0.5, tenant="capped"),
            ran("theirs", "n-001", 40, tenant="other"),
        ],
    ),
    Row(
        "a tenant at its quota may displace its own long job",
        CAPPED,
        [job8("mine", "capped")],
        {"mine": "n-000"},
        running=[
            ran("own", "n-000", 4, tenant="capped"),
            ran("theirs", "n-001", 40, tenant="other"),
        ],
        victims={"own": "ATTAINED_SERVICE"},
    ),
)
def test_las_keeps_quotas(row: Row) -> None:
    row.run("las:binpack")


# ------------------------------------------------------------------ las: starvation guard

STARVED = 10 * THRESHOLD  # an 8-accelerator job that ran 10 hours: 36,000 s


@rows(
    Row(
        "a job that waited twice as long as it ran competes in the top queue again",
        nodes(1),
        [job8("starved"), job8("new")],
        {"starved": "n-000", "new": "NO_CAPACITY"},
        history=a_history().attained("starved", STARVED, ended_at=NOW - 20 * HOUR),
    ),
    Row(
        "a job that waited less stays in its queue",
        nodes(1),
        [job8("starved"), job8("new")],
        {"new": "n-000", "starved": "NO_CAPACITY"},
        history=a_history().attained("starved", STARVED, ended_at=NOW - 20 * HOUR + 1),
    ),
    Row(
        "a promoted job may preempt a long-running one",
        nodes(1),
        [job8("starved")],
        {"starved": "n-000"},
        running=[ran("long", "n-000", 4)],
        history=a_history().attained("starved", STARVED, ended_at=NOW - 20 * HOUR),
        victims={"long": "ATTAINED_SERVICE"},
    ),
)
def test_las_starvation_guard(row: Row) -> None:
    row.run("las:binpack")


def test_the_starvation_guard_can_be_turned_off() -> None:
    Row(
        "no guard",
        nodes(1),
        [job8("starved"), job8("new")],
        {"new": "n-000", "starved": "NO_CAPACITY"},
        history=a_history().attained("starved", STARVED, ended_at=0),
    ).run(Policy(Las(starvation_factor=0), BinPack()))


def test_more_thresholds_make_more_queues_and_the_highest_queue_is_preempted_first() -> None:
    las = Las(thresholds=(HOUR, 10 * HOUR), starvation_factor=0)
    assert [las.queue_of(a) for a in (0, HOUR - 1, HOUR, 10 * HOUR - 1, 10 * HOUR)] == [
        0,
        0,
        1,
        1,
        2,
    ]
    Row(
        "three queues",
        nodes(2),
        [a_job("new").accelerators(8)],
        {"new": "n-000"},
        # 8 accelerators × 1.25 h = 10 accelerator-hours: queue 2; the other is queue 1
        running=[ran("top", "n-000", 1.25), ran("middle", "n-001", 1)],
        victims={"top": "ATTAINED_SERVICE"},
    ).run(Policy(las, BinPack()))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"thresholds": ()}, "las.thresholds"),
        ({"thresholds": (0,)}, "las.thresholds"),
        ({"thresholds": (10, 5)}, "las.thresholds"),
        ({"starvation_factor": -1}, "las.starvation_factor"),
    ],
)
def test_las_refuses_bad_knobs(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as raised:
        Las(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_a_preemption_for_service_says_why() -> None:
    result = decide(
        nodes(1),
        pending=[job8("short").build()],
        running=[ran("long", "n-000", 4)],
        policy="las",
        now=NOW,
    )
    (preemption,) = result.preemptions
    assert preemption.by_job == "short"
    assert "least attained service" in preemption.message
    assert f"{8 * 4 * HOUR} accelerator-seconds" in preemption.message


# ------------------------------------------------------------------ qssf

QSSF_POOL = nodes(1, "t1", "a", "b", "quick", "slow", "known", "new")


@rows(
    Row(
        "a tenant whose history says short goes before one whose history says long",
        nodes(1).__class__(**{**nodes(1).__dict__}) if False else QSSF_POOL,
        [job8("slow-job", "slow"), job8("quick-job", "quick")],
        {"quick-job": "n-000", "slow-job": "NO_CAPACITY"},
        history=a_history().finished("slow", 8, 10 * HOUR).finished("quick", 8, 600),
    ),
    Row(
        "no history: the default estimate, so arrival order among equal sizes",
        QSSF_POOL,
        [job8("first", "a"), job8("second", "b")],
        {"first": "n-000", "second": "NO_CAPACITY"},
    ),
    Row(
        "no history: fewer accelerators is less service",
        QSSF_POOL,
        [job8("big"), a_job("small").accelerators(2)],
        {"small": "n-000", "big": "NO_CAPACITY"},
        running=[ran("busy", "n-000", 0.1, count=4, preemptible=False)],
    ),
    Row(
        "the same size's history counts before the tenant's other jobs",
        QSSF_POOL,
        [job8("a-job", "a"), job8("b-job", "b")],
        {"b-job": "n-000", "a-job": "NO_CAPACITY"},
        # a's 8-accelerator jobs run 5 h, its 1-accelerator ones 1 min; b's jobs run 2 h
        history=a_history()
        .finished("a", 8, 5 * HOUR)
        .finished("a", 1, 60, 60, 60)
        .finished("b", 1, 2 * HOUR),
    ),
    Row(
        "a job is expected to run no longer than its walltime",
        QSSF_POOL,
        [job8("normal", "slow"), job8("capped", "slow").walltime(600)],
        {"capped": "n-000", "normal": "NO_CAPACITY"},
        history=a_history().finished("slow", 8, 10 * HOUR),
    ),
    Row(
        "priority classes come first",
        QSSF_POOL,
        [job8("quick-job", "quick"), job8("urgent", "slow").priority("high")],
        {"urgent": "n-000", "quick-job": "NO_CAPACITY"},
        history=a_history().finished("slow", 8, 10 * HOUR).finished("quick", 8, 600),
    ),
    Row(
        "it never preempts for service",
        QSSF_POOL,
        [job8("quick-job", "quick")],
        {"quick-job": "NO_CAPACITY"},
        running=[ran("long", "n-000", 40, tenant="slow")],
        history=a_history().finished("slow", 8, 10 * HOUR).finished("quick", 8, 600),
    ),
    Row(
        "nor for priority",
        QSSF_POOL,
        [job8("urgent").priority("high")],
        {"urgent": "NO_CAPACITY"},
        running=[ran("low", "n-000", 1, priority="low")],
    ),
)
def test_qssf(row: Row) -> None:
    row.run("qssf:binpack")


def test_qssf_default_estimate_is_a_knob() -> None:
    """With no history anywhere every job is expected to run the default (or its walltime, if
    shorter): a ten-minute walltime sets a job apart from the default hour, not from a minute."""
    pending = [job8("first", "a"), job8("capped", "b").walltime(600)]
    Row("the default hour", QSSF_POOL, pending, {"capped": "n-000", "first": "NO_CAPACITY"}).run(
        "qssf"
    )
    Row("a default minute", QSSF_POOL, pending, {"first": "n-000", "capped": "NO_CAPACITY"}).run(
        Policy(Qssf(default_runtime_s=60), BinPack())
    )
    with pytest.raises(InvalidField):
        Qssf(default_runtime_s=0)


# ------------------------------------------------------------------ the registry


@pytest.mark.parametrize(
    ("spec", "name", "queue"),
    [
        ("las", "las:binpack", Las),
        ("qssf:binpack", "qssf:binpack", Qssf),
        ("las:spread", "las:spread", Las),
    ],
)
def test_the_service_policies_resolve_by_name(spec: str, name: str, queue: type) -> None:
    policy = resolve_policy(spec)
    assert policy.name == name
    assert isinstance(policy.queue, queue)
    assert policy.reads_service


def test_the_other_policies_read_no_service() -> None:
    for spec in ("fifo", "priority-fairshare", "backfill"):
        policy = resolve_policy(spec)
        assert not policy.reads_service
        assert policy.queue.ranking(ServiceHistory(), 0) is None


def test_gbasched_policies_lists_them_with_one_line_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summaries = {name: summary for kind, name, summary in describe_policies() if kind == "queue"}
    for name in ("las", "qssf"):
        assert summaries[name] and "\n" not in summaries[name]
    assert main(["policies", "--json"]) == 0
    listed = {row["name"]: row["summary"] for row in json.loads(capsys.readouterr().out)}
    assert listed["las"] == summaries["las"] and listed["qssf"] == summaries["qssf"]
