"""Money flows: funding, top-ups, reserving an attempt's estimate at admission, settling its
actual usage with the same split, releasing what it did not use. Exact to the fen."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from scheduler.domain.errors import CurrencyMismatch, InvalidField
from scheduler.domain.geography import Currency
from scheduler.ledger.available import budgets_from, drawn_in_period, funds_from
from scheduler.ledger.book import Account, AccountKind, Ledger
from scheduler.ledger.errors import (
    AttemptClosed,
    AttemptStillOpen,
    ConflictingPosting,
    InsufficientFunds,
    InvalidSettlement,
    UnknownAttempt,
)
from scheduler.ledger.flows import (
    actual_split,
    fund_program,
    release,
    reservation,
    reserve,
    settle,
    top_up,
)
from scheduler.ledger.programs import Split
from tests.ledger_builders import HOUR, START, a_program, a_split, a_usage

CNY, HKD = Currency.CNY, Currency.HKD
K = AccountKind
SZ = a_program("sz", 3000)  # Shenzhen-style, 30 %
CITY = a_program("sh-city", 2000, stacking_group="shanghai")
DISTRICT = a_program("sh-district", 1000, stacking_group="shanghai")
HK = a_program("hk", 7000, currency=HKD, budget=500_000)
PROGRAMS = {p.id: p for p in (SZ, CITY, DISTRICT, HK)}


def book(balance: int = 20_000, currency: Currency = CNY) -> Ledger:
    """Every program funded; tenant "lab" topped up with `balance`."""
    ledger = Ledger()
    for program in PROGRAMS.values():
        fund_program(ledger, program)
    top_up(ledger, "lab", currency, balance, "pay-1", at=START)
    return ledger


def acct(kind: AccountKind, holder: str, currency: Currency = CNY) -> Account:
    return Account(kind, holder, currency)


def bal(ledger: Ledger, kind: AccountKind, holder: str, currency: Currency = CNY) -> int:
    return ledger.balance(acct(kind, holder, currency))


def unchanged(ledger: Ledger) -> tuple[object, ...]:
    return ledger.postings(), ledger.balances()


# ------------------------------------------------------------------ funding and top-ups


def test_funding_moves_the_budget_from_the_sponsor_once() -> None:
    ledger = Ledger()
    fund_program(ledger, SZ)
    fund_program(ledger, SZ)
    assert bal(ledger, K.PROGRAM_BUDGET, "sz") == 1_000_000
    assert bal(ledger, K.SPONSOR_FUNDING, "sz-sponsor") == -1_000_000
    assert len(ledger) == 1


def test_a_top_up_is_counted_once_per_payment_reference() -> None:
    ledger = Ledger()
    top_up(ledger, "lab", CNY, 5000, "pay-1")
    top_up(ledger, "lab", CNY, 5000, "pay-1")
    top_up(ledger, "lab", CNY, 5000, "pay-2")
    assert bal(ledger, K.TENANT_BALANCE, "lab") == 10_000
    assert bal(ledger, K.TENANT_DEPOSITS, "lab") == -10_000
    with pytest.raises(ConflictingPosting):
        top_up(ledger, "lab", CNY, 6000, "pay-1")
    with pytest.raises(InvalidField, match=r"top_up\.amount"):
        top_up(ledger, "lab", CNY, 0, "pay-3")


# ------------------------------------------------------------------ reserve / settle / release


@dataclass(frozen=True)
class Case:
    estimate: Split  # what admission reserved
    seconds: int  # accelerator-seconds actually used, at 10,000 fen per accelerator-hour
    paid: dict[str, int]  # each program's actual share
    spent: int  # the tenant's actual co-payment


CASES = {
    # The issue's example: 10,000 fen, 30 % program; 60 % of the estimate used.
    "60-percent-used": Case(a_split(10_000, ("sz", 3000)), 2160, {"sz": 1800}, 4200),
    "all-used": Case(a_split(10_000, ("sz", 3000)), HOUR, {"sz": 3000}, 7000),
    "nothing-used": Case(a_split(10_000, ("sz", 3000)), 0, {"sz": 0}, 0),
    # 150 %: the program keeps its reserved share, the excess is co-payment.
    "over-the-estimate": Case(a_split(10_000, ("sz", 3000)), 5400, {"sz": 3000}, 12_000),
    "stacked-city-and-district": Case(
        a_split(10_000, ("sh-city", 2000), ("sh-district", 1000)),
        1800,
        {"sh-city": 1000, "sh-district": 500},
        3500,
    ),
    # 1 accelerator-second costs 2.78 fen, billed 3; 33.33 % of it rounds down to 0.
    "rounding-favours-the-sponsor": Case(a_split(10_000, ("sz", 3333)), 1, {"sz": 0}, 3),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reserve_then_settle_is_exact_to_the_fen(case: Case) -> None:
    ledger = book()
    reserved = case.estimate
    reserve(ledger, "j1", 1, "lab", reserved, START)
    for program_id, share in reserved.shares:
        assert bal(ledger, K.PROGRAM_RESERVED, program_id) == share
        assert bal(ledger, K.PROGRAM_BUDGET, program_id) == 1_000_000 - share
    assert bal(ledger, K.TENANT_RESERVED, "lab") == reserved.copay
    assert bal(ledger, K.TENANT_BALANCE, "lab") == 20_000 - reserved.copay

    usage = a_usage(seconds=case.seconds)
    actual = actual_split(reserved, usage.cost)
    settle(ledger, "j1", 1, usage, actual, START + 100)

    assert dict(actual.shares) == case.paid
    assert actual.copay == case.spent
    for program_id, share in reserved.shares:
        assert bal(ledger, K.PROGRAM_PAID, program_id) == case.paid[program_id]
        assert bal(ledger, K.PROGRAM_RESERVED, program_id) == 0
        released = share - case.paid[program_id]
        assert bal(ledger, K.PROGRAM_BUDGET, program_id) == 1_000_000 - share + released
    assert bal(ledger, K.TENANT_SPENT, "lab") == case.spent
    assert bal(ledger, K.TENANT_RESERVED, "lab") == 0
    assert bal(ledger, K.TENANT_BALANCE, "lab") == 20_000 - case.spent
    assert bal(ledger, K.OWNER_RECEIVABLE, "sz-gov") == usage.cost
    assert bal(ledger, K.POOL_PAYABLE, "sz-gov") == -usage.cost
    assert ledger.check() == []


def test_the_issue_example_moves_these_amounts_in_one_settlement_posting() -> None:
    ledger = book()
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    usage = a_usage(seconds=2160)
    posting = settle(ledger, "j1", 1, usage, a_split(6000, ("sz", 1800)), START + 100)
    assert {(a.kind.value, a.holder): amount for a, amount in posting.entries} == {
        ("program-reserved", "sz"): -3000,
        ("program-paid", "sz"): 1800,
        ("program-budget", "sz"): 1200,  # released
        ("tenant-reserved", "lab"): -7000,
        ("tenant-spent", "lab"): 4200,
        ("tenant-balance", "lab"): 2800,  # released
        ("owner-receivable", "sz-gov"): 6000,
        ("pool-payable", "sz-gov"): -6000,
    }
    assert posting.usage == usage


def test_release_returns_the_whole_reservation() -> None:
    ledger = book()
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    release(ledger, "j1", 1, START + 5)
    assert bal(ledger, K.PROGRAM_BUDGET, "sz") == 1_000_000
    assert bal(ledger, K.TENANT_BALANCE, "lab") == 20_000
    assert bal(ledger, K.PROGRAM_RESERVED, "sz") == bal(ledger, K.TENANT_RESERVED, "lab") == 0
    assert ledger.check() == []


# ------------------------------------------------------------------ actual_split


@pytest.mark.parametrize(
    ("reserved", "cost", "expected"),
    [
        (a_split(10_000, ("sz", 3000)), 6000, a_split(6000, ("sz", 1800))),
        (a_split(10_000, ("a", 2000), ("b", 1000)), 5000, a_split(5000, ("a", 1000), ("b", 500))),
        (a_split(10_000, ("sz", 3333)), 3, a_split(3, ("sz", 0))),
        (a_split(10_000, ("sz", 3000)), 12_000, a_split(12_000, ("sz", 3000))),
        (a_split(0), 7, a_split(7)),
        # All subsidised: the co-payment reserved nothing, so it may not absorb the rounding;
        # the remainder goes to the first share, still within its reservation.
        (a_split(2, ("a", 1), ("b", 1)), 1, a_split(1, ("a", 1), ("b", 0))),
        (a_split(3, ("a", 1), ("b", 1)), 2, a_split(2, ("a", 1), ("b", 0))),
    ],
)
def test_actual_split_scales_down_rounding_for_the_sponsor(
    reserved: Split, cost: int, expected: Split
) -> None:
    assert actual_split(reserved, cost) == expected


def test_actual_split_never_raises_a_share_or_a_below_estimate_copay_above_its_reservation() -> (
    None
):
    reserved = a_split(9_999, ("a", 4_001), ("b", 2_999))
    for cost in range(0, 12_000, 7):
        actual = actual_split(reserved, cost)
        assert actual.cost == cost
        assert actual.share_of("a") <= 4_001 and actual.share_of("b") <= 2_999
        if cost <= reserved.cost:
            assert actual.copay <= reserved.copay


# ------------------------------------------------------------------ refusals


def test_reserve_refuses_naming_every_shortfall_and_posts_nothing() -> None:
    ledger = Ledger()
    fund_program(ledger, a_program("tiny", 3000, budget=1000))
    top_up(ledger, "lab", CNY, 500, "pay-1")
    before = unchanged(ledger)
    with pytest.raises(InsufficientFunds) as refused:
        reserve(ledger, "j1", 1, "lab", a_split(10_000, ("tiny", 3000)), START)
    assert str(refused.value) == (
        "job j1 attempt 1 cannot be reserved: budget of program tiny has 1000 CNY, needs 3000;"
        " balance of tenant lab has 500 CNY, needs 7000"
    )
    assert [s.what for s in refused.value.shortfalls] == [
        "budget of program tiny",
        "balance of tenant lab",
    ]
    assert unchanged(ledger) == before


def test_reserve_with_the_programs_refuses_a_share_above_the_tenants_cap_this_period() -> None:
    capped = a_program("hz", 3000, tenant_cap=5000, cap_period_s=30 * 24 * HOUR)
    programs = {"hz": capped}
    ledger = book()
    fund_program(ledger, capped)
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("hz", 3000)), START, programs=programs)
    with pytest.raises(InsufficientFunds, match="cap of tenant lab in program hz has 2000 CNY"):
        reserve(ledger, "j2", 1, "lab", a_split(10_000, ("hz", 3000)), START, programs=programs)
    # Next month the cap is whole again; the first draw stays in its own month.
    next_month = START + 30 * 24 * HOUR
    reserve(ledger, "j2", 1, "lab", a_split(10_000, ("hz", 3000)), next_month, programs=programs)
    assert drawn_in_period(ledger, capped, "lab", START) == 3000
    assert drawn_in_period(ledger, capped, "lab", next_month) == 3000


def test_a_retried_reservation_is_a_no_op_even_when_funds_have_since_run_out() -> None:
    ledger = book(balance=7000)
    first = reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    assert bal(ledger, K.TENANT_BALANCE, "lab") == 0
    assert reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START) is first
    with pytest.raises(ConflictingPosting):
        reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 2000)), START)


def test_settling_twice_is_a_no_op_and_never_a_second_claim() -> None:
    ledger = book()
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    usage = a_usage(seconds=2160)
    first = settle(ledger, "j1", 1, usage, a_split(6000, ("sz", 1800)), START + 100)
    before = unchanged(ledger)
    assert settle(ledger, "j1", 1, usage, a_split(6000, ("sz", 1800)), START + 200) is first
    assert unchanged(ledger) == before
    with pytest.raises(ConflictingPosting):  # the same attempt billed again for more
        settle(ledger, "j1", 1, a_usage(seconds=HOUR), a_split(10_000, ("sz", 3000)), START + 300)
    with pytest.raises(AttemptClosed, match="closed by a settle"):
        release(ledger, "j1", 1, START + 300)
    assert unchanged(ledger) == before
    assert bal(ledger, K.OWNER_RECEIVABLE, "sz-gov") == 6000


def test_an_attempt_never_reserved_cannot_be_settled_or_released() -> None:
    ledger = book()
    with pytest.raises(UnknownAttempt, match="job j9 attempt 1 was never reserved"):
        settle(ledger, "j9", 1, a_usage(), a_split(10_000), START)
    with pytest.raises(UnknownAttempt):
        release(ledger, "j9", 1, START)


def test_a_released_attempt_cannot_be_settled_and_releasing_again_is_a_no_op() -> None:
    ledger = book()
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    first = release(ledger, "j1", 1, START + 5)
    assert release(ledger, "j1", 1, START + 6) is first
    with pytest.raises(AttemptClosed, match="closed by a release"):
        settle(ledger, "j1", 1, a_usage(seconds=10), a_split(28, ("sz", 8)), START + 7)


@pytest.mark.parametrize(
    ("usage_seconds", "actual", "message"),
    [
        (2160, a_split(6000, ("sz", 3500)), "program sz would pay 3500, more than the 3000"),
        (2160, a_split(6000, ("sz", 1000), ("other", 800)), "program other would pay 800"),
        (2160, a_split(5000, ("sz", 1500)), "the split is of 5000 but the usage costs 6000"),
        (2160, a_split(6000, ("sz", 1800), currency=HKD), "usage in CNY, split in HKD"),
    ],
)
def test_a_settlement_that_does_not_fit_its_usage_or_reservation_is_refused(
    usage_seconds: int, actual: Split, message: str
) -> None:
    ledger = book()
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    before = unchanged(ledger)
    with pytest.raises(InvalidSettlement, match=message):
        settle(ledger, "j1", 1, a_usage(seconds=usage_seconds), actual, START + 100)
    with pytest.raises(InvalidSettlement, match="reserved for tenant lab, not other"):
        settle(ledger, "j1", 1, a_usage("other", seconds=0), a_split(0), START + 100)
    assert unchanged(ledger) == before


def test_usage_over_the_estimate_needs_the_tenants_balance_for_the_excess() -> None:
    ledger = book(balance=7000)
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    usage = a_usage(seconds=5400)  # 15,000 fen: 5,000 above the estimate, balance 0
    before = unchanged(ledger)
    with pytest.raises(InsufficientFunds, match=r"balance of tenant lab .* has 0 CNY, needs 5000"):
        settle(ledger, "j1", 1, usage, actual_split(reservation(ledger, "j1", 1), usage.cost), 1)
    assert unchanged(ledger) == before
    top_up(ledger, "lab", CNY, 5000, "pay-2")
    settle(ledger, "j1", 1, usage, actual_split(reservation(ledger, "j1", 1), usage.cost), 1)
    assert bal(ledger, K.TENANT_SPENT, "lab") == 12_000
    assert bal(ledger, K.TENANT_BALANCE, "lab") == 0


def test_a_preempted_job_resumes_as_a_new_attempt_with_a_new_reservation() -> None:
    ledger = book()
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    with pytest.raises(AttemptStillOpen, match="attempt 1 still holds a reservation"):
        reserve(ledger, "j1", 2, "lab", a_split(6000, ("sz", 1800)), START + 1440)
    # Preempted after 40 % of its walltime: that part is settled, the rest reserved anew.
    first = a_usage(seconds=1440)
    settle(ledger, "j1", 1, first, actual_split(reservation(ledger, "j1", 1), first.cost), 1440)
    reserve(ledger, "j1", 2, "lab", a_split(6000, ("sz", 1800)), START + 1500)
    second = a_usage(seconds=2160)
    settle(ledger, "j1", 2, second, actual_split(reservation(ledger, "j1", 2), second.cost), 9)
    assert bal(ledger, K.PROGRAM_PAID, "sz") == 1200 + 1800
    assert bal(ledger, K.TENANT_SPENT, "lab") == 2800 + 4200
    assert bal(ledger, K.OWNER_RECEIVABLE, "sz-gov") == 10_000
    assert ledger.check() == []


# ------------------------------------------------------------------ currencies


def test_hkd_and_cny_live_side_by_side_and_never_mix() -> None:
    ledger = book()
    top_up(ledger, "lab", HKD, 20_000, "pay-hk", at=START)
    reserve(ledger, "cn", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    reserve(ledger, "hk", 1, "lab", a_split(10_000, ("hk", 7000), currency=HKD), START)
    assert bal(ledger, K.TENANT_BALANCE, "lab", CNY) == 13_000
    assert bal(ledger, K.TENANT_BALANCE, "lab", HKD) == 17_000
    # A CNY job cannot draw on the HKD program: in CNY it has no budget at all...
    with pytest.raises(InsufficientFunds, match="budget of program hk has 0 CNY"):
        reserve(ledger, "x", 1, "lab", a_split(10_000, ("hk", 7000)), START)
    # ...and, knowing the programs, the flow says why.
    with pytest.raises(CurrencyMismatch, match="program hk pays in HKD"):
        reserve(ledger, "x", 1, "lab", a_split(10_000, ("hk", 7000)), START, programs=PROGRAMS)
    # An HKD attempt is settled in HKD only.
    usage = a_usage(seconds=HOUR, currency=HKD, owner="hk-centre")
    with pytest.raises(InvalidSettlement, match="usage in CNY, split in HKD"):
        settle(ledger, "hk", 1, a_usage(), a_split(10_000, ("hk", 7000), currency=HKD), 1)
    settle(ledger, "hk", 1, usage, actual_split(reservation(ledger, "hk", 1), usage.cost), 1)
    for currency in (CNY, HKD):
        total = sum(v for a, v in ledger.balances().items() if a.currency is currency)
        assert total == 0
    assert bal(ledger, K.OWNER_RECEIVABLE, "hk-centre", HKD) == 10_000
    assert bal(ledger, K.OWNER_RECEIVABLE, "hk-centre", CNY) == 0
    assert ledger.check() == []


# ------------------------------------------------------------------ what the engine reads


def test_budgets_for_the_engine_come_from_the_ledger() -> None:
    capped = a_program("hz", 3000, tenant_cap=5000)
    ledger = book()
    fund_program(ledger, capped)
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("hz", 3000)), START)
    reserve(ledger, "j2", 1, "lab", a_split(10_000, ("hz", 2000)), START)
    usage = a_usage(seconds=1800)
    settle(ledger, "j1", 1, usage, actual_split(reservation(ledger, "j1", 1), usage.cost), 9)
    release(ledger, "j2", 1, START + 9)

    budgets = budgets_from(ledger, [*PROGRAMS.values(), capped])
    assert budgets.funds.remaining["hz"] == 1_000_000 - 1500
    assert budgets.funds.drawn == {("hz", "lab", 0): 1500}  # paid counts, released does not
    assert budgets.funds.cap_left(capped, "lab", START) == 3500
    assert budgets.balance("lab", CNY) == 20_000 - 3500
    assert funds_from(ledger, [SZ]).remaining == {"sz": 1_000_000}
