"""The capacity index: nodes bucketed by free accelerators in groups of interchangeable nodes."""

from __future__ import annotations

import pytest

from scheduler.domain.geography import City
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.engine.index import CapacityIndex
from tests.builders import ASCEND, CATALOGUE, H800, a_pool


def index_of(pool: Pool, used: dict[str, int] | None = None) -> CapacityIndex:
    return CapacityIndex.build(pool.nodes.values(), pool.catalogue, used)


def assert_consistent(index: CapacityIndex) -> None:
    """Bucket c holds only nodes with c free; a mask bit is set iff its bucket is non-empty;
    group_free sums the free accelerators of bucketed nodes; a node sits in at most one bucket
    and a held node in none."""
    seen: set[int] = set()
    for gid, buckets in enumerate(index.buckets):
        total = 0
        for c, bucket in enumerate(buckets):
            assert bool(index.mask[gid] >> c & 1) == bool(bucket), (gid, c)
            for node in bucket:
                assert index.free[node] == c
                assert index.node_group[node] == gid
                assert node not in seen and node not in index.held
                seen.add(node)
                total += c
        assert index.mask[gid] >> len(buckets) == 0
        assert index.group_free[gid] == total
    for node, free in enumerate(index.free):
        assert 0 <= free <= index.size[node]


def bucket_of(index: CapacityIndex, node_id: str) -> int | None:
    """The free count of the bucket the node sits in, or None when it takes no new work."""
    n = index.nid[node_id]
    buckets = index.buckets[index.node_group[n]]
    found = [c for c, bucket in enumerate(buckets) if n in bucket]
    assert len(found) <= 1
    return found[0] if found else None


def group_of(index: CapacityIndex, node_id: str) -> int:
    return index.node_group[index.nid[node_id]]


def mask_bits(index: CapacityIndex, node_id: str) -> set[int]:
    mask = index.mask[group_of(index, node_id)]
    return {c for c in range(mask.bit_length()) if mask >> c & 1}


def two_node_pool() -> Pool:
    return a_pool().nodes(2, ASCEND, prefix="n").build()


# ------------------------------------------------------------------ build and groups


def test_interchangeable_nodes_share_a_group_and_groups_split_by_model_city_owner_price() -> None:
    pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="sz", owner="gov")
        .nodes(1, ASCEND, prefix="sz-dear", owner="gov", price=2000)
        .nodes(1, ASCEND, prefix="sz-ent", owner="ent")
        .nodes(1, ASCEND, prefix="gz", owner="gov", city=City.GUANGZHOU)
        .nodes(1, H800, prefix="h", owner="gov")
        .build()
    )
    index = index_of(pool)
    assert group_of(index, "sz-000") == group_of(index, "sz-001")
    others = {group_of(index, n) for n in ("sz-dear-000", "sz-ent-000", "gz-000", "h-000")}
    assert len(others) == 4 and group_of(index, "sz-000") not in others
    assert len(index.groups) == 5
    h800 = index.groups[group_of(index, "h-000")]
    assert (h800.model, h800.city, h800.domestic, h800.tflops_fp16) == (
        H800,
        City.SHENZHEN,
        False,
        CATALOGUE[H800].tflops_fp16,
    )
    assert_consistent(index)


def test_group_ids_do_not_depend_on_node_order() -> None:
    pool = (
        a_pool()
        .nodes(2, H800, prefix="h")
        .nodes(2, ASCEND, prefix="a", city=City.GUANGZHOU)
        .nodes(1, ASCEND, prefix="b")
        .build()
    )
    forward = index_of(pool)
    backward = CapacityIndex.build(reversed(list(pool.nodes.values())), pool.catalogue)
    assert forward.groups == backward.groups
    assert forward.names == backward.names


def test_build_buckets_nodes_by_what_is_free_after_running_work() -> None:
    pool = a_pool().nodes(3, ASCEND, prefix="n").build()
    index = index_of(pool, {"n-000": 8, "n-001": 3})
    assert [bucket_of(index, n) for n in ("n-000", "n-001", "n-002")] == [0, 5, 8]
    assert mask_bits(index, "n-000") == {0, 5, 8}
    assert index.free_accelerators() == 13
    assert_consistent(index)


def test_build_refuses_more_use_than_a_node_has() -> None:
    with pytest.raises(ValueError, match="n-000"):
        index_of(two_node_pool(), {"n-000": 9})


