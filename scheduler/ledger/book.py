"""The double-entry book: accounts, postings and the append-only, in-memory ledger.

Every amount is an integer of a currency's minor unit (fen, HK cents, avos). A posting moves
money between accounts; its entries sum to zero in every currency, so the whole book always sums
to zero per currency and no money is created, lost or silently converted. Postings are plain
frozen values numbered by `seq`; a ledger is rebuilt by replaying them, so whoever persists them
(a store, an event log) needs nothing else.

Sign convention: an account's balance is the sum of its entries. Holding accounts (budgets,
balances, reservations, what was paid, spent or is receivable) never go below zero; source
accounts (where money came from, or who is owed it) never go above zero.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.domain.geography import Currency
from scheduler.ledger.errors import (
    ConflictingPosting,
    MixedCurrencies,
    Overdraft,
    ReplayError,
    UnbalancedPosting,
)
from scheduler.ledger.usage import Usage


class AccountKind(enum.StrEnum):
    """What an account holds. The holder is a program, tenant, owner or sponsor id."""

    SPONSOR_FUNDING = "sponsor-funding"
    """Source: what a sponsor (a city, a district) committed to its programs. Negative."""
    PROGRAM_BUDGET = "program-budget"
    """A program's budget neither reserved nor paid: what it can still promise."""
    PROGRAM_RESERVED = "program-reserved"
    """A program's shares of the estimates of attempts that are running (not yet settled)."""
    PROGRAM_PAID = "program-paid"
    """A program's shares of settled usage: what it owes for compute actually delivered."""
    TENANT_DEPOSITS = "tenant-deposits"
    """Source: what a tenant paid into the pool (top-ups). Negative."""
    TENANT_BALANCE = "tenant-balance"
    """A tenant's prepaid money neither reserved nor spent."""
    TENANT_RESERVED = "tenant-reserved"
    """A tenant's co-payments on the estimates of attempts that are running."""
    TENANT_SPENT = "tenant-spent"
    """A tenant's co-payments on settled usage."""
    OWNER_RECEIVABLE = "owner-receivable"
    """What an owner is owed for capacity it lent: the whole actual cost of settled usage."""
    POOL_PAYABLE = "pool-payable"
    """Source: the pool's obligation to pay an owner (holder: the owner), the other side of
    its receivable. Negative; a future payout debits both."""

    @property
    def source(self) -> bool:
        """True for accounts that record where money came from or who is owed it (≤ 0)."""
        return self in _SOURCES


_SOURCES = frozenset(
    {AccountKind.SPONSOR_FUNDING, AccountKind.TENANT_DEPOSITS, AccountKind.POOL_PAYABLE}
)


@dataclass(frozen=True, slots=True, order=True)
class Account:
    kind: AccountKind
    holder: str
    currency: Currency

    def __str__(self) -> str:
        return f"{self.kind}:{self.holder}:{self.currency}"


Entry = tuple[Account, int]


class PostingKind(enum.StrEnum):
    FUND = "fund"  # a program's budget arrives from its sponsor
    TOP_UP = "top-up"  # a tenant pays money in
    RESERVE = "reserve"  # an attempt's estimated cost is set aside at admission
    SETTLE = "settle"  # an attempt's actual cost is paid, the rest of its reservation released
    RELEASE = "release"  # an attempt ends without usage: its whole reservation is released

    @property
    def of_attempt(self) -> bool:
        return self in _ATTEMPT_KINDS


_ATTEMPT_KINDS = frozenset({PostingKind.RESERVE, PostingKind.SETTLE, PostingKind.RELEASE})


@dataclass(frozen=True, slots=True, order=True)
class PostingKey:
    """What makes a posting unique, so that repeating it is harmless.

    Attempt postings: (kind, job id, attempt). Funding: (FUND, program id). Top-ups: (TOP_UP,
    tenant id, ref) where `ref` is the payment's own reference."""

    kind: PostingKind
    subject: str
    attempt: int = 0
    ref: str = ""

    @classmethod
    def of_attempt(cls, kind: PostingKind, job_id: str, attempt: int) -> PostingKey:
        return cls(kind, job_id, attempt)

    def __str__(self) -> str:
        if self.kind.of_attempt:
            return f"{self.kind} job {self.subject} attempt {self.attempt}"
        return f"{self.kind} {self.subject}" + (f" ref {self.ref}" if self.ref else "")


@dataclass(frozen=True, slots=True)
class Posting:
    """One balanced movement of money, at epoch second `at`.

    `currency`, when set, is the only currency the entries may use: every posting the flows
    make is in one currency, and says which even when it moves nothing (a zero-cost attempt).
    `tenant` is the tenant an attempt posting is for (also when its co-payment is zero and no
    tenant account appears); `usage` is what a settlement bills."""

    seq: int
    key: PostingKey
    at: int
    entries: tuple[Entry, ...]
    currency: Currency | None = None
    tenant: str | None = None
    usage: Usage | None = None

    def same_content(self, other: Posting) -> bool:
        """Equal apart from `seq` and `at`: a retry may arrive later, it moves the same money."""
        return (
            self.key == other.key
            and self.entries == other.entries
            and self.currency == other.currency
            and self.tenant == other.tenant
            and self.usage == other.usage
        )


