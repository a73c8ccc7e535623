"""Finding room for a job in the capacity index. Finders never change the index: the cycle
commits what they found (or throws it away), so a gang is placed whole or not at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.engine.index import CapacityIndex


@dataclass(frozen=True, slots=True)
class Candidates:
    """Groups a job may use, in preference order (own zone first, then the strategy's tier)."""

    gids: tuple[int, ...]
    tiers: tuple[int, ...]
    flat: bool = field(init=False)  # one tier only: the search needs no tier bookkeeping

    def __post_init__(self) -> None:
        object.__setattr__(self, "flat", len(set(self.tiers)) <= 1)


def find_single(index: CapacityIndex, cands: Candidates, need: int, best: bool) -> int | None:
    """A node with `need` free accelerators: best fit (least left over) or worst fit, among the
    groups of the lowest tier that has any room. Returns the node handle."""
    mask_of = index.mask
    if cands.flat and best:
        return _best_fit_flat(index, cands.gids, need)
    chosen_gid = -1
    chosen_c = -1
    chosen_tier = 0
    tiers = cands.tiers
    for i, gid in enumerate(cands.gids):
        tier = tiers[i]
        if chosen_gid >= 0 and tier != chosen_tier:
            break
        mask = mask_of[gid] >> need
        if not mask:
            continue
        if best:
            c = (mask & -mask).bit_length() + need - 1
            if chosen_gid < 0 or c < chosen_c:
                chosen_gid, chosen_c, chosen_tier = gid, c, tier
                if c == need:
                    break
        else:
            c = mask.bit_length() + need - 1
            if chosen_gid < 0 or c > chosen_c:
                chosen_gid, chosen_c, chosen_tier = gid, c, tier
    if chosen_gid < 0:
        return None
    return next(iter(index.buckets[chosen_gid][chosen_c]))


def _best_fit_flat(index: CapacityIndex, gids: tuple[int, ...], need: int) -> int | None:
    """find_single's hot case: best fit over groups of one tier."""
    mask_of = index.mask
    chosen_gid = -1
    chosen_c = 1 << 30
    for gid in gids:
        mask = mask_of[gid] >> need
        if mask:
            c = (mask & -mask).bit_length()  # 1 means a perfect fit
            if c < chosen_c:
                chosen_gid, chosen_c = gid, c
                if c == 1:
                    break
    if chosen_gid < 0:
        return None
    return next(iter(index.buckets[chosen_gid][chosen_c + need - 1]))


def find_gang(
    index: CapacityIndex,
    cands: Candidates,
    workers: int,
    per_worker: int,
    best: bool,
    one_group: bool = False,
) -> list[tuple[int, int]] | None:
    """Room for `workers` ranks of `per_worker` accelerators, all of one model and one zone.

    Preference: the lowest tier first; then one group, else one city, else several cities of
    one zone (fewest cities); within that best or worst fit by free slots. With `one_group` the
    gang must fit in one group (one owner, one price). Returns [(node, ranks on it)] or None."""
    groups = index.groups
    slots: dict[int, int] = {}
    tier_of: dict[int, int] = {}
    for i, gid in enumerate(cands.gids):
        if index.group_free[gid] >= per_worker:
            n = index.slots(gid, per_worker)
            if n:
                slots[gid] = n
                tier_of[gid] = cands.tiers[i]
    if sum(slots.values()) < workers:
        return None
    # Every feasible plan as (key, [gids in fill order]); the smallest key wins.
    plans: list[tuple[tuple[int, int, int, int], list[int]]] = []
    by_city: dict[tuple[str, str], list[int]] = {}
    by_zone: dict[tuple[str, str], list[int]] = {}
    for gid, n in slots.items():
        g = groups[gid]
        if n >= workers:
            plans.append(((tier_of[gid], 0, n if best else -n, gid), [gid]))
        by_city.setdefault((g.model, g.city.value), []).append(gid)
        by_zone.setdefault((g.model, g.zone.value), []).append(gid)
    if one_group:  # one supplier at one price: spanning groups is not allowed
        by_city.clear()
        by_zone.clear()
    for members in by_city.values():
        if len(members) > 1:
            _add_multi(plans, members, slots, tier_of, workers, best, level=1)
    for members in by_zone.values():
        cities = {groups[m].city for m in members}
        if len(cities) > 1:
            # fill from the cities with the most room first: the gang spans the fewest cities
            city_slots: dict[object, int] = {}
            for gid in members:
                city = groups[gid].city
                city_slots[city] = city_slots.get(city, 0) + slots[gid]
            ordered = sorted(members, key=lambda m: (-city_slots[groups[m].city], tier_of[m], m))
            _add_multi(plans, ordered, slots, tier_of, workers, best, level=2, keep_order=True)
    if not plans:
        return None
    _, fill = min(plans)
    return _take(index, fill, workers, per_worker, best)


def _add_multi(
    plans: list[tuple[tuple[int, int, int, int], list[int]]],
    members: list[int],
    slots: dict[int, int],
    tier_of: dict[int, int],
    workers: int,
    best: bool,
    level: int,
    keep_order: bool = False,
) -> None:
    order = members if keep_order else sorted(members, key=lambda g: (tier_of[g], -slots[g], g))
    total = 0
    used: list[int] = []
    for gid in order:
        used.append(gid)
        total += slots[gid]
        if total >= workers:
            worst_tier = max(tier_of[g] for g in used)
            plans.append(((worst_tier, level, total if best else -total, used[0]), used))
            return


def _take(
    index: CapacityIndex, fill: list[int], workers: int, per_worker: int, best: bool
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    left = workers
    for gid in fill:
        buckets = index.buckets[gid]
        sizes = (
            range(per_worker, len(buckets)) if best else range(len(buckets) - 1, per_worker - 1, -1)
        )
        for c in sizes:
            per_node = c // per_worker
            for node in buckets[c]:
                take = min(per_node, left)
                out.append((node, take))
                left -= take
                if not left:
                    return out
    raise AssertionError("slot count and buckets disagree")  # the caller counted the slots