def test_nodes_that_are_not_up_sit_in_no_bucket_but_keep_their_free_count() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="up")
        .nodes(1, ASCEND, prefix="up", state=NodeState.CORDONED)
        .nodes(1, ASCEND, prefix="up", state=NodeState.DRAINING)
        .nodes(1, ASCEND, prefix="up", state=NodeState.DOWN)
        .build()
    )
    index = index_of(pool, {"up-001": 2})
    assert [bucket_of(index, f"up-{i:03d}") for i in range(4)] == [8, None, None, None]
    assert index.free[index.nid["up-001"]] == 6
    assert index.free_accelerators() == 8
    assert not index.schedulable(index.nid["up-001"])
    assert index.schedulable(index.nid["up-000"])
    assert_consistent(index)


# ------------------------------------------------------------------ allocate / release


def test_allocate_moves_the_node_down_and_clears_the_emptied_bucket_bit() -> None:
    index = index_of(two_node_pool())
    n0 = index.nid["n-000"]
    index.allocate(n0, 3)
    assert bucket_of(index, "n-000") == 5
    assert mask_bits(index, "n-000") == {5, 8}
    index.allocate(index.nid["n-001"], 3)
    assert mask_bits(index, "n-000") == {5}, "bucket 8 is empty: its bit must be cleared"
    assert index.group_free[group_of(index, "n-000")] == 10
    index.allocate(n0, 5)
    assert bucket_of(index, "n-000") == 0
    assert mask_bits(index, "n-000") == {0, 5}
    assert_consistent(index)


def test_release_moves_the_node_back_up() -> None:
    index = index_of(two_node_pool(), {"n-000": 8, "n-001": 8})
    index.release(index.nid["n-000"], 8)
    index.release(index.nid["n-001"], 2)
    assert (bucket_of(index, "n-000"), bucket_of(index, "n-001")) == (8, 2)
    assert mask_bits(index, "n-000") == {2, 8}
    assert index.free_accelerators() == 10
    assert_consistent(index)


@pytest.mark.parametrize(
    ("action", "count"),
    [("allocate", 9), ("release", 1)],
    ids=["allocate more than free", "release more than in use"],
)
def test_moving_past_a_nodes_size_raises_and_leaves_the_index_as_it_was(
    action: str, count: int
) -> None:
    index = index_of(two_node_pool())
    before = (index.free.copy(), index.mask.copy(), index.group_free.copy())
    with pytest.raises(ValueError, match="n-000"):
        getattr(index, action)(index.nid["n-000"], count)
    assert (index.free, index.mask, index.group_free) == before
    assert bucket_of(index, "n-000") == 8
    assert_consistent(index)


# ------------------------------------------------------------------ hold / unhold


def test_a_held_node_takes_no_new_work_but_counts_as_schedulable() -> None:
    index = index_of(two_node_pool(), {"n-000": 2})
    n0 = index.nid["n-000"]
    index.hold(n0)
    assert bucket_of(index, "n-000") is None
    assert mask_bits(index, "n-000") == {8}
    assert index.group_free[group_of(index, "n-000")] == 8
    assert index.schedulable(n0)
    assert index.held == {n0}
    assert_consistent(index)
    index.unhold(n0)
    assert bucket_of(index, "n-000") == 6
    assert mask_bits(index, "n-000") == {6, 8}
    assert index.held == set()
    assert_consistent(index)


def test_work_on_a_held_node_changes_its_free_count_and_unhold_files_it_there() -> None:
    index = index_of(two_node_pool())
    n0 = index.nid["n-000"]
    index.hold(n0)
    index.allocate(n0, 8)
    assert index.free[n0] == 0 and bucket_of(index, "n-000") is None
    index.release(n0, 3)
    assert_consistent(index)
    index.unhold(n0)
    assert bucket_of(index, "n-000") == 3
    assert_consistent(index)


def test_hold_of_a_node_that_takes_no_work_and_unhold_of_one_not_held_change_nothing() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="n")
        .nodes(1, ASCEND, prefix="n", state=NodeState.DOWN)
        .build()
    )
    index = index_of(pool)
    down = index.nid["n-001"]
    index.hold(down)
    assert index.held == set()
    index.unhold(index.nid["n-000"])
    assert bucket_of(index, "n-000") == 8
    assert index.group_free[group_of(index, "n-000")] == 8
    assert_consistent(index)