def imbalance(entries: Iterable[Entry]) -> dict[Currency, int]:
    """The non-zero sums of `entries` per currency (empty when they balance)."""
    totals: dict[Currency, int] = {}
    for account, amount in entries:
        totals[account.currency] = totals.get(account.currency, 0) + amount
    return {currency: total for currency, total in totals.items() if total != 0}


def wrong_side(account: Account, balance: int) -> bool:
    return balance > 0 if account.kind.source else balance < 0


class Ledger:
    """An append-only book of postings with running balances.

    Besides balances it indexes what `flows` and reports look up often: postings by key, each
    job's attempt postings, and what each tenant still draws from each program (reserved or
    paid) keyed by the time of the reservation, since tenant caps are per period."""

    __slots__ = ("_balances", "_by_job", "_by_key", "_draws", "_postings")

    def __init__(self) -> None:
        self._postings: list[Posting] = []
        self._by_key: dict[PostingKey, Posting] = {}
        self._by_job: dict[str, list[Posting]] = {}
        self._balances: dict[Account, int] = {}
        self._draws: dict[tuple[str, str], dict[int, int]] = {}

    def __len__(self) -> int:
        return len(self._postings)

    # ------------------------------------------------------------------ writing

    def post(
        self,
        key: PostingKey,
        at: int,
        entries: Iterable[Entry],
        *,
        currency: Currency | None = None,
        tenant: str | None = None,
        usage: Usage | None = None,
    ) -> Posting:
        """Append a posting, or return the one already posted under `key` if it has the same
        content. Raises ConflictingPosting (same key, other content), UnbalancedPosting, or
        Overdraft; nothing changes when it raises."""
        posting = Posting(len(self._postings) + 1, key, at, tuple(entries), currency, tenant, usage)
        existing = self._by_key.get(key)
        if existing is not None:
            if existing.same_content(posting):
                return existing
            raise ConflictingPosting(f"{key}: already posted as #{existing.seq} with other content")
        _validate(posting)
        for account, amount in posting.entries:
            after = self._balances.get(account, 0) + amount
            if wrong_side(account, after):
                raise Overdraft(f"{key}: {account} would be {after}")
        self._append(posting)
        return posting

    def _append(self, posting: Posting) -> None:
        self._postings.append(posting)
        self._by_key[posting.key] = posting
        for account, amount in posting.entries:
            after = self._balances.get(account, 0) + amount
            if after:
                self._balances[account] = after
            else:
                self._balances.pop(account, None)
        if posting.key.kind.of_attempt:
            self._by_job.setdefault(posting.key.subject, []).append(posting)
            self._track_draws(posting)

    def _track_draws(self, posting: Posting) -> None:
        # A reservation draws each program's share; settling or releasing gives back what
        # returns to the program's budget. The draw stays in the reservation's period.
        key = posting.key
        if posting.tenant is None:
            return
        if key.kind is PostingKind.RESERVE:
            at, kind, sign = posting.at, AccountKind.PROGRAM_RESERVED, 1
        else:
            reserve = self._by_key.get(
                PostingKey.of_attempt(PostingKind.RESERVE, key.subject, key.attempt)
            )
            if reserve is None:
                return
            at, kind, sign = reserve.at, AccountKind.PROGRAM_BUDGET, -1
        for account, amount in posting.entries:
            if account.kind is kind:
                draws = self._draws.setdefault((account.holder, posting.tenant), {})
                draws[at] = draws.get(at, 0) + sign * amount
                if not draws[at]:
                    del draws[at]

    @classmethod
    def replay(cls, postings: Iterable[Posting]) -> Ledger:
        """Rebuild a ledger from its postings, in `seq` order from 1 with no gaps. Every posting
        is validated again, so a corrupted log is refused rather than believed."""
        ledger = cls()
        for expected, posting in enumerate(postings, start=1):
            if posting.seq != expected:
                raise ReplayError(f"posting #{posting.seq} found where #{expected} was expected")
            try:
                again = ledger.post(
                    posting.key,
                    posting.at,
                    posting.entries,
                    currency=posting.currency,
                    tenant=posting.tenant,
                    usage=posting.usage,
                )
            except (ConflictingPosting, UnbalancedPosting, Overdraft) as exc:
                raise ReplayError(f"posting #{posting.seq}: {exc}") from exc
            if again.seq != posting.seq:
                raise ReplayError(f"posting #{posting.seq} repeats #{again.seq} ({posting.key})")
        return ledger

    # ------------------------------------------------------------------ reading

    def balance(self, account: Account) -> int:
        return self._balances.get(account, 0)

    def balances(self) -> dict[Account, int]:
        """Every account with a non-zero balance."""
        return dict(self._balances)

    def postings(self, after: int = 0) -> tuple[Posting, ...]:
        """The postings after the first `after` (all by default), in order: a writer that kept
        how many it has stored takes only the new ones, without copying the whole book."""
        return tuple(self._postings[after:])

    def find(self, key: PostingKey) -> Posting | None:
        return self._by_key.get(key)

    def attempt_postings(self, job_id: str) -> tuple[Posting, ...]:
        """The reserve, settle and release postings of every attempt of `job_id`, in order."""
        return tuple(self._by_job.get(job_id, ()))

    def drawn(self, program_id: str, tenant: str) -> Mapping[int, int]:
        """What `tenant` still draws from `program_id` (reserved or paid), by reservation time."""
        return dict(self._draws.get((program_id, tenant), {}))

    def draws(self) -> dict[tuple[str, str], dict[int, int]]:
        """`drawn` for every (program id, tenant) at once."""
        return {key: dict(draws) for key, draws in self._draws.items() if draws}

    # ------------------------------------------------------------------ checking

    def check(self) -> list[str]:
        """Every invariant the book must keep, recomputed from the postings alone (not from the
        running balances); returns what is violated, empty when all is well."""
        out: list[str] = []
        balances: dict[Account, int] = {}
        for expected, posting in enumerate(self._postings, start=1):
            if posting.seq != expected:
                out.append(f"posting #{posting.seq} is at position {expected}")
            try:
                _validate(posting)
            except UnbalancedPosting as exc:
                out.append(f"posting #{posting.seq}: {exc}")
            for account, amount in posting.entries:
                balances[account] = balances.get(account, 0) + amount
        balances = {account: amount for account, amount in balances.items() if amount}
        if balances != self._balances:
            out.append("running balances differ from the sum of the postings")
        for account, amount in sorted(balances.items()):
            if wrong_side(account, amount):
                out.append(f"{account} is {amount}")
        out.extend(_reconcile_owners(balances))
        out.extend(self._attempt_violations())
        return out

    def _attempt_violations(self) -> list[str]:
        out: list[str] = []
        for job_id, postings in sorted(self._by_job.items()):
            kinds: dict[int, list[PostingKind]] = {}
            for posting in postings:
                kinds.setdefault(posting.key.attempt, []).append(posting.key.kind)
            for attempt, seen in sorted(kinds.items()):
                where = f"job {job_id} attempt {attempt}"
                if seen[0] is not PostingKind.RESERVE:
                    out.append(f"{where}: {seen[0]} before any reservation")
                if len(seen) > 2 or seen.count(PostingKind.RESERVE) > 1:
                    out.append(f"{where}: closed more than once ({', '.join(seen)})")
            still_open = [a for a, seen in kinds.items() if seen == [PostingKind.RESERVE]]
            if len(still_open) > 1:
                out.append(f"job {job_id}: attempts {sorted(still_open)} are all open")
        return out


