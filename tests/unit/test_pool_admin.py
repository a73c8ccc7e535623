"""Operators change the running pool: nodes registered, redescribed and removed, tenants and
their quotas, approvals and subsidy programs put. Each change is audited, survives a restart,
is seen by the next cycle, and a refused one changes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Currency, Jurisdiction
from scheduler.domain.jobs import JobState
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState
from scheduler.ledger.book import Ledger
from scheduler.ledger.reports import program_report
from scheduler.service.errors import ChangeRefused
from scheduler.store.errors import UnknownNode
from tests.builders import ASCEND, a_program, a_tenant, an_approval
from tests.service_builders import World, a_world, money, small_pool

QUEUED, ADMITTED = JobState.QUEUED, JobState.ADMITTED
OPS = "ops@pool"


def a_node_like(world: World, node_id: str, **changes: Any) -> Node:
    """A copy of the world's first node under another id, with `changes`."""
    first = next(iter(world.coordinator.pool.nodes.values()))
    return replace(first, id=node_id, **changes)


def audit_of(world: World, action: str) -> list[tuple[str, str]]:
    return [(r.actor, r.subject) for r in world.store.audit(action=action) if r.actor == OPS]


# ---------------------------------------------------------------------- nodes


def test_a_registered_node_takes_the_work_that_was_waiting_for_room() -> None:
    world = a_world(small_pool(nodes=1))
    first = world.submit()
    waiting = world.submit()
    world.run()
    assert (world.state(first), world.state(waiting)) == (ADMITTED, QUEUED)

    node, created = world.coordinator.register_node(a_node_like(world, "sz-new-001"), OPS)
    world.run()

    assert created and node.state is NodeState.UP
    assert world.state(waiting) is ADMITTED
    assert world.nodes_of(waiting) == ["sz-new-001"]
    assert audit_of(world, "node.put") == [(OPS, "sz-new-001")]
    world.restart()
    assert "sz-new-001" in world.coordinator.pool.nodes
    assert "sz-new-001" in {n.id for n in world.store.nodes()}


def test_a_new_node_may_be_registered_cordoned_and_takes_no_work_until_it_is_up() -> None:
    world = a_world(small_pool(nodes=1))
    world.submit()
    waiting = world.submit()
    world.coordinator.register_node(a_node_like(world, "spare"), OPS, NodeState.CORDONED)
    world.run()

    assert world.state(waiting) is QUEUED
    assert [n.state for n in world.store.nodes() if n.id == "spare"] == [NodeState.CORDONED]
    world.coordinator.set_node_state("spare", NodeState.UP, OPS)
    world.run()
    assert world.state(waiting) is ADMITTED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"owner": "nobody"}, "node.owner"),
        ({"model": "no-such-chip"}, "node.model"),
        ({"price": Money(Currency.HKD, 1000)}, "node.price"),
    ],
)
def test_a_node_that_does_not_fit_the_pool_is_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    world = a_world()
    audits = len(world.store.audit())

    with pytest.raises(InvalidField) as refused:
        world.coordinator.register_node(a_node_like(world, "bad", **changes), OPS)

    assert refused.value.field == field
    assert "bad" not in world.coordinator.pool.nodes
    assert "bad" not in {n.id for n in world.store.nodes()}
    assert len(world.store.audit()) == audits


def test_a_busy_node_may_change_only_its_labels() -> None:
    world = a_world(small_pool(nodes=1))
    job = world.submit()
    world.run()
    [node_id] = world.nodes_of(job)
    node = world.coordinator.pool.nodes[node_id]

    with pytest.raises(ChangeRefused, match="drain"):
        world.coordinator.register_node(replace(node, accelerators=4), OPS)
    with pytest.raises(ChangeRefused):
        world.coordinator.register_node(replace(node, price=Money(Currency.CNY, 1)), OPS)
    relabelled, created = world.coordinator.register_node(
        replace(node, labels=(("rack", "r7"),)), OPS
    )

    assert not created and relabelled.labels == (("rack", "r7"),)
    assert world.coordinator.pool.nodes[node_id].accelerators == node.accelerators
    assert audit_of(world, "node.put") == [(OPS, node_id)]
    world.run(10)
    assert world.state(job) is JobState.RUNNING  # its work kept running


