"""ClusterState keeps the cycle's input up to date incrementally; its snapshot must decide exactly
as a snapshot built from scratch from the same jobs would."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.jobs import Job
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.engine.cycle import run_cycle
from scheduler.engine.decisions import CycleResult
from scheduler.engine.invariants import violations
from scheduler.engine.snapshot import Snapshot, count_shapes, tenant_queues
from scheduler.engine.state import ClusterState
from scheduler.policy.fairshare import accrue
from scheduler.policy.registry import Policy, resolve_policy
from tests.builders import ASCEND, H800, a_job, a_pool, a_tenant

POOL = (
    a_pool()
    .nodes(4, ASCEND, prefix="a")
    .nodes(2, H800, prefix="h")
    .tenant(a_tenant("pcl").cohort("c").quota(ASCEND, 16, borrowing=16).quota(H800, 8))
    .tenant(a_tenant("sme").cohort("c").quota(ASCEND, 16))
    .tenant(a_tenant("lab"))
    .build()
)


def from_scratch(state: ClusterState) -> Snapshot:
    nodes = {nid: node.with_state(state.node_state[nid]) for nid, node in state.pool.nodes.items()}
    return Snapshot.build(
        replace(state.pool, nodes=nodes),
        running=state.running.values(),
        pending=state.pending.values(),
        usage=state.usage,
    )


def cycle_both_ways(state: ClusterState, policy: Policy, now: int) -> CycleResult:
    """Run the cycle on the incremental snapshot and on one built from scratch; they must agree."""
    incremental = state.snapshot()
    scratch = from_scratch(state)
    assert dict(incremental.used) == dict(scratch.used)
    assert list(incremental.index.free) == list(scratch.index.free)
    assert list(incremental.index.mask) == list(scratch.index.mask)
    assert {t: tuple(q) for t, q in incremental.queues.items()} == {
        t: tuple(q) for t, q in scratch.queues.items()
    }
    result = run_cycle(incremental, policy, now)
    assert violations(incremental, result) == []
    assert run_cycle(scratch, policy, now) == result
    return result


def jobs(*specs: tuple[str, str, int, int, str]) -> list[Job]:
    """(id, tenant, workers, per_worker, priority) in arrival order."""
    return [
        a_job(job_id)
        .tenant(tenant)
        .gang(workers, ASCEND, per)
        .models(ASCEND, H800)
        # submitted in order; seq breaks ties
        .priority(priority)
        .seq(100 + i)
        .build()
        for i, (job_id, tenant, workers, per, priority) in enumerate(specs)
    ]


@pytest.mark.parametrize(
    "policy", ["priority-fairshare:binpack", "backfill:spread", "fifo:cheapest"]
)
def test_incremental_state_decides_as_a_snapshot_from_scratch(policy: str) -> None:
    resolved = resolve_policy(policy)
    state = ClusterState(POOL, usage={"lab": 10**9})
    for job in jobs(
        ("p1", "pcl", 2, 8, "low"),
        ("s1", "sme", 1, 4, "standard"),
        ("l1", "lab", 1, 8, "low"),
        ("p2", "pcl", 1, 2, "standard"),
        ("s2", "sme", 3, 8, "standard"),
    ):
        state.submit(job)
    now = 0
    result = cycle_both_ways(state, resolved, now)
    state.apply(result, now)
    assert set(state.running) == {a.job_id for a in result.admissions}

    # time passes: a job ends, a node is cordoned, another goes down, new work arrives
    now = 600
    state.finish(next(iter(sorted(state.running))))
    state.set_node_state("a-001", NodeState.CORDONED)
    state.set_node_state("h-001", NodeState.DOWN)
    for job in jobs(
        ("urgent", "sme", 1, 8, "high"),
        ("l2", "lab", 2, 4, "high"),
        ("p3", "pcl", 1, 1, "low"),
    ):
        state.submit(replace(job, seq=job.seq + 100))
    state.cancel("p3")
    result = cycle_both_ways(state, resolved, now)
    state.apply(result, now)

    # victims were requeued; a node comes back
    now = 1200
    state.set_node_state("a-001", NodeState.UP)
    state.set_usage({"pcl": 10**9})
    result = cycle_both_ways(state, resolved, now)
    state.apply(result, now)
    cycle_both_ways(state, resolved, now + 600)


def test_preempted_jobs_go_back_to_pending_and_their_capacity_is_released() -> None:
    pool = a_pool().nodes(1, ASCEND, prefix="n").build()
    state = ClusterState(pool)
    state.submit(a_job("low").accelerators(8).priority("low").seq(1).build())
    state.apply(run_cycle(state.snapshot(), resolve_policy("priority-fairshare"), 0), 0)
    state.submit(a_job("high").accelerators(8).priority("high").seq(2).build())
    result = cycle_both_ways(state, resolve_policy("priority-fairshare"), 10)
    assert [p.job_id for p in result.preemptions] == ["low"]
    state.apply(result, 10)
    assert set(state.running) == {"high"} and set(state.pending) == {"low"}
    assert state.index.free[state.index.nid["n-000"]] == 0
    assert dict(state.snapshot().used) == {("t1", ASCEND): 8}


def test_state_refuses_unknown_and_duplicate_references() -> None:
    state = ClusterState(POOL)
    job = a_job("j").tenant("lab").build()
    state.submit(job)
    with pytest.raises(InvalidField):
        state.submit(job)
    with pytest.raises(UnknownReference):
        state.finish("not-running")
    with pytest.raises(UnknownReference):
        state.set_node_state("no-such-node", NodeState.DOWN)


def many_nodes() -> Pool:
    return a_pool().nodes(40, ASCEND, prefix="n").nodes(40, H800, prefix="h").build()


@pytest.mark.parametrize("policy", ["priority-fairshare:binpack", "priority-fairshare:spread"])
def test_incremental_equals_scratch_with_many_interchangeable_nodes(policy: str) -> None:
    """Which of many identical nodes a job lands on must not depend on the order in which the
    incremental index saw them fill and empty."""
    resolved = resolve_policy(policy)
    state = ClusterState(many_nodes())
    seq = 0
    for round_ in range(4):
        for i in range(30):
            seq += 1
            per = (1, 2, 4, 8)[(i + round_) % 4]
            state.submit(
                a_job(f"j{round_}-{i}")
                .gang(1 + i % 2, None, per)
                .models(ASCEND, H800)
                .seq(seq)
                .build()
            )
        now = 600 * round_
        result = cycle_both_ways(state, resolved, now)
        state.apply(result, now)
        for job_id in sorted(state.running)[:: 2 + round_]:
            state.finish(job_id)


def test_fair_share_usage_accrues_exactly_as_from_the_running_jobs() -> None:
    """The state keeps each tenant's running TFLOPS as jobs start and end; usage accrued from
    them equals `accrue` over the running jobs, figures and the order tenants join in."""
    policy = resolve_policy("priority-fairshare")
    half_life = 3 * 3600
    state = ClusterState(POOL, usage={"lab": 10**9})
    shadow: dict[str, int] = dict(state.usage)
    state.accrue_usage(0, half_life)
    for step, specs in enumerate(
        [
            [("p1", "pcl", 1, 8, "low"), ("s1", "sme", 1, 4, "standard")],
            [("l1", "lab", 2, 8, "low"), ("s2", "sme", 1, 2, "standard")],
            [],
            [("p2", "pcl", 1, 1, "high")],
            [],
        ]
    ):
        now = (step + 1) * 700
        running = list(state.running.values())
        shadow = accrue(shadow, running, state.facts.tflops_by_model, 700, half_life)
        state.accrue_usage(now, half_life)
        assert state.usage == shadow and list(state.usage) == list(shadow)
        if step == 2:
            state.finish(sorted(state.running)[0], now)
        for job in jobs(*specs):
            state.submit(replace(job, seq=job.seq + 10 * step))
        state.apply(run_cycle(state.snapshot(), policy, now), now)
    assert set(state.usage) == {"lab", "pcl", "sme"}


def test_tenant_queues_unread_by_some_cycles_are_still_right_when_read() -> None:
    """Queues are worked out when first read: snapshots nobody read in between (fifo's cycles)
    leave the next one right, and a snapshot read late still shows its own moment."""
    fifo = resolve_policy("fifo")
    state = ClusterState(POOL)
    for job in jobs(("p1", "pcl", 1, 8, "low"), ("s1", "sme", 1, 8, "standard")):
        state.submit(job)
    first = state.snapshot()
    state.apply(run_cycle(first, fifo, 0), 0)
    moments = [first]
    for step in range(3):
        for job in jobs(
            (f"l{step}", "lab", 2, 8, "high"),
            (f"p{step}x", "pcl", 1, 4, "standard"),
            (f"s{step}x", "sme", 4, 8, "low"),
        ):
            state.submit(replace(job, seq=job.seq + 100 * (step + 1)))
        if step == 1:
            state.submit_requeued(state.finish(sorted(state.running)[0], 10).job)
        snapshot = state.snapshot()
        moments.append(snapshot)
        state.apply(run_cycle(snapshot, fifo, 10 * step), 10 * step)
        if step == 1:  # read one in the middle: the next builds on it
            assert dict(snapshot.queues) == tenant_queues(snapshot.pending)
    last = state.snapshot()
    assert dict(last.queues) == tenant_queues(last.pending)
    for moment in moments:
        assert dict(moment.queues) == tenant_queues(moment.pending)


def test_a_snapshot_of_some_jobs_holds_them_as_a_full_snapshot_would() -> None:
    """`snapshot(only=jobs)` costs what `jobs` costs, yet holds what filtering a full snapshot
    would: those still pending in seq order, each tenant's in queue order, their shapes; and
    full snapshots taken after it are still right (it leaves tenants' queues unworked)."""
    fifo = resolve_policy("fifo")
    state = ClusterState(POOL)
    arrived: list[Job] = []
    for step in range(4):
        batch = [
            replace(job, seq=job.seq + 100 * step)
            for job in jobs(
                (f"l{step}", "lab", 1, 8, "low"),
                (f"p{step}", "pcl", 1, 4, "high"),
                (f"s{step}", "sme", 4, 8, "standard"),
                (f"p{step}b", "pcl", 1, 2, "low"),
                (f"l{step}b", "lab", 1, 1, "high"),
            )
        ]
        state.submit_many(reversed(batch[2:]))  # out of seq order: a requeue does that
        state.submit_many(batch[:2])
        arrived += batch
        if step == 1:
            state.cancel(f"p{step}")  # offered below, no longer pending
        if step == 2:
            state.apply(run_cycle(state.snapshot(), fifo, step), step)
        some = arrived[-7:]
        snapshot = state.snapshot(only=reversed(some))
        wanted = {job.id for job in some}
        full = state.snapshot()
        expected = tuple(job for job in full.pending if job.id in wanted)
        assert snapshot.pending == expected
        assert list(snapshot.pending) == sorted(snapshot.pending, key=lambda job: job.seq)
        assert dict(snapshot.queues) == tenant_queues(expected)
        assert snapshot.shapes == count_shapes(expected)
        assert dict(full.queues) == tenant_queues(full.pending)
        if step % 2:  # read or not, the next full snapshot builds on it
            assert dict(state.snapshot(only=()).queues) == {}
        copies = state.snapshot(only=[replace(job, walltime_s=1) for job in some]).pending
        assert all(job is state.pending[job.id] for job in copies)  # the jobs as held
    assert dict(state.snapshot().queues) == tenant_queues(state.pending.values())
