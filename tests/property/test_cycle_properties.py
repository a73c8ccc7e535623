"""Properties of one cycle and of several in a row, over small random worlds and every policy."""

from __future__ import annotations

import copy
from dataclasses import replace

from hypothesis import assume, given
from hypothesis import strategies as st

from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.engine.cycle import run_cycle
from scheduler.engine.decisions import CycleResult
from scheduler.engine.invariants import violations
from scheduler.engine.snapshot import Snapshot
from scheduler.engine.state import ClusterState
from scheduler.policy.ordering import Discipline
from scheduler.policy.registry import resolve_policy
from tests.builders import a_job
from tests.property.worlds import ALL_POLICIES, PROPERTY, World, worlds


def cycle(snapshot: Snapshot, world: World) -> CycleResult:
    return run_cycle(snapshot, resolve_policy(world.policy), world.now)


def fingerprint(snapshot: Snapshot) -> tuple[object, ...]:
    """Everything about a snapshot a cycle could change by mistake."""
    index = snapshot.index
    victims = snapshot.running_index
    return (
        list(index.free),
        [[sorted(bucket) for bucket in group] for group in index.buckets],
        list(index.mask),
        list(index.group_free),
        sorted(index.held),
        dict(snapshot.running),
        tuple(snapshot.pending),
        {tenant: tuple(queue) for tenant, queue in snapshot.queues.items()},
        dict(snapshot.used),
        dict(snapshot.usage),
        dict(snapshot.approvals),
        {
            slot: copy.deepcopy(getattr(victims, slot))
            for slot in victims.__slots__
            if slot != "pool"
        },
        None
        if snapshot.budgets is None
        else (
            dict(snapshot.budgets.funds.remaining),
            dict(snapshot.budgets.funds.drawn),
            dict(snapshot.budgets.balances),
        ),
        dict(snapshot.service.past),
        {key: list(w.runs) for key, w in snapshot.service.by_shape.items()},
        {key: list(w.runs) for key, w in snapshot.service.by_tenant.items()},
        list(snapshot.service.pool.runs),
    )


def all_up(pool: Pool) -> Pool:
    nodes = {nid: node.with_state(NodeState.UP) for nid, node in pool.nodes.items()}
    return replace(pool, nodes=nodes)


# ------------------------------------------------------------------ one cycle


@PROPERTY
@given(worlds())
def test_every_decision_is_lawful(world: World) -> None:
    """No node over capacity or new work on a node that is not up; gangs whole, of one accepted
    model and one zone; quotas and cohort pools respected; residency respected; preemption only
    of preemptible work, for priority or a lawful reclaim; every pending job one outcome."""
    snapshot = world.snapshot()
    assert violations(snapshot, cycle(snapshot, world), resolve_policy(world.policy)) == []


@PROPERTY
@given(worlds())
def test_a_cycle_leaves_its_snapshot_unchanged(world: World) -> None:
    snapshot = world.snapshot()
    before = fingerprint(snapshot)
    cycle(snapshot, world)
    assert fingerprint(snapshot) == before


@PROPERTY
@given(worlds(), st.data())
def test_jobs_alike_are_decided_as_if_each_went_through_every_step(
    world: World, data: st.DataObject
) -> None:
    """A backlog of look-alike jobs (copies of the pending ones, some with another walltime or
    no programs, each arriving just before or after some pending job, so that admissions land
    between them) gets the decisions it gets when each job is decided on its own."""
    pending = list(world.pending)
    for n in range(data.draw(st.integers(1, 24))):
        original = data.draw(st.sampled_from(world.pending))
        after = data.draw(st.sampled_from(world.pending))
        walltime = data.draw(st.sampled_from([original.walltime_s, 100, 5000, 90_000]))
        programs = data.draw(st.sampled_from([original.programs, ()]))
        copy = replace(
            original,
            id=f"{original.id}-copy{n}",
            seq=after.seq * 100 + n + 1,  # after `after`, before the next original
            walltime_s=walltime,
            programs=programs,
        )
        pending.append(copy)
    originals = [replace(job, seq=job.seq * 100) for job in world.pending]
    pending = sorted([*originals, *pending[len(world.pending) :]], key=lambda job: job.seq)
    world = replace(world, pending=pending)
    policy = resolve_policy(world.policy)
    alike = run_cycle(world.snapshot(), policy, world.now)
    each = run_cycle(world.snapshot(), policy, world.now, alike=False)
    assert alike == each