# ------------------------------------------------------------------ set_schedulable


def test_cordoning_takes_a_node_out_and_uncordoning_puts_it_back_at_its_free_count() -> None:
    index = index_of(two_node_pool(), {"n-000": 4})
    n0 = index.nid["n-000"]
    index.set_schedulable(n0, False)
    assert bucket_of(index, "n-000") is None
    assert mask_bits(index, "n-000") == {8}
    assert index.free_accelerators() == 8
    index.release(n0, 4)  # its job ends while it is cordoned
    assert bucket_of(index, "n-000") is None and index.free[n0] == 8
    assert_consistent(index)
    index.set_schedulable(n0, True)
    assert bucket_of(index, "n-000") == 8
    assert index.free_accelerators() == 16
    assert_consistent(index)


def test_set_schedulable_is_idempotent() -> None:
    index = index_of(two_node_pool())
    n0 = index.nid["n-000"]
    index.set_schedulable(n0, True)
    assert index.free_accelerators() == 16
    index.set_schedulable(n0, False)
    index.set_schedulable(n0, False)
    assert index.free_accelerators() == 8
    assert_consistent(index)


def test_cordoning_a_held_node_ends_the_hold() -> None:
    index = index_of(two_node_pool())
    n0 = index.nid["n-000"]
    index.hold(n0)
    index.set_schedulable(n0, False)
    assert index.held == set() and not index.schedulable(n0)
    assert index.free_accelerators() == 8
    assert_consistent(index)
    index.set_schedulable(n0, True)
    assert bucket_of(index, "n-000") == 8 and index.free_accelerators() == 16
    assert_consistent(index)


# ------------------------------------------------------------------ slots


def test_slots_count_workers_per_node_across_buckets() -> None:
    pool = a_pool().nodes(4, ASCEND, prefix="n").build()
    index = index_of(pool, {"n-000": 8, "n-001": 5, "n-002": 2})  # free: 0, 3, 6, 8
    gid = group_of(index, "n-000")
    assert index.slots(gid, 8) == 1
    assert index.slots(gid, 4) == 1 + 2  # 6 free hosts one, 8 free hosts two
    assert index.slots(gid, 3) == 1 + 2 + 2
    assert index.slots(gid, 1) == 3 + 6 + 8
    index.hold(index.nid["n-003"])
    assert index.slots(gid, 8) == 0


# ------------------------------------------------------------------ copy


def test_a_copy_and_its_original_change_independently() -> None:
    pool = a_pool().nodes(3, ASCEND, prefix="n").build()
    original = index_of(pool, {"n-000": 4})
    frozen = (
        original.free.copy(),
        [[b.copy() for b in g] for g in original.buckets],
        original.mask.copy(),
        original.group_free.copy(),
    )
    scratch = original.copy()
    scratch.allocate(scratch.nid["n-001"], 8)
    scratch.release(scratch.nid["n-000"], 4)
    scratch.hold(scratch.nid["n-002"])
    scratch.set_schedulable(scratch.nid["n-000"], False)
    assert (original.free, original.buckets, original.mask, original.group_free) == frozen
    assert original.held == set()
    assert_consistent(original)
    assert_consistent(scratch)

    other = original.copy()
    original.allocate(original.nid["n-002"], 8)
    original.hold(original.nid["n-001"])
    assert other.free[other.nid["n-002"]] == 8 and other.held == set()
    assert bucket_of(other, "n-001") == 8
    assert_consistent(other)


# ------------------------------------------------------------------ canonical node order


def test_canonicalize_gives_the_node_order_of_an_index_built_from_scratch() -> None:
    pool = a_pool().nodes(40, ASCEND, prefix="n").build()
    index = index_of(pool)
    for i in (37, 5, 21, 13, 29, 3, 11, 19, 27, 35):  # fill and empty in a scrambled order
        index.allocate(i, 8)
    for i in (3, 35, 11, 27, 19):
        index.release(i, 8)
    used = {index.names[i]: 8 - index.free[i] for i in range(40) if index.free[i] < 8}
    scratch = index_of(pool, used)
    gid = group_of(index, "n-000")
    index.canonicalize([gid])
    assert [list(bucket) for bucket in index.buckets[gid]] == [
        list(bucket) for bucket in scratch.buckets[gid]
    ]
    assert_consistent(index)