def test_registering_a_known_node_unchanged_writes_nothing() -> None:
    world = a_world()
    node = next(iter(world.coordinator.pool.nodes.values()))
    audits = len(world.store.audit())

    assert world.coordinator.register_node(node, OPS) == (node, False)
    assert len(world.store.audit()) == audits


def test_a_node_is_removed_only_once_its_work_is_over_and_stays_removed() -> None:
    world = a_world(small_pool(nodes=2))
    job = world.submit(walltime_s=600)
    world.run()
    [busy] = world.nodes_of(job)

    with pytest.raises(ChangeRefused, match="still holds work"):
        world.coordinator.remove_node(busy, OPS)
    world.run(300)  # the fake executor runs a job half its walltime: it finished
    removed = world.coordinator.remove_node(busy, OPS)

    assert removed.id == busy
    assert busy not in world.coordinator.pool.nodes
    assert audit_of(world, "node.remove") == [(OPS, busy)]
    world.restart()  # the store, not the configuration, says which nodes there are
    assert busy not in world.coordinator.pool.nodes
    assert len(world.coordinator.pool.nodes) == 1


def test_a_gang_that_no_longer_fits_the_pool_once_a_node_is_gone_is_rejected_saying_why() -> None:
    world = a_world(small_pool(nodes=2))
    fits = world.submit()
    gang = world.submit(workers=2)  # two nodes' worth, taken while there are two
    node = sorted(world.coordinator.pool.nodes)[0]
    world.coordinator.remove_node(node, OPS)
    world.run()

    assert world.state(fits) is ADMITTED
    record = world.record(gang)
    assert record.state is JobState.REJECTED
    assert record.reason is not None and "can host is 1" in record.reason


def test_the_last_node_and_unknown_nodes_cannot_be_removed() -> None:
    world = a_world(small_pool(nodes=1))
    [node] = world.coordinator.pool.nodes

    with pytest.raises(ChangeRefused, match="last node"):
        world.coordinator.remove_node(node, OPS)
    with pytest.raises(UnknownNode):
        world.coordinator.remove_node("ghost", OPS)
    assert [n.id for n in world.store.nodes()] == [node]


# ---------------------------------------------------------------------- tenants


def test_a_new_tenant_can_submit_at_once() -> None:
    world = a_world()
    tenant, created = world.coordinator.put_tenant(a_tenant("newcomer").build(), OPS)
    job = world.submit("newcomer")
    world.run()

    assert created and tenant.id == "newcomer"
    assert world.state(job) is ADMITTED
    assert audit_of(world, "tenant.put") == [(OPS, "newcomer")]
    world.restart()
    assert "newcomer" in world.coordinator.pool.tenants


def test_a_raised_quota_lets_waiting_work_in() -> None:
    pool = small_pool(nodes=2)
    limited = a_tenant("t1").quota(ASCEND, 8).build()
    world = a_world(replace(pool, tenants={**pool.tenants, "t1": limited}))
    world.submit()
    second = world.submit()
    world.run()
    assert world.state(second) is QUEUED

    world.coordinator.put_tenant(a_tenant("t1").quota(ASCEND, 16).build(), OPS)
    world.run()

    assert world.state(second) is ADMITTED
    assert next(t.quotas for t in world.store.tenants() if t.id == "t1") == (
        a_tenant("t1").quota(ASCEND, 16).build().quotas
    )


