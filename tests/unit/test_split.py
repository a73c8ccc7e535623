"""Splitting one cost between voucher programs and the tenant, for each shape of DOMAIN.md's
voucher table; and how Funds move when a split is reserved and given back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from scheduler.domain.geography import Currency
from scheduler.domain.tenants import Tenant, TenantFlag
from scheduler.ledger.programs import YEAR_S, Split
from scheduler.ledger.split import Funds, Supplier, split_cost
from tests.builders import PROGRAM_END, PROGRAM_START, a_program, a_tenant

NOW = PROGRAM_START + 30 * 24 * 3600  # early February 2026
CNY, HKD = Currency.CNY, Currency.HKD

# ── tenants and suppliers ────────────────────────────────────────────────────────────────────

LAB = a_tenant("lab").flags(TenantFlag.RESEARCH).build()
START_UP = a_tenant("start-up").flags(TenantFlag.STARTUP).build()
SME = a_tenant("sme").flags(TenantFlag.SME).build()

SZ_GOV_ASCEND = Supplier("sz-gov", ("sz-gov-910b-001", "sz-gov-910b-002"), domestic=True)
SZ_CLOUD_H800 = Supplier("sz-cloud", ("sz-cloud-h800-001",), domestic=False)
HK_DESIGNATED_H800 = Supplier("hk-aisc", ("hk-aisc-h800-001",), domestic=False)
HK_CLOUD_H800 = Supplier("harbour-cloud", ("harbour-h800-001",), domestic=False)
CD_CENTRE = Supplier("cd-centre", ("cd-centre-910b-001",), domestic=True)
CD_UNI_LISTED = Supplier("cd-uni", ("cd-uni-910b-001", "cd-uni-910b-002"), domestic=True)
CD_UNI_PARTLY = Supplier("cd-uni", ("cd-uni-910b-001", "cd-uni-910b-003"), domestic=True)

# ── one program per row of DOMAIN.md's voucher table (small figures so tests read easily) ────

BEIJING = a_program("bj").rate(2000).cap(3_000).build()
SH_CITY = a_program("sh-city").rate(3000).group("shanghai").build()
SH_DISTRICT = a_program("sh-district").rate(3000).group("shanghai").build()
SH_CITY_80 = a_program("sh-city-80").rate(8000).group("shanghai").build()
SHENZHEN = a_program("sz").rate(5000, startup=6000).group("shenzhen").build()
HANGZHOU = a_program("hz").rates(domestic=3000, other=2000).cap(8_000).build()
HONG_KONG = a_program("hk").currency(HKD).rate(7000).at_owners("hk-aisc").build()
CHENGDU = (
    a_program("cd")
    .rate(4000)
    .at_owners("cd-centre")
    .at_nodes("cd-uni-910b-001", "cd-uni-910b-002")
    .build()
)
STARTUPS_ONLY = a_program("startups").rate(4000).for_flags(TenantFlag.STARTUP).build()
LAB_ONLY = a_program("lab-only").rate(4000).for_tenants("lab").build()

PROGRAMS = {
    p.id: p
    for p in (
        BEIJING,
        SH_CITY,
        SH_DISTRICT,
        SH_CITY_80,
        SHENZHEN,
        HANGZHOU,
        HONG_KONG,
        CHENGDU,
        STARTUPS_ONLY,
        LAB_ONLY,
    )
}


def full_funds() -> Funds:
    return Funds({pid: p.budget for pid, p in PROGRAMS.items()})


@dataclass(frozen=True)
class Case:
    """A job naming `wanted` incurs `cost` at `supplier`; `shares` is what each program pays."""

    wanted: tuple[str, ...]
    cost: int
    shares: tuple[tuple[str, int], ...]
    tenant: Tenant = LAB
    supplier: Supplier = SZ_GOV_ASCEND
    currency: Currency = CNY
    now: int = NOW
    remaining: Mapping[str, int] = field(default_factory=dict)  # overrides full budgets
    drawn: Mapping[tuple[str, str, int], int] = field(default_factory=dict)


CASES: dict[str, Case] = {
    # Beijing-style: 20 %, per-company annual cap.
    "beijing 20 %": Case(("bj",), 10_000, (("bj", 2000),)),
    "beijing cap binds": Case(("bj",), 100_000, (("bj", 3000),)),
    # Hangzhou-style: 30 % domestic, 20 % other, per-firm cap.
    "hangzhou 30 % on a domestic chip": Case(("hz",), 10_000, (("hz", 3000),)),
    "hangzhou 20 % on an H800": Case(("hz",), 10_000, (("hz", 2000),), supplier=SZ_CLOUD_H800),
    "hangzhou per-firm cap binds: share = cap left": Case(
        ("hz",), 10_000, (("hz", 500),), drawn={("hz", "lab", 0): 7_500}
    ),
    "hangzhou cap used up: pays nothing": Case(
        ("hz",), 10_000, (), drawn={("hz", "lab", 0): 8_000}
    ),
    "hangzhou another tenant's draw does not count": Case(
        ("hz",), 10_000, (("hz", 3000),), drawn={("hz", "sme", 0): 8_000}
    ),
    # Hong Kong-style: 70 % only at the designated supplier, in HKD.
    "hong kong 70 % at the designated centre": Case(
        ("hk",), 10_000, (("hk", 7000),), supplier=HK_DESIGNATED_H800, currency=HKD
    ),
    "hong kong elsewhere: all co-payment": Case(
        ("hk",), 10_000, (), supplier=HK_CLOUD_H800, currency=HKD
    ),
    # Shenzhen-style: 50 %, 60 % for start-ups.
    "shenzhen 60 % for a start-up": Case(("sz",), 10_000, (("sz", 6000),), tenant=START_UP),
    "shenzhen 60 % for a start-up on a foreign chip": Case(
        ("sz",), 10_000, (("sz", 6000),), tenant=START_UP, supplier=SZ_CLOUD_H800
    ),
    "shenzhen 50 % for others": Case(("sz",), 10_000, (("sz", 5000),), tenant=SME),
    # Shanghai-style: city + district stack within one group, never above the cost.
    "shanghai city 30 % + district 30 %": Case(
        ("sh-city", "sh-district"), 10_000, (("sh-city", 3000), ("sh-district", 3000))
    ),
    "shanghai city 80 % + district 30 %: capped at the cost": Case(
        ("sh-city-80", "sh-district"), 10_000, (("sh-city-80", 8000), ("sh-district", 2000))
    ),
    "different stacking groups never stack: the best one applies": Case(
        ("sh-city", "sz"), 10_000, (("sz", 5000),)
    ),
    "an ungrouped program never stacks; the better option wins": Case(
        ("bj", "sh-city"), 10_000, (("sh-city", 3000),)
    ),
    "a stacked group beats a better single program": Case(
        ("sz", "sh-city", "sh-district"), 10_000, (("sh-city", 3000), ("sh-district", 3000))
    ),
    "equal options: the one the job names first": Case(("hz", "sh-city"), 10_000, (("hz", 3000),)),
    "an ungrouped program does not join a group": Case(
        ("sh-city", "bj"), 10_000, (("sh-city", 3000),)
    ),
    "a program that pays nothing does not fix the group": Case(
        ("hk", "sz"), 10_000, (("sz", 5000),)
    ),
    # Chengdu-style: only at whitelisted centres (an owner, or every node of the job listed).
    "chengdu at a whitelisted centre": Case(("cd",), 10_000, (("cd", 4000),), supplier=CD_CENTRE),
    "chengdu on whitelisted nodes": Case(("cd",), 10_000, (("cd", 4000),), supplier=CD_UNI_LISTED),
    "chengdu with one node off the list": Case(("cd",), 10_000, (), supplier=CD_UNI_PARTLY),
    "chengdu elsewhere": Case(("cd",), 10_000, ()),
    # Budgets, validity, currency, rounding, eligibility, duplicates.
    "budget nearly exhausted: share = remaining budget": Case(
        ("sz",), 10_000, (("sz", 1234),), remaining={"sz": 1234}
    ),
    "budget exhausted: pays nothing": Case(("sz",), 10_000, (), remaining={"sz": 0}),
    "valid from its first second": Case(("sz",), 10_000, (("sz", 5000),), now=PROGRAM_START),
    "not yet valid": Case(("sz",), 10_000, (), now=PROGRAM_START - 1),
    "expired (valid_until is exclusive)": Case(("sz",), 10_000, (), now=PROGRAM_END),
    "currency mismatch: an HKD program on a CNY cost": Case(
        ("hk",), 10_000, (), supplier=HK_DESIGNATED_H800, currency=CNY
    ),
    "shares are floored: 30 % of 999 is 299": Case(("sh-city",), 999, (("sh-city", 299),)),
    "stacked shares are each floored": Case(
        ("sh-city", "sh-district"), 999, (("sh-city", 299), ("sh-district", 299))
    ),
    "a fraction of a fen is never paid": Case(("bj",), 4, ()),
    "a zero cost is all co-payment (zero)": Case(("sz",), 0, ()),
    "ineligible tenant (flag missing) pays nothing": Case(("startups",), 10_000, ()),
    "eligible by flag": Case(("startups",), 10_000, (("startups", 4000),), tenant=START_UP),
    "eligible by name": Case(("lab-only",), 10_000, (("lab-only", 4000),)),
    "not named, no flag": Case(("lab-only",), 10_000, (), tenant=SME),
    "duplicate program ids count once": Case(("sz", "sz"), 10_000, (("sz", 5000),)),
    "duplicates inside a stack count once": Case(
        ("sh-city", "sh-city", "sh-district"), 10_000, (("sh-city", 3000), ("sh-district", 3000))
    ),
    "unknown program ids are skipped": Case(("ghost", "sz"), 10_000, (("sz", 5000),)),
    "no programs: all co-payment": Case((), 10_000, ()),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_split_cost(case: Case) -> None:
    funds = full_funds()
    funds.remaining.update(case.remaining)
    funds.drawn.update(case.drawn)
    split = split_cost(
        case.cost,
        case.currency,
        case.wanted,
        PROGRAMS,
        case.tenant,
        case.supplier,
        funds,
        case.now,
    )
    subsidy = sum(amount for _, amount in case.shares)
    assert split == Split(case.currency, case.cost, case.shares, case.cost - subsidy)


# ── Funds ────────────────────────────────────────────────────────────────────────────────────


def hangzhou_split(cost: int, now: int, funds: Funds, tenant: Tenant = LAB) -> Split:
    return split_cost(cost, CNY, ["hz"], PROGRAMS, tenant, SZ_GOV_ASCEND, funds, now)


def test_take_moves_the_remaining_budget_and_the_tenants_draw_for_the_period() -> None:
    funds = full_funds()
    split = split_cost(
        10_000, CNY, ["sh-city", "sh-district"], PROGRAMS, LAB, SZ_GOV_ASCEND, funds, NOW
    )
    funds.take(PROGRAMS, "lab", split, NOW)
    assert funds.remaining["sh-city"] == SH_CITY.budget - 3000
    assert funds.remaining["sh-district"] == SH_DISTRICT.budget - 3000
    assert funds.drawn == {("sh-city", "lab", 0): 3000, ("sh-district", "lab", 0): 3000}


def test_give_back_restores_what_take_moved() -> None:
    funds = full_funds()
    split = hangzhou_split(10_000, NOW, funds)
    funds.take(PROGRAMS, "lab", split, NOW)
    funds.give_back(PROGRAMS, "lab", split, NOW)
    assert funds.remaining == full_funds().remaining
    assert funds.drawn.get(("hz", "lab", 0), 0) == 0


def test_taking_draws_the_cap_down_until_it_binds() -> None:
    funds = full_funds()
    for expected in (3000, 3000, 2000, 0):
        split = hangzhou_split(10_000, NOW, funds)
        assert split.share_of("hz") == expected
        funds.take(PROGRAMS, "lab", split, NOW)
    assert funds.cap_left(HANGZHOU, "lab", NOW) == 0
    assert funds.cap_left(HANGZHOU, "sme", NOW) == 8_000, "caps are per tenant"


def test_a_new_cap_period_restores_the_tenants_cap() -> None:
    short = {"q": a_program("q").rate(5000).cap(1_000, period_s=7 * 24 * 3600).build()}
    funds = Funds({"q": short["q"].budget})
    week_2 = PROGRAM_START + 7 * 24 * 3600
    first = split_cost(10_000, CNY, ["q"], short, LAB, SZ_GOV_ASCEND, funds, week_2 - 1)
    funds.take(short, "lab", first, week_2 - 1)
    assert first.share_of("q") == 1_000
    assert funds.cap_left(short["q"], "lab", week_2 - 1) == 0
    assert funds.cap_left(short["q"], "lab", week_2) == 1_000
    second = split_cost(10_000, CNY, ["q"], short, LAB, SZ_GOV_ASCEND, funds, week_2)
    assert second.share_of("q") == 1_000
    funds.take(short, "lab", second, week_2)
    assert funds.drawn == {("q", "lab", 0): 1_000, ("q", "lab", 1): 1_000}
    assert funds.remaining["q"] == short["q"].budget - 2_000


def test_an_annual_cap_rolls_over_at_the_programs_anniversary_not_new_year() -> None:
    two_years = {
        "bj2": a_program("bj2")
        .rate(2000)
        .cap(3_000)
        .valid(PROGRAM_START + 100, PROGRAM_START + 100 + 2 * YEAR_S)
        .build()
    }
    funds = Funds({"bj2": two_years["bj2"].budget}, {("bj2", "lab", 0): 3_000})
    anniversary = PROGRAM_START + 100 + YEAR_S
    assert funds.cap_left(two_years["bj2"], "lab", anniversary - 1) == 0
    assert funds.cap_left(two_years["bj2"], "lab", anniversary) == 3_000


def test_a_copy_is_independent() -> None:
    funds = full_funds()
    snapshot = funds.copy()
    funds.take(PROGRAMS, "lab", hangzhou_split(10_000, NOW, funds), NOW)
    assert snapshot.remaining == full_funds().remaining
    assert snapshot.drawn == {}


def test_split_cost_does_not_touch_funds() -> None:
    funds = full_funds()
    hangzhou_split(10_000, NOW, funds)
    assert funds.remaining == full_funds().remaining
    assert funds.drawn == {}


def test_giving_back_returns_the_draw_to_the_period_it_was_taken_in() -> None:
    program = a_program("capped").rate(10_000).cap(1_000, 100).build()
    programs = {program.id: program}
    funds = Funds({program.id: 10**6})
    lab = a_tenant("lab").build()
    supplier = Supplier("any", ("n1",), True)
    taken_at = PROGRAM_START + 10  # period 0
    split = split_cost(1_000, Currency.CNY, ["capped"], programs, lab, supplier, funds, taken_at)
    funds.take(programs, "lab", split, taken_at)
    funds.give_back(programs, "lab", split, taken_at)
    later = PROGRAM_START + 150  # period 1: its cap is whole, not more
    again = split_cost(5_000, Currency.CNY, ["capped"], programs, lab, supplier, funds, later)
    assert again.share_of("capped") == 1_000
    assert all(drawn == 0 for drawn in funds.drawn.values())
