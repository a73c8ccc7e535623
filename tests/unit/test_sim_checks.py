"""The replay's invariants, checked from outside the engine: a broken world is caught."""

from __future__ import annotations

from scheduler.domain.jobs import Gang
from scheduler.domain.pool import Pool
from scheduler.sim.checks import Holding, NodeUse, world_violations
from scheduler.sim.world import gang_for
from tests.builders import ASCEND, a_pool

NODE_A = "sz-gov-huawei-ascend-910b-000"
NODE_B = "sz-gov-huawei-ascend-910b-001"


def two_nodes() -> Pool:
    return a_pool().nodes(2, ASCEND, owner="sz-gov").build()


def test_a_lawful_world_has_no_violations() -> None:
    world = [
        Holding("j1", Gang(2, 4), ((NODE_A, 4), (NODE_B, 4))),
        Holding("j2", Gang(1, 4), ((NODE_A, 4),)),
    ]
    assert world_violations(two_nodes(), world) == []


def test_a_node_holding_more_than_its_accelerators_is_caught() -> None:
    world = [Holding("j1", Gang(1, 8), ((NODE_A, 8),)), Holding("j2", Gang(1, 4), ((NODE_A, 4),))]
    assert world_violations(two_nodes(), world) == [f"node {NODE_A} over capacity: 12 > 8 (job j2)"]


def test_a_split_or_resized_gang_is_caught() -> None:
    split = Holding("j1", Gang(1, 8), ((NODE_A, 4), (NODE_B, 4)))
    resized = Holding("j2", Gang(2, 4), ((NODE_A, 4),))
    problems = world_violations(two_nodes(), [split, resized])
    assert len(problems) == 2
    assert all("split or resized" in p for p in problems)


def test_a_job_admitted_twice_or_on_an_unknown_node_is_caught() -> None:
    use = NodeUse(two_nodes())
    assert use.take(Holding("j1", Gang(1, 1), ((NODE_A, 1),))) == []
    assert use.take(Holding("j1", Gang(1, 1), ((NODE_B, 1),))) == [
        "job j1 admitted while it still holds accelerators"
    ]
    assert use.take(Holding("j2", Gang(1, 1), (("elsewhere", 1),))) == [
        "job j2 placed on elsewhere, which is not in the pool"
    ]


def test_released_accelerators_can_be_taken_again() -> None:
    use = NodeUse(two_nodes())
    assert use.take(Holding("j1", Gang(1, 8), ((NODE_A, 8),))) == []
    use.give("j1")
    assert use.take(Holding("j2", Gang(1, 8), ((NODE_A, 8),))) == []


def test_trace_jobs_become_gangs_of_whole_nodes_beyond_eight() -> None:
    assert gang_for(1) == Gang(1, 1)
    assert gang_for(8) == Gang(1, 8)
    assert gang_for(9) == Gang(2, 8)
    assert gang_for(12) == Gang(2, 8)  # rounded up: 16 accelerators
    assert gang_for(160) == Gang(20, 8)