@PROPERTY
@given(worlds())
def test_the_same_input_gives_the_same_decisions(world: World) -> None:
    snapshot = world.snapshot()
    first = cycle(snapshot, world)
    assert cycle(snapshot, world) == first, "the same snapshot twice"
    assert cycle(world.snapshot(), world) == first, "a snapshot built again from the same input"


@PROPERTY
@given(worlds())
def test_infeasibility_does_not_depend_on_load(world: World) -> None:
    """A job rejected as infeasible is rejected, for the same reason, on the empty pool (money
    still checked if it was: a funded gang must fit one supplier, which is configuration, not
    load); a job that is not rejected is admitted when it is alone on the empty pool with every
    node up (and money not checked, so that no balance holds it back)."""
    result = cycle(world.snapshot(), world)
    empty = all_up(world.pool)
    for job in world.pending:
        alone = cycle(Snapshot.build(empty, pending=[job], usage=world.usage), world)
        if job.id in result.rejected:
            money = world.budgets.copy() if world.budgets is not None else None
            alone = cycle(
                Snapshot.build(empty, pending=[job], usage=world.usage, budgets=money), world
            )
            assert job.id in alone.rejected
            assert alone.rejected[job.id] == result.rejected[job.id]
        else:
            assert [a.job_id for a in alone.admissions] == [job.id], alone


# ------------------------------------------------------------------ several cycles


def state_of(world: World) -> ClusterState:
    state = ClusterState(all_up(world.pool), usage=world.usage)
    for running in world.running:
        state.start(running)
    for node in world.pool.nodes.values():
        if node.state is not NodeState.UP:
            state.set_node_state(node.id, node.state)
    for job in world.pending:
        state.submit(job)
    state.set_service(world.service.copy())
    return state


def assert_state_consistent(state: ClusterState) -> None:
    """The incremental index agrees with the running jobs: nothing over-committed."""
    used: dict[str, int] = {}
    for running in state.running.values():
        for node_id, count in running.placement.workers:
            used[node_id] = used.get(node_id, 0) + count
    for node in state.pool.nodes.values():
        n = state.index.nid[node.id]
        assert used.get(node.id, 0) <= node.accelerators, f"{node.id} over-committed"
        assert state.index.free[n] == node.accelerators - used.get(node.id, 0)
        assert state.index.schedulable(n) is state.node_state[node.id].schedulable


def from_scratch(state: ClusterState) -> Snapshot:
    pool = state.pool
    nodes = {nid: node.with_state(state.node_state[nid]) for nid, node in pool.nodes.items()}
    return Snapshot.build(
        replace(pool, nodes=nodes),
        running=state.running.values(),
        pending=state.pending.values(),
        usage=state.usage,
        approvals=state.approvals,
        service=state.service,
    )


@PROPERTY
@given(worlds(), st.data())
def test_consecutive_cycles_never_over_commit_and_match_a_snapshot_from_scratch(
    world: World, data: st.DataObject
) -> None:
    state = state_of(world)
    policy = resolve_policy(world.policy)
    now = world.now
    for _ in range(3):
        snapshot = state.snapshot()
        result = run_cycle(snapshot, policy, now)
        assert violations(snapshot, result, policy) == []
        assert run_cycle(from_scratch(state), policy, now) == result, "incremental != scratch"
        state.apply(result, now)
        assert_state_consistent(state)
        assert not set(state.running) & set(state.pending)
        # time passes: some jobs end, a node changes state
        now += 600
        running = sorted(state.running)
        for job_id in data.draw(st.lists(st.sampled_from(running), unique=True)) if running else ():
            state.finish(job_id)
        if data.draw(st.booleans()):
            node = data.draw(st.sampled_from(sorted(state.pool.nodes)))
            state.set_node_state(node, data.draw(st.sampled_from(list(NodeState))))
        assert_state_consistent(state)


