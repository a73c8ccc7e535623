"""The capacity index against a plain model of the nodes, through random moves, holds, cordons and
copies: every copy stays consistent and independent of the others."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from scheduler.domain.geography import City
from scheduler.engine.index import CapacityIndex
from tests.builders import ASCEND, H800, a_pool
from tests.unit.test_index import assert_consistent

POOL = (
    a_pool()
    .nodes(3, ASCEND, prefix="a", size=8)
    .nodes(2, ASCEND, prefix="b", size=4, city=City.GUANGZHOU)
    .nodes(2, H800, prefix="h", size=8)
    .build()
)
NODES = len(POOL.nodes)


@dataclass
class Model:
    free: list[int]
    up: list[bool] = field(default_factory=lambda: [True] * NODES)
    held: set[int] = field(default_factory=set)

    def copy(self) -> Model:
        return Model(self.free.copy(), self.up.copy(), self.held.copy())


class IndexMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        index = CapacityIndex.build(POOL.nodes.values(), POOL.catalogue)
        self.pairs: list[tuple[CapacityIndex, Model]] = [(index, Model(list(index.size)))]

    @rule(which=st.integers(0, 7), node=st.integers(0, NODES - 1), count=st.integers(1, 8))
    def allocate(self, which: int, node: int, count: int) -> None:
        index, model = self.pairs[which % len(self.pairs)]
        if count <= model.free[node]:
            index.allocate(node, count)
            model.free[node] -= count

    @rule(which=st.integers(0, 7), node=st.integers(0, NODES - 1), count=st.integers(1, 8))
    def release(self, which: int, node: int, count: int) -> None:
        index, model = self.pairs[which % len(self.pairs)]
        if model.free[node] + count <= index.size[node]:
            index.release(node, count)
            model.free[node] += count

    @rule(which=st.integers(0, 7), node=st.integers(0, NODES - 1))
    def hold(self, which: int, node: int) -> None:
        index, model = self.pairs[which % len(self.pairs)]
        index.hold(node)
        if model.up[node]:
            model.held.add(node)

    @rule(which=st.integers(0, 7), node=st.integers(0, NODES - 1))
    def unhold(self, which: int, node: int) -> None:
        index, model = self.pairs[which % len(self.pairs)]
        index.unhold(node)
        model.held.discard(node)

    @rule(which=st.integers(0, 7), node=st.integers(0, NODES - 1), up=st.booleans())
    def set_schedulable(self, which: int, node: int, up: bool) -> None:
        index, model = self.pairs[which % len(self.pairs)]
        index.set_schedulable(node, up)
        model.up[node] = up
        model.held.discard(node)

    @precondition(lambda self: len(self.pairs) < 4)
    @rule(which=st.integers(0, 7))
    def copy(self, which: int) -> None:
        index, model = self.pairs[which % len(self.pairs)]
        self.pairs.append((index.copy(), model.copy()))

    @rule(which=st.integers(0, 7))
    def canonicalize(self, which: int) -> None:
        index, _ = self.pairs[which % len(self.pairs)]
        index.canonicalize(range(len(index.groups)))

    @invariant()
    def every_copy_matches_its_model(self) -> None:
        for index, model in self.pairs:
            assert_consistent(index)
            assert index.free == model.free
            assert index.held == model.held
            for node in range(NODES):
                in_bucket = node in index.buckets[index.node_group[node]][index.free[node]]
                assert in_bucket == (model.up[node] and node not in model.held)
                assert index.schedulable(node) == model.up[node]
            assert index.free_accelerators() == sum(
                f for n, f in enumerate(model.free) if model.up[n] and n not in model.held
            )


IndexMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, derandomize=True, database=None
)
test_capacity_index_against_a_model = IndexMachine.TestCase
