"""The double-entry book: balanced, append-only, idempotent by key, rebuilt by replay."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scheduler.domain.errors import CurrencyMismatch
from scheduler.domain.geography import Currency
from scheduler.ledger.book import Account, AccountKind, Ledger, Posting, PostingKey, PostingKind
from scheduler.ledger.errors import ConflictingPosting, Overdraft, ReplayError, UnbalancedPosting
from scheduler.ledger.flows import fund_program, reserve, settle, top_up
from tests.ledger_builders import START, a_program, a_split, a_usage

CNY, HKD = Currency.CNY, Currency.HKD
SPONSOR = Account(AccountKind.SPONSOR_FUNDING, "shenzhen", CNY)
BUDGET = Account(AccountKind.PROGRAM_BUDGET, "sz", CNY)
RESERVED = Account(AccountKind.PROGRAM_RESERVED, "sz", CNY)
HK_SPONSOR = Account(AccountKind.SPONSOR_FUNDING, "hksar", HKD)
HK_BUDGET = Account(AccountKind.PROGRAM_BUDGET, "hk", HKD)
FUND_SZ = PostingKey(PostingKind.FUND, "sz")


def funded() -> Ledger:
    ledger = Ledger()
    ledger.post(FUND_SZ, START, [(SPONSOR, -10_000), (BUDGET, 10_000)], currency=CNY)
    return ledger


def snapshot(ledger: Ledger) -> tuple[tuple[Posting, ...], dict[Account, int]]:
    return ledger.postings(), ledger.balances()


def test_a_balanced_posting_moves_money_and_the_book_still_sums_to_zero() -> None:
    ledger = funded()
    ledger.post(
        PostingKey.of_attempt(PostingKind.RESERVE, "j1", 1),
        START,
        [(BUDGET, -3000), (RESERVED, 3000)],
    )
    assert ledger.balance(SPONSOR) == -10_000
    assert ledger.balance(BUDGET) == 7000
    assert ledger.balance(RESERVED) == 3000
    assert sum(ledger.balances().values()) == 0
    assert [p.seq for p in ledger.postings()] == [1, 2]
    assert ledger.check() == []


@pytest.mark.parametrize(
    "entries",
    [
        [(SPONSOR, -10_000), (BUDGET, 9_999)],  # one fen created
        [(BUDGET, 100)],  # money from nowhere
        [(SPONSOR, -100), (HK_BUDGET, 100)],  # CNY out, HKD in: balances only if converted
        [(SPONSOR, -100), (BUDGET, 100), (HK_SPONSOR, -5), (HK_BUDGET, 4)],  # HKD leg off
        [(SPONSOR, 0), (BUDGET, 0)],  # zero entries say nothing
        [(SPONSOR, -100), (BUDGET, 50), (BUDGET, 50)],  # one account twice
    ],
    ids=["fen-created", "one-sided", "cny-to-hkd", "hkd-leg-off", "zeros", "account-twice"],
)
def test_an_unbalanced_or_malformed_posting_is_rejected_and_nothing_changes(
    entries: list[tuple[Account, int]],
) -> None:
    ledger = funded()
    before = snapshot(ledger)
    with pytest.raises(UnbalancedPosting):
        ledger.post(PostingKey(PostingKind.FUND, "other"), START, entries)
    assert snapshot(ledger) == before
    assert ledger.find(PostingKey(PostingKind.FUND, "other")) is None


def test_two_currencies_may_share_a_posting_only_when_each_balances_and_none_is_named() -> None:
    ledger = Ledger()
    both = [(SPONSOR, -100), (BUDGET, 100), (HK_SPONSOR, -50), (HK_BUDGET, 50)]
    ledger.post(PostingKey(PostingKind.FUND, "both"), START, both)
    assert ledger.balance(BUDGET) == 100
    assert ledger.balance(HK_BUDGET) == 50
    with pytest.raises(CurrencyMismatch):  # a CNY posting may not touch an HKD account
        ledger.post(PostingKey(PostingKind.FUND, "cny"), START, both, currency=CNY)


def test_reposting_the_same_key_and_entries_is_a_no_op_returning_the_first_posting() -> None:
    ledger = funded()
    before = snapshot(ledger)
    again = ledger.post(FUND_SZ, START + 999, [(SPONSOR, -10_000), (BUDGET, 10_000)], currency=CNY)
    assert again is ledger.postings()[0]
    assert again.at == START  # the retry moved nothing, so the first time stands
    assert snapshot(ledger) == before


def test_postings_after_a_count_are_the_newer_ones_in_order() -> None:
    ledger = funded()
    top_up(ledger, "pcl", CNY, 500, ref="pay-1", at=START)
    top_up(ledger, "pcl", CNY, 700, ref="pay-2", at=START)

    assert ledger.postings(1) == ledger.postings()[1:]
    assert [p.seq for p in ledger.postings(1)] == [2, 3]
    assert ledger.postings(len(ledger)) == ()


@pytest.mark.parametrize(
    "entries",
    [[(SPONSOR, -20_000), (BUDGET, 20_000)], [(BUDGET, 10_000), (SPONSOR, -10_000)]],
    ids=["other-amount", "other-order"],
)
def test_reposting_a_key_with_other_entries_raises_and_nothing_changes(
    entries: list[tuple[Account, int]],
) -> None:
    ledger = funded()
    before = snapshot(ledger)
    with pytest.raises(ConflictingPosting, match="fund sz"):
        ledger.post(FUND_SZ, START, entries, currency=CNY)
    assert snapshot(ledger) == before


@pytest.mark.parametrize(
    "entries",
    [
        [(BUDGET, -10_001), (RESERVED, 10_001)],  # a budget below zero
        [(SPONSOR, 10_001), (BUDGET, -10_001)],  # more returned to the sponsor than it gave
    ],
    ids=["budget-below-zero", "source-above-zero"],
)
def test_an_overdraft_is_refused_by_the_book_itself(entries: list[tuple[Account, int]]) -> None:
    ledger = funded()
    before = snapshot(ledger)
    with pytest.raises(Overdraft):
        ledger.post(PostingKey(PostingKind.FUND, "x"), START, entries)
    assert snapshot(ledger) == before


def busy_ledger() -> Ledger:
    ledger = Ledger()
    sz, hk = a_program("sz", 3000), a_program("hk", 7000, currency=HKD)
    fund_program(ledger, sz)
    fund_program(ledger, hk)
    top_up(ledger, "lab", CNY, 50_000, "pay-1", at=START)
    top_up(ledger, "lab", HKD, 50_000, "pay-2", at=START)
    reserve(ledger, "j1", 1, "lab", a_split(10_000, ("sz", 3000)), START)
    settle(ledger, "j1", 1, a_usage(seconds=2160), a_split(6000, ("sz", 1800)), START + 10)
    reserve(ledger, "j2", 1, "lab", a_split(10_000, ("hk", 7000), currency=HKD), START + 20)
    return ledger


def test_replaying_the_postings_rebuilds_an_equal_ledger() -> None:
    ledger = busy_ledger()
    again = Ledger.replay(ledger.postings())
    assert again.postings() == ledger.postings()
    assert again.balances() == ledger.balances()
    assert again.draws() == ledger.draws()
    assert again.check() == []


def test_replay_refuses_gaps_repeats_and_tampered_postings() -> None:
    postings = busy_ledger().postings()
    with pytest.raises(ReplayError, match="#3 found where #2"):
        Ledger.replay([postings[0], *postings[2:]])
    with pytest.raises(ReplayError):
        Ledger.replay([*postings, replace(postings[0], seq=len(postings) + 1)])
    (account, amount), *rest = postings[0].entries
    tampered = replace(postings[0], entries=((account, amount + 1), *rest))
    with pytest.raises(ReplayError, match="do not balance"):
        Ledger.replay([tampered, *postings[1:]])


def test_check_reports_attempt_postings_the_flows_would_never_make() -> None:
    # The raw book only balances money; check() also knows the attempt rules.
    ledger = Ledger()
    receivable = Account(AccountKind.OWNER_RECEIVABLE, "sz-gov", CNY)
    payable = Account(AccountKind.POOL_PAYABLE, "sz-gov", CNY)
    ledger.post(
        PostingKey.of_attempt(PostingKind.SETTLE, "ghost", 1),
        START,
        [(receivable, 5), (payable, -5)],
    )
    problems = ledger.check()
    assert "job ghost attempt 1: settle before any reservation" in problems
    assert "owners are owed 5 CNY but programs and tenants paid 0" in problems


def test_check_is_clean_for_everything_the_flows_post() -> None:
    assert busy_ledger().check() == []
