"""Properties of splitting a cost between random voucher programs and the tenant."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.geography import Currency
from scheduler.domain.tenants import Tenant, TenantFlag
from scheduler.ledger.programs import BASIS_POINTS, YEAR_S, Program, Rates
from scheduler.ledger.split import Funds, Supplier, applicable, split_cost
from tests.builders import PROGRAM_START
from tests.property.worlds import PROPERTY

NOW = PROGRAM_START + YEAR_S // 2
TENANTS = ("t1", "t2", "t3")
OWNERS = ("o1", "o2", "o3")
NODES = ("n1", "n2", "n3", "n4")
GROUPS = ("city", "district")
NO_IDS: frozenset[str] = frozenset()


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about one time in `n`. Hypothesis favours the ends of a range, so the rare case is
    a middle value. Most drawn programs must apply for stacking, caps and budgets to bind at
    all; restricted, expired, foreign-currency or spent ones are the rare case."""
    return st.integers(0, n - 1).map(lambda k: k == n // 2)


def rate() -> st.SearchStrategy[int]:
    return one_in(10).flatmap(lambda zero: st.just(0) if zero else st.integers(1, BASIS_POINTS))


def some(items: tuple[str, ...]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(items), min_size=1, max_size=2)


@st.composite
def programs(draw: st.DrawFn, program_id: str) -> Program:
    valid_from = draw(st.integers(NOW - 2 * YEAR_S, NOW))
    valid_until = draw(st.integers(NOW + 1, NOW + 2 * YEAR_S))
    if draw(one_in(8)):  # expired, or not valid yet
        valid_from, valid_until = draw(
            st.sampled_from(((valid_from - YEAR_S, valid_from), (NOW + 1, valid_until + 1)))
        )
    # At most one kind of eligibility rule, so that an open program is the common case.
    rule = draw(st.sampled_from(("open", "tenants", "flags", "owners", "nodes", "owners+nodes")))
    if draw(one_in(2)):
        rule = "open"
    return Program(
        id=program_id,
        name=program_id,
        sponsor="sponsor",
        currency=Currency.HKD if draw(one_in(8)) else Currency.CNY,
        budget=draw(st.integers(1, 10**10)),
        valid_from=valid_from,
        valid_until=valid_until,
        rates=Rates(draw(rate()), draw(rate()), draw(st.none() | rate()), draw(st.none() | rate())),
        eligible_tenants=draw(some(TENANTS)) if rule == "tenants" else NO_IDS,
        eligible_flags=draw(st.frozensets(st.sampled_from(TenantFlag), min_size=1))
        if rule == "flags"
        else frozenset(),
        eligible_owners=draw(some(OWNERS)) if rule.startswith("owners") else NO_IDS,
        eligible_nodes=draw(some(NODES)) if rule.endswith("nodes") else NO_IDS,
        tenant_cap=draw(st.integers(0, 10**7)) if draw(one_in(3)) else None,
        cap_period_s=draw(st.integers(1, YEAR_S)),
        stacking_group=None if draw(one_in(4)) else draw(st.sampled_from(GROUPS)),
    )


@dataclass(frozen=True)
class Scene:
    programs: dict[str, Program]
    funds: Funds
    wanted: list[str]
    tenant: Tenant
    supplier: Supplier
    cost: int
    currency: Currency


@st.composite
def scenes(draw: st.DrawFn) -> Scene:
    count = draw(st.integers(2, 5))
    catalogue = {f"p{i}": draw(programs(f"p{i}")) for i in range(count)}
    tenant = Tenant(
        draw(st.sampled_from(TENANTS)),
        "tenant",
        flags=draw(st.frozensets(st.sampled_from(TenantFlag), max_size=2)),
    )
    remaining = {}
    drawn = {}
    for pid, program in catalogue.items():
        if draw(one_in(10)):
            continue  # not in the funds at all: pays nothing
        # Sometimes nearly spent, so that the remaining budget binds.
        remaining[pid] = draw(st.integers(0, 10**6)) if draw(one_in(3)) else program.budget
        if program.tenant_cap is not None and draw(one_in(2)):
            key = (pid, tenant.id, program.period(NOW))
            drawn[key] = draw(st.integers(0, program.tenant_cap + 10))
    # Usually every program, in a random order; sometimes fewer, a duplicate or an unknown id.
    wanted = draw(st.permutations(list(catalogue)))
    if draw(one_in(4)):
        del wanted[draw(st.integers(1, len(wanted))) :]
    for extra in ("ghost", draw(st.sampled_from(wanted))):
        if draw(one_in(6)):
            wanted.insert(draw(st.integers(0, len(wanted))), extra)
    return Scene(
        programs=catalogue,
        funds=Funds(remaining, drawn),
        wanted=wanted,
        tenant=tenant,
        supplier=Supplier(
            draw(st.sampled_from(OWNERS)),
            tuple(draw(st.lists(st.sampled_from(NODES), max_size=3, unique=True))),
            draw(st.booleans()),
        ),
        # Small costs, where flooring decides, are the rare case; so is zero.
        cost=draw(st.integers(0, 10_000) if draw(one_in(5)) else st.integers(10_000, 10**9)),
        currency=Currency.HKD if draw(one_in(8)) else Currency.CNY,
    )


@PROPERTY
@given(scenes())
def test_a_split_pays_the_cost_exactly_within_every_limit(scene: Scene) -> None:
    before = (copy.deepcopy(scene.funds.remaining), copy.deepcopy(scene.funds.drawn))
    split = split_cost(
        scene.cost,
        scene.currency,
        scene.wanted,
        scene.programs,
        scene.tenant,
        scene.supplier,
        scene.funds,
        NOW,
    )
    assert (scene.funds.remaining, scene.funds.drawn) == before, "split_cost mutated Funds"
    assert split.cost == scene.cost and split.currency is scene.currency
    assert split.subsidy + split.copay == scene.cost
    assert split.copay >= 0
    assert split.subsidy <= scene.cost
    paid = [pid for pid, _ in split.shares]
    assert len(paid) == len(set(paid)), "a program is claimed twice"
    for pid, amount in split.shares:
        program = scene.programs[pid]
        assert pid in scene.wanted
        assert amount > 0
        assert applicable(program, scene.tenant, scene.supplier, scene.currency, NOW)
        rate = program.rate_bp(scene.tenant, scene.supplier.domestic)
        assert amount <= scene.cost * rate // BASIS_POINTS
        assert amount <= scene.funds.remaining.get(pid, 0)
        cap_left = scene.funds.cap_left(program, scene.tenant.id, NOW)
        assert cap_left is None or amount <= cap_left
    groups = {scene.programs[pid].stacking_group for pid in paid}
    if len(paid) > 1:
        assert len(groups) == 1 and None not in groups, f"stacked across groups: {split.shares}"
    order = [pid for pid in dict.fromkeys(scene.wanted) if pid in paid]
    assert order == paid, "shares follow the job's order"
