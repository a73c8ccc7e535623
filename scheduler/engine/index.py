"""Free-capacity index: nodes bucketed by free accelerators inside interchangeable groups.

Nodes of one (model, city, owner, price) are interchangeable for every decision the engine makes,
so a decision looks at groups and bucket bitmasks, never at individual nodes (see
PLACEMENT_SPEED.md: ~1 µs per decision instead of a scan of every node). The index is updated
incrementally on allocate/release; a cycle works on a `copy()` so the snapshot stays untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.domain.accelerators import Catalogue
from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, OwnerClass


@dataclass(frozen=True, slots=True)
class Group:
    """Static description of a set of interchangeable nodes."""

    gid: int
    model: str
    city: City
    zone: Jurisdiction
    owner: str
    owner_class: OwnerClass
    price: Money
    domestic: bool
    tflops_fp16: int
    node_size: int  # the largest node in the group, in accelerators


class CapacityIndex:
    """`buckets[g][c]` holds the schedulable nodes of group g with exactly c free accelerators;
    bit c of `mask[g]` is set iff that bucket is non-empty. Nodes that are not `up` keep their
    `free` count but sit in no bucket, so nothing new lands on them."""

    __slots__ = (
        "buckets",
        "free",
        "group_free",
        "groups",
        "held",
        "mask",
        "names",
        "nid",
        "node_group",
        "owned",
        "size",
    )

    # Nodes are handled as small integers (their position in id order): set iteration over ints
    # does not depend on string hash randomisation, so the same input gives the same placement.
    groups: tuple[Group, ...]
    names: tuple[str, ...]
    nid: dict[str, int]
    node_group: list[int]
    size: list[int]
    free: list[int]
    buckets: list[list[set[int]]]
    mask: list[int]
    group_free: list[int]
    held: set[int]
    # Copy on write: a copy shares each group's bucket sets with its origin until one of them
    # first changes that group, so a cycle's scratch copy costs O(groups), not O(nodes).
    owned: list[bool]

    @classmethod
    def build(
        cls,
        nodes: Iterable[Node],
        catalogue: Catalogue,
        used: Mapping[str, int] | None = None,
    ) -> CapacityIndex:
        """Index `nodes`, with `used[node]` accelerators already taken. Groups are numbered in
        sorted key order so that the same pool always gives the same ids."""
        used = used or {}
        node_list = sorted(nodes, key=lambda n: n.id)
        keys: dict[tuple[str, str, str, str, int], list[Node]] = {}
        for node in node_list:
            key = (
                node.model,
                node.city.value,
                node.owner,
                node.price.currency.value,
                node.price.minor,
            )
            keys.setdefault(key, []).append(node)
        self = cls.__new__(cls)
        groups = []
        self.names = tuple(n.id for n in node_list)
        self.nid = {name: i for i, name in enumerate(self.names)}
        self.node_group = [0] * len(node_list)
        self.size = [0] * len(node_list)
        self.free = [0] * len(node_list)
        self.buckets = []
        self.mask = []
        self.group_free = []
        self.held = set()
        for gid, key in enumerate(sorted(keys)):
            members = keys[key]
            first = members[0]
            model = catalogue[first.model]
            node_size = max(n.accelerators for n in members)
            groups.append(
                Group(
                    gid=gid,
                    model=first.model,
                    city=first.city,
                    zone=first.city.jurisdiction,
                    owner=first.owner,
                    owner_class=first.owner_class,
                    price=first.price,
                    domestic=model.domestic,
                    tflops_fp16=model.tflops_fp16,
                    node_size=node_size,
                )
            )
            buckets: list[set[int]] = [set() for _ in range(node_size + 1)]
            mask = 0
            total = 0
            for node in members:
                n = self.nid[node.id]
                free = node.accelerators - used.get(node.id, 0)
                if free < 0:
                    raise ValueError(
                        f"node {node.id}: {-free} accelerators more in use than it has"
                    )
                self.node_group[n] = gid
                self.size[n] = node.accelerators
                self.free[n] = free
                if node.state.schedulable:
                    buckets[free].add(n)
                    mask |= 1 << free
                    total += free
            self.buckets.append(buckets)
            self.mask.append(mask)
            self.group_free.append(total)
        self.groups = tuple(groups)
        self.owned = [True] * len(groups)
        return self

    def copy(self) -> CapacityIndex:
        """An independent copy. Static parts are shared; bucket sets are shared until either side
        first changes a group, which then copies that group's sets (both sides are marked)."""
        other = CapacityIndex.__new__(CapacityIndex)
        other.groups = self.groups
        other.names = self.names
        other.nid = self.nid
        other.node_group = self.node_group
        other.size = self.size
        other.free = self.free.copy()
        other.buckets = self.buckets.copy()
        other.owned = [False] * len(self.groups)
        self.owned = [False] * len(self.groups)
        other.mask = self.mask.copy()
        other.group_free = self.group_free.copy()
        other.held = self.held.copy()
        return other

    def _own(self, gid: int) -> list[set[int]]:
        if not self.owned[gid]:
            self.buckets[gid] = [b.copy() for b in self.buckets[gid]]
            self.owned[gid] = True
        return self.buckets[gid]

    def canonicalize(self, gids: Iterable[int]) -> None:
        """Rebuild the bucket sets of groups `gids` as `build` makes them (nodes added in
        ascending order). Which node a set yields first then depends on what it holds, not on
        the history of moves, so an index kept up to date incrementally decides exactly as one
        built from scratch from the same jobs."""
        for gid in gids:
            self.buckets[gid] = [set(sorted(b)) for b in self.buckets[gid]]
            self.owned[gid] = True

    def schedulable(self, node: int) -> bool:
        return node in self.held or node in self.buckets[self.node_group[node]][self.free[node]]

    def allocate(self, node: int, count: int) -> None:
        self._move(node, -count)

    def release(self, node: int, count: int) -> None:
        self._move(node, count)

    def set_schedulable(self, node: int, schedulable: bool) -> None:
        """Put a node into placement (up) or take it out (cordoned, draining, down)."""
        gid = self.node_group[node]
        free = self.free[node]
        bucket = self._own(gid)[free]
        self.held.discard(node)
        if schedulable and node not in bucket:
            bucket.add(node)
            self.mask[gid] |= 1 << free
            self.group_free[gid] += free
        elif not schedulable and node in bucket:
            bucket.remove(node)
            if not bucket:
                self.mask[gid] &= ~(1 << free)
            self.group_free[gid] -= free

    def _move(self, node: int, delta: int) -> None:
        old = self.free[node]
        new = old + delta
        if new < 0 or new > self.size[node]:
            raise ValueError(f"node {self.names[node]}: free accelerators would be {new}")
        self.free[node] = new
        gid = self.node_group[node]
        if node in self.buckets[gid][old]:  # schedulable and not held
            buckets = self._own(gid)
            bucket = buckets[old]
            bucket.remove(node)
            mask = self.mask[gid]
            if not bucket:
                mask &= ~(1 << old)
            buckets[new].add(node)
            self.mask[gid] = mask | (1 << new)
            self.group_free[gid] += delta

    def hold(self, node: int) -> None:
        """Take a node out of placement (its free capacity is reserved) until `unhold`."""
        gid = self.node_group[node]
        free = self.free[node]
        if node in self.buckets[gid][free]:
            bucket = self._own(gid)[free]
            bucket.remove(node)
            if not bucket:
                self.mask[gid] &= ~(1 << free)
            self.group_free[gid] -= free
            self.held.add(node)

    def unhold(self, node: int) -> None:
        if node in self.held:
            self.held.remove(node)
            gid = self.node_group[node]
            free = self.free[node]
            self._own(gid)[free].add(node)
            self.mask[gid] |= 1 << free
            self.group_free[gid] += free

    def slots(self, gid: int, per_worker: int) -> int:
        """How many workers of `per_worker` accelerators group `gid` can host right now."""
        mask = self.mask[gid] >> per_worker
        if not mask:
            return 0
        total = 0
        buckets = self.buckets[gid]
        c = per_worker
        while mask:
            if mask & 1:
                total += len(buckets[c]) * (c // per_worker)
            mask >>= 1
            c += 1
        return total

    def free_accelerators(self) -> int:
        return sum(self.group_free)
