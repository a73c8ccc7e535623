"""Finding room on the capacity index: single workers (best / worst fit) and whole gangs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.domain.geography import City
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.engine.index import CapacityIndex, Group
from scheduler.engine.placement import Candidates, find_gang, find_single
from tests.builders import ASCEND, H800, a_pool

BEST, WORST = True, False


def index_of(pool: Pool, used: dict[str, int] | None = None) -> CapacityIndex:
    return CapacityIndex.build(pool.nodes.values(), pool.catalogue, used)


def candidates(
    index: CapacityIndex,
    tier: Callable[[Group], int] = lambda g: 0,
    where: Callable[[Group], bool] = lambda g: True,
) -> Candidates:
    """Every group `where` accepts, preferred (lowest tier) first."""
    ranked = sorted((tier(g), g.gid) for g in index.groups if where(g))
    return Candidates(tuple(g for _, g in ranked), tuple(t for t, _ in ranked))


def single(index: CapacityIndex, need: int, best: bool, cands: Candidates | None = None) -> str:
    node = find_single(index, cands or candidates(index), need, best)
    return "none" if node is None else index.names[node]


def gang(
    index: CapacityIndex,
    workers: int,
    per_worker: int,
    best: bool = BEST,
    cands: Candidates | None = None,
) -> dict[str, int] | None:
    """{node id: ranks on it} or None."""
    found = find_gang(index, cands or candidates(index), workers, per_worker, best)
    if found is None:
        return None
    out: dict[str, int] = {}
    for node, ranks in found:
        out[index.names[node]] = out.get(index.names[node], 0) + ranks
    assert sum(out.values()) == workers
    return out


def state_of(index: CapacityIndex) -> tuple[object, ...]:
    return (index.free.copy(), [[b.copy() for b in g] for g in index.buckets], index.mask.copy())


# ------------------------------------------------------------------ find_single


@pytest.mark.parametrize(
    ("need", "best", "chosen"),
    [
        (2, BEST, "n-000"),  # 2 free: nothing left over
        (3, BEST, "n-001"),  # 5 free is the tightest that fits 3
        (2, WORST, "n-002"),  # 8 free: the most room
        (6, BEST, "n-002"),
        (6, WORST, "n-002"),
        (9, BEST, "none"),
    ],
)
def test_find_single_best_fit_packs_and_worst_fit_spreads(
    need: int, best: bool, chosen: str
) -> None:
    pool = a_pool().nodes(3, ASCEND, prefix="n").build()
    index = index_of(pool, {"n-000": 6, "n-001": 3})  # free 2, 5, 8
    assert single(index, need, best) == chosen


def test_find_single_compares_fit_across_groups_of_one_tier() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz")
        .nodes(1, ASCEND, prefix="gz", city=City.GUANGZHOU)
        .build()
    )
    index = index_of(pool, {"gz-000": 5})  # sz 8 free, gz 3 free
    assert single(index, 3, BEST) == "gz-000"
    assert single(index, 3, WORST) == "sz-000"


def test_find_single_stays_in_the_lowest_tier_that_has_room() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz")
        .nodes(1, ASCEND, prefix="gz", city=City.GUANGZHOU)
        .build()
    )
    index = index_of(pool, {"gz-000": 5})
    prefer_sz = candidates(index, tier=lambda g: 0 if g.city is City.SHENZHEN else 1)
    assert single(index, 3, BEST, prefer_sz) == "sz-000", "a worse fit in a better tier wins"
    index.allocate(index.nid["sz-000"], 6)
    assert single(index, 3, BEST, prefer_sz) == "gz-000", "no room in tier 0: tier 1"


def test_find_single_looks_only_at_candidate_groups_and_nodes_that_take_work() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="up")
        .nodes(1, ASCEND, prefix="cordoned", state=NodeState.CORDONED)
        .nodes(1, H800, prefix="h")
        .build()
    )
    index = index_of(pool)
    only_ascend = candidates(index, where=lambda g: g.model == ASCEND)
    assert single(index, 8, BEST, only_ascend) == "up-000"
    index.hold(index.nid["up-000"])
    assert single(index, 1, BEST, only_ascend) == "none"


def test_find_single_does_not_change_the_index() -> None:
    pool = a_pool().nodes(3, ASCEND, prefix="n").build()
    index = index_of(pool, {"n-000": 6})
    before = state_of(index)
    single(index, 2, BEST)
    assert state_of(index) == before


# ------------------------------------------------------------------ find_gang


def test_find_gang_prefers_one_group_to_a_city_of_several() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz-a", owner="a")
        .nodes(1, ASCEND, prefix="sz-b", owner="b")
        .nodes(2, ASCEND, prefix="sz-c", owner="c")
        .build()
    )
    index = index_of(pool)
    assert gang(index, 2, 8) == {"sz-c-000": 1, "sz-c-001": 1}


def test_find_gang_prefers_one_city_to_several() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz-a", owner="a")
        .nodes(1, ASCEND, prefix="gz", owner="g", city=City.GUANGZHOU)
        .nodes(1, ASCEND, prefix="sz-b", owner="b")
        .nodes(1, ASCEND, prefix="zh", owner="z", city=City.ZHUHAI)
        .build()
    )
    index = index_of(pool)
    assert gang(index, 2, 8) == {"sz-a-000": 1, "sz-b-000": 1}


def test_find_gang_spans_the_fewest_cities_of_one_zone_when_no_city_has_room() -> None:
    pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="sz")
        .nodes(1, ASCEND, prefix="gz", city=City.GUANGZHOU)
        .nodes(1, ASCEND, prefix="zh", city=City.ZHUHAI)
        .build()
    )
    index = index_of(pool)
    placed = gang(index, 3, 8)
    assert placed is not None
    assert placed.keys() >= {"sz-000", "sz-001"}
    assert len(placed) == 3


@pytest.mark.parametrize(
    ("best", "group"),
    [(BEST, "tight"), (WORST, "roomy")],
)
def test_find_gang_picks_the_tightest_or_roomiest_group(best: bool, group: str) -> None:
    pool = a_pool().nodes(2, ASCEND, prefix="tight", owner="t").nodes(4, ASCEND, prefix="roomy")
    index = index_of(pool.build())
    placed = gang(index, 2, 8, best)
    assert placed is not None
    assert {node.rsplit("-", 1)[0] for node in placed} == {group}


def test_find_gang_puts_several_ranks_on_one_node_when_it_has_room() -> None:
    pool = a_pool().nodes(2, ASCEND, prefix="n").build()
    index = index_of(pool, {"n-001": 4})
    assert gang(index, 2, 4, BEST) == {"n-001": 1, "n-000": 1}
    index.allocate(index.nid["n-001"], 4)
    assert gang(index, 2, 4, BEST) == {"n-000": 2}


def test_find_gang_never_mixes_models() -> None:
    pool = a_pool().nodes(1, ASCEND, prefix="a").nodes(1, H800, prefix="h").build()
    assert gang(index_of(pool), 2, 8) is None


def test_find_gang_never_mixes_zones() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="sz")
        .nodes(1, ASCEND, prefix="hk", city=City.HONG_KONG)
        .build()
    )
    assert gang(index_of(pool), 2, 8) is None


def test_find_gang_returns_none_when_the_zone_total_is_short() -> None:
    pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="sz")
        .nodes(1, ASCEND, prefix="hk", city=City.HONG_KONG)
        .build()
    )
    index = index_of(pool)
    assert gang(index, 3, 8) is None, "three nodes in all, but only two in either zone"
    assert gang(index, 2, 8) == {"sz-000": 1, "sz-001": 1}
    index.allocate(index.nid["sz-000"], 1)
    assert gang(index, 2, 8) is None, "7 free on one node hosts no worker of 8"


def test_find_gang_takes_the_lower_tier_before_the_tighter_fit() -> None:
    pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="home")
        .nodes(3, ASCEND, prefix="away", city=City.HONG_KONG)
        .build()
    )
    index = index_of(pool)
    home_first = candidates(index, tier=lambda g: 0 if g.city is City.SHENZHEN else 1)
    away_first = candidates(index, tier=lambda g: 0 if g.city is City.HONG_KONG else 1)
    assert gang(index, 2, 8, WORST, home_first) == {"home-000": 1, "home-001": 1}
    placed = gang(index, 2, 8, BEST, away_first)
    assert placed is not None and all(node.startswith("away") for node in placed)


def test_find_gang_ignores_held_and_cordoned_nodes() -> None:
    pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="n")
        .nodes(1, ASCEND, prefix="n", state=NodeState.CORDONED)
        .build()
    )
    index = index_of(pool)
    assert gang(index, 2, 8) == {"n-000": 1, "n-001": 1}
    index.hold(index.nid["n-001"])
    assert gang(index, 2, 8) is None


def test_find_gang_does_not_change_the_index() -> None:
    pool = a_pool().nodes(3, ASCEND, prefix="n").nodes(2, ASCEND, city=City.GUANGZHOU).build()
    index = index_of(pool, {"n-000": 4})
    before = state_of(index)
    assert gang(index, 4, 8) is not None
    assert state_of(index) == before