def test_a_tenant_naming_what_the_pool_lacks_is_refused_naming_the_field() -> None:
    world = a_world()
    audits = len(world.store.audit())

    with pytest.raises(InvalidField) as refused:
        world.coordinator.put_tenant(a_tenant("x").priorities("platinum").build(), OPS)
    with pytest.raises(InvalidField) as no_model:
        world.coordinator.put_tenant(a_tenant("x").quota("no-such-chip", 8).build(), OPS)

    assert refused.value.field == "tenant.priority_classes"
    assert no_model.value.field == "tenant.quotas.flavors[0]"
    assert "x" not in world.coordinator.pool.tenants
    assert len(world.store.audit()) == audits


# ---------------------------------------------------------------------- approvals


def test_an_approval_is_put_and_one_for_an_unknown_tenant_refused() -> None:
    world = a_world()
    approval = (
        an_approval("hk-out")
        .held_by("t1")
        .out_of(Jurisdiction.HONG_KONG)
        .into(Jurisdiction.MAINLAND)
        .build()
    )

    assert world.coordinator.put_approval(approval, OPS) == (approval, True)
    assert world.coordinator.put_approval(approval, OPS) == (approval, False)
    assert world.coordinator.state.approvals["hk-out"] == approval
    with pytest.raises(InvalidField) as refused:
        world.coordinator.put_approval(replace(approval, id="x", tenant="ghost"), OPS)
    assert refused.value.field == "approval.tenant"
    assert audit_of(world, "approval.put") == [(OPS, "hk-out")]


# ---------------------------------------------------------------------- programs


def budget_of(world: World, program_id: str) -> tuple[int, int, int, int]:
    program = world.coordinator.programs[program_id]
    [report] = program_report(world.coordinator.ledger, [program])
    return report.budget, report.reserved, report.paid, report.remaining


def stored_ledger(world: World) -> Ledger:
    return Ledger.replay(world.store.postings())


def test_a_new_program_is_funded_and_pays_for_the_next_jobs() -> None:
    world = a_world(programs=money())
    program = a_program("gz-voucher").rate(3000).budget(500_000).build()

    assert world.coordinator.put_program(program, OPS) == (program, True)
    job = world.submit(programs=("gz-voucher",))
    world.run()
    world.run(1800)  # half its walltime: finished and settled

    assert world.state(job) is JobState.SUCCEEDED
    budget, reserved, paid, remaining = budget_of(world, "gz-voucher")
    assert (budget, reserved) == (500_000, 0)
    assert paid > 0 and remaining == budget - paid
    assert stored_ledger(world).balances() == world.coordinator.ledger.balances()
    assert world.coordinator.ledger.check() == []


def test_a_budget_may_grow_and_shrink_but_not_below_what_is_spent() -> None:
    world = a_world(programs=money(budget=100_000))
    job = world.submit(walltime_s=3600)
    world.run()
    assert world.state(job) is ADMITTED
    _, reserved, _, _ = budget_of(world, "sz-voucher")
    assert reserved > 0
    program = world.coordinator.programs["sz-voucher"]

    world.coordinator.put_program(replace(program, budget=150_000), OPS)
    assert budget_of(world, "sz-voucher")[0] == 150_000
    with pytest.raises(InvalidField) as refused:
        world.coordinator.put_program(replace(program, budget=reserved - 1), OPS)
    assert refused.value.field == "program.budget"
    assert world.coordinator.programs["sz-voucher"].budget == 150_000
    world.coordinator.put_program(replace(program, budget=reserved), OPS)

    assert budget_of(world, "sz-voucher")[0] == reserved
    assert budget_of(world, "sz-voucher")[3] == 0
    assert world.coordinator.ledger.check() == []
    assert stored_ledger(world).balances() == world.coordinator.ledger.balances()
    assert len(audit_of(world, "program.put")) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": Currency.HKD}, "program.currency"),
        ({"sponsor": "someone-else"}, "program.sponsor"),
        ({"eligible_tenants": frozenset({"ghost"})}, "program.eligible_tenants"),
        ({"eligible_nodes": frozenset({"ghost"})}, "program.eligible_nodes"),
    ],
)
def test_a_program_change_that_cannot_be_booked_is_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    world = a_world(programs=money())
    program = world.coordinator.programs["sz-voucher"]
    postings = len(world.coordinator.ledger)

    with pytest.raises(InvalidField) as refused:
        world.coordinator.put_program(replace(program, **changes), OPS)

    assert refused.value.field == field
    assert world.coordinator.programs["sz-voucher"] == program
    assert len(world.coordinator.ledger) == postings
    assert audit_of(world, "program.put") == []