def _validate(posting: Posting) -> None:
    seen: set[Account] = set()
    for account, amount in posting.entries:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
            raise UnbalancedPosting(f"{posting.key}: {account} amount must be a non-zero integer")
        if account in seen:
            raise UnbalancedPosting(f"{posting.key}: {account} appears twice")
        seen.add(account)
        if posting.currency is not None and account.currency is not posting.currency:
            raise MixedCurrencies(
                f"{posting.key}: {account} is not in the posting's currency {posting.currency}"
            )
    off = imbalance(posting.entries)
    if off:
        detail = ", ".join(f"{total:+d} {currency}" for currency, total in sorted(off.items()))
        raise UnbalancedPosting(f"{posting.key}: entries do not balance ({detail})")


def _reconcile_owners(balances: Mapping[Account, int]) -> list[str]:
    """What owners are owed equals what programs paid plus what tenants spent, per currency,
    and each owner's receivable mirrors the pool's payable to it."""
    out: list[str] = []
    consumed: dict[Currency, int] = {}
    owed: dict[Currency, int] = {}
    mirror: dict[tuple[str, Currency], int] = {}
    for account, amount in balances.items():
        if account.kind in (AccountKind.PROGRAM_PAID, AccountKind.TENANT_SPENT):
            consumed[account.currency] = consumed.get(account.currency, 0) + amount
        elif account.kind is AccountKind.OWNER_RECEIVABLE:
            owed[account.currency] = owed.get(account.currency, 0) + amount
            key = (account.holder, account.currency)
            mirror[key] = mirror.get(key, 0) + amount
        elif account.kind is AccountKind.POOL_PAYABLE:
            key = (account.holder, account.currency)
            mirror[key] = mirror.get(key, 0) + amount
    for currency in sorted(set(consumed) | set(owed)):
        if consumed.get(currency, 0) != owed.get(currency, 0):
            out.append(
                f"owners are owed {owed.get(currency, 0)} {currency} but programs and tenants"
                f" paid {consumed.get(currency, 0)}"
            )
    for (owner, currency), amount in sorted(mirror.items()):
        if amount:
            out.append(f"owner {owner}: receivable and pool payable differ by {amount} {currency}")
    return out