BEST_EFFORT_POLICIES = [
    name
    for name in ALL_POLICIES
    if resolve_policy(name).queue.discipline is Discipline.BEST_EFFORT
    and not resolve_policy(name).reads_service
]
SERVICE_POLICIES = [name for name in ALL_POLICIES if resolve_policy(name).reads_service]


def quiet_then_arrivals(
    world: World, policy_name: str, data: st.DataObject
) -> tuple[CycleResult, CycleResult, set[str]]:
    """Cycle until a cycle changes nothing, let up to 8 jobs arrive, then run one cycle over
    every pending job and one over the arrivals alone."""
    state = state_of(world)
    if world.budgets is not None:
        state.set_budgets(world.budgets.copy())
    policy = resolve_policy(policy_name)
    now = world.now
    for _ in range(40):  # cycle until one changes nothing
        result = run_cycle(state.snapshot(), policy, now)
        state.apply(result, now)
        if not result.admissions and not result.preemptions:
            break
    assume(not result.admissions and not result.preemptions)
    nodes = sorted(state.pool.nodes.values(), key=lambda n: n.id)
    tenants = sorted(state.pool.tenants)
    new: set[str] = set()
    arrived = []
    for i in range(data.draw(st.integers(1, 8))):
        node = data.draw(st.sampled_from(nodes))
        job = (
            a_job(f"new{i}")
            .tenant(data.draw(st.sampled_from(tenants)))
            .gang(
                data.draw(st.sampled_from([1, 1, 2])), None, data.draw(st.sampled_from([1, 2, 8]))
            )
            .models(node.model)
            .priority(data.draw(st.sampled_from(["low", "standard", "high"])))
            .walltime(data.draw(st.sampled_from([100, 5000])))
            .origin(node.city.jurisdiction)
            .seq(10_000 + i)
            .build()
        )
        state.submit(job)
        new.add(job.id)
        arrived.append(job)

    everything = run_cycle(state.snapshot(), policy, now)
    arrivals = run_cycle(state.snapshot(only=arrived), policy, now)
    return everything, arrivals, new


def assert_same_for_arrivals(everything: CycleResult, arrivals: CycleResult, new: set[str]) -> None:
    assert arrivals.admissions == everything.admissions
    assert arrivals.preemptions == everything.preemptions
    assert arrivals.rejected == {k: v for k, v in everything.rejected.items() if k in new}
    assert arrivals.pending == {k: v for k, v in everything.pending.items() if k in new}


@PROPERTY
@given(worlds(), st.sampled_from(BEST_EFFORT_POLICIES + SERVICE_POLICIES), st.data())
def test_after_a_quiet_cycle_a_cycle_over_the_new_jobs_decides_as_one_over_all(
    world: World, policy_name: str, data: st.DataObject
) -> None:
    """What the coordinator relies on to cycle over new arrivals alone: once a cycle admitted
    and preempted nothing, jobs that arrive next are decided the same (admitted, rejected or
    waiting, with the same reasons) by a cycle over them alone as by one over every pending
    job, as long as they preempt nothing. A preemption can free capacity or quota that a job
    which waited before then fits into (a cycle over every job admits it at once, the
    coordinator one cycle later: after a cycle that preempted it looks at every job again)."""
    everything, arrivals, new = quiet_then_arrivals(world, policy_name, data)
    assume(not everything.preemptions)
    assert_same_for_arrivals(everything, arrivals, new)