def test_a_program_stored_by_a_coordinator_that_died_before_funding_it_is_funded_on_restart() -> (
    None
):
    world = a_world(programs=money())
    program = a_program("late").rate(2000).budget(70_000).build()
    # What the dying coordinator managed: the program's row, not its funding.
    world.store.put_programs([program], world.clock.now(), OPS)

    world.restart()

    assert budget_of(world, "late") == (70_000, 0, 0, 70_000)
    assert stored_ledger(world).balances() == world.coordinator.ledger.balances()


def test_a_pool_change_keeps_running_and_queued_work_as_it_was() -> None:
    world = a_world(small_pool(nodes=1))
    running = world.submit()
    queued = [world.submit(models=(ASCEND,)) for _ in range(3)]
    world.run()
    before = world.coordinator.state.snapshot()

    world.coordinator.put_tenant(a_tenant("bystander").build(), OPS)

    after = world.coordinator.state.snapshot()
    assert set(after.running) == set(before.running) == {running}
    assert list(world.coordinator.state.pending) == queued
    assert after.index.free_accelerators() == before.index.free_accelerators()


def test_a_draining_node_goes_down_once_its_work_has_ended() -> None:
    world = a_world(small_pool(nodes=2))
    job = world.submit(walltime_s=600)
    world.run()
    [busy] = world.nodes_of(job)
    idle = next(n for n in world.coordinator.pool.nodes if n != busy)

    world.coordinator.set_node_state(busy, NodeState.DRAINING, OPS)
    world.coordinator.set_node_state(idle, NodeState.DRAINING, OPS)
    world.run(10)

    assert world.coordinator.pool.nodes[idle].state is NodeState.DOWN  # nothing to wait for
    assert world.coordinator.pool.nodes[busy].state is NodeState.DRAINING
    assert world.state(job) is JobState.RUNNING
    world.run(300)  # the job ends (the fake executor runs half the walltime)
    world.run()

    assert world.state(job) is JobState.SUCCEEDED
    assert world.coordinator.pool.nodes[busy].state is NodeState.DOWN
    downs = [r for r in world.store.audit(action="node.state") if r.actor == "scheduler"]
    assert {(r.subject, r.details["to"]) for r in downs} == {(busy, "down"), (idle, "down")}


# ---------------------------------------------------------------------- submissions after changes


def test_a_program_closed_to_a_tenant_refuses_the_next_job_of_a_shape_it_took_before() -> None:
    # Submissions of one shape are resolved once; a program change must not be missed.
    world = a_world(programs=money())
    program = a_program("gz-voucher").rate(3000).budget(500_000).build()
    world.coordinator.put_program(program, OPS)
    world.submit(programs=("gz-voucher",))

    world.coordinator.put_program(replace(program, eligible_tenants=frozenset({"t2"})), OPS)

    with pytest.raises(InvalidField) as refused:
        world.submit(programs=("gz-voucher",))
    assert refused.value.field == "requests[0].programs[0]"


def test_a_priority_class_taken_from_a_tenant_refuses_its_next_submission_of_a_shape() -> None:
    world = a_world()
    world.submit(priority="standard")

    world.coordinator.put_tenant(a_tenant("t1").priorities("low").build(), OPS)

    with pytest.raises(InvalidField) as refused:
        world.submit(priority="standard")
    assert refused.value.field == "requests[0].priority_class"
