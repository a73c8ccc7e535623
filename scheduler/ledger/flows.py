"""The money flows of the pool, each one posting, each idempotent by its key.

    flow          key                          entries (+ into, - out of)
    fund_program  (fund, program)              sponsor-funding -B, program-budget +B
    fund_to       (fund, program, change-n)    sponsor-funding -d, program-budget +d (d < 0:
                                               a budget cut, at most what is unspent)
    top_up        (top-up, tenant, ref)        tenant-deposits -x, tenant-balance +x
    reserve       (reserve, job, attempt)      per program: budget -s, reserved +s;
                                               tenant: balance -c, reserved +c
    settle        (settle, job, attempt)       per program: reserved -s, paid +a, budget +(s-a);
                                               tenant: reserved -c, spent +a', balance +(c-a');
                                               owner: receivable +cost, pool-payable -cost
    release       (release, job, attempt)      per program: reserved -s, budget +s;
                                               tenant: reserved -c, balance +c

An attempt is reserved once and closed once, by a settlement or a release, never both; a new
attempt of the same job may be reserved only when the earlier ones are closed. So the same usage
is never claimed twice. Zero amounts are left out of a posting.
"""

from __future__ import annotations

from collections.abc import Mapping

from scheduler.domain.errors import CurrencyMismatch, InvalidField, UnknownReference
from scheduler.domain.geography import Currency
from scheduler.ledger.available import drawn_in_period
from scheduler.ledger.book import (
    Account,
    AccountKind,
    Entry,
    Ledger,
    Posting,
    PostingKey,
    PostingKind,
)
from scheduler.ledger.errors import (
    AttemptClosed,
    AttemptStillOpen,
    InsufficientFunds,
    InvalidSettlement,
    Shortfall,
    UnknownAttempt,
)
from scheduler.ledger.programs import Program, Split
from scheduler.ledger.usage import Usage


def fund_program(ledger: Ledger, program: Program, at: int | None = None) -> Posting:
    """The program's whole budget arrives from its sponsor (at the start of its validity unless
    `at` says otherwise)."""
    sponsor = Account(AccountKind.SPONSOR_FUNDING, program.sponsor, program.currency)
    budget = Account(AccountKind.PROGRAM_BUDGET, program.id, program.currency)
    entries = [(sponsor, -program.budget), (budget, program.budget)] if program.budget else []
    when = program.valid_from if at is None else at
    return ledger.post(
        PostingKey(PostingKind.FUND, program.id), when, entries, currency=program.currency
    )


def funded(ledger: Ledger, program_id: str) -> tuple[int, int]:
    """What the program's sponsor has funded in all, and in how many fundings (looked up by
    key: the first, then `change-1`, `change-2`, …)."""
    total = count = 0
    key = PostingKey(PostingKind.FUND, program_id)
    while (posting := ledger.find(key)) is not None:
        count += 1
        total += sum(
            amount
            for account, amount in posting.entries
            if account.kind is AccountKind.PROGRAM_BUDGET
        )
        key = PostingKey(PostingKind.FUND, program_id, ref=f"change-{count}")
    return total, count


def budget_change(ledger: Ledger, program: Program) -> int:
    """How much funding `fund_to` would post (negative: a cut). A cut may take back only what
    is neither paid nor reserved: InvalidField naming `program.budget` otherwise."""
    total, _ = funded(ledger, program.id)
    delta = program.budget - total
    unspent = ledger.balance(Account(AccountKind.PROGRAM_BUDGET, program.id, program.currency))
    if unspent + delta < 0:
        raise InvalidField(
            "program.budget",
            f"cannot cut the budget to {program.budget}: {total - unspent} of the {total} "
            "funded is already paid or reserved",
        )
    return delta


def fund_to(ledger: Ledger, program: Program, at: int) -> Posting | None:
    """Bring what the sponsor funded to `program.budget` (a program whose budget an operator
    changed): the first funding is `fund_program`'s, each later change posts the difference
    (`budget_change`) under the next `change-<n>` ref. None when nothing is owed."""
    _, count = funded(ledger, program.id)
    if count == 0:
        return fund_program(ledger, program)
    delta = budget_change(ledger, program)
    if delta == 0:
        return None
    sponsor = Account(AccountKind.SPONSOR_FUNDING, program.sponsor, program.currency)
    budget = Account(AccountKind.PROGRAM_BUDGET, program.id, program.currency)
    key = PostingKey(PostingKind.FUND, program.id, ref=f"change-{count}")
    return ledger.post(key, at, [(sponsor, -delta), (budget, delta)], currency=program.currency)


def top_up(
    ledger: Ledger, tenant: str, currency: Currency, amount: int, ref: str, at: int = 0
) -> Posting:
    """The tenant pays `amount` minor units in; `ref` is the payment's reference, so the same
    payment reported twice is counted once."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidField("top_up.amount", "must be a positive integer of minor units")
    if not ref:
        raise InvalidField("top_up.ref", "must name the payment")
    entries = [
        (Account(AccountKind.TENANT_DEPOSITS, tenant, currency), -amount),
        (Account(AccountKind.TENANT_BALANCE, tenant, currency), amount),
    ]
    key = PostingKey(PostingKind.TOP_UP, tenant, ref=ref)
    return ledger.post(key, at, entries, currency=currency, tenant=tenant)


def reserve(
    ledger: Ledger,
    job_id: str,
    attempt: int,
    tenant: str,
    split: Split,
    at: int,
    *,
    programs: Mapping[str, Program] | None = None,
) -> Posting:
    """Set aside an attempt's estimated cost as `split` says: each program's share from its
    budget, the co-payment from the tenant's balance. With `programs`, a share may also not
    exceed what is left of the tenant's cap in that program for the period of `at`.

    Raises InsufficientFunds (naming every shortfall) and posts nothing when money is short;
    AttemptStillOpen when an earlier attempt of the job still holds its reservation."""
    key = PostingKey.of_attempt(PostingKind.RESERVE, job_id, attempt)
    shares = _shares(split)
    entries: list[Entry] = []
    for program_id, amount in shares.items():
        entries += _move(
            AccountKind.PROGRAM_BUDGET,
            AccountKind.PROGRAM_RESERVED,
            program_id,
            split.currency,
            amount,
        )
    entries += _move(
        AccountKind.TENANT_BALANCE, AccountKind.TENANT_RESERVED, tenant, split.currency, split.copay
    )
    if ledger.find(key) is None:  # a retry of a posted reservation must not be re-checked
        _refuse_if_another_open(ledger, job_id, attempt)
        short = _shortfalls(ledger, tenant, split, shares, at, programs)
        if short:
            raise InsufficientFunds(f"job {job_id} attempt {attempt} cannot be reserved", short)
    return ledger.post(key, at, entries, currency=split.currency, tenant=tenant)


def reservation(ledger: Ledger, job_id: str, attempt: int) -> Split:
    """What was reserved for an attempt (raises UnknownAttempt if nothing was)."""
    return _split_of(_reserve_posting(ledger, job_id, attempt))


def actual_split(reserved: Split, actual_cost: int) -> Split:
    """Split an attempt's actual cost like its reservation.

    Each share is scaled down in proportion, rounded down (rounding favours the sponsor); the
    remainder is co-payment. Should that lift the co-payment above its own reservation (tiny
    co-payments only), the rest of the remainder goes to the shares in order, each still within
    its reservation, so a settlement never asks more than was reserved of anyone. A cost above
    the estimate keeps the reserved shares; the excess is co-payment."""
    if isinstance(actual_cost, bool) or not isinstance(actual_cost, int) or actual_cost < 0:
        raise InvalidField("actual_cost", "must be a non-negative integer of minor units")
    if actual_cost >= reserved.cost:
        copay = reserved.copay + actual_cost - reserved.cost
        return Split(reserved.currency, actual_cost, reserved.shares, copay)
    scaled = [
        (program_id, amount * actual_cost // reserved.cost)
        for program_id, amount in reserved.shares
    ]
    rest = actual_cost - sum(amount for _, amount in scaled)
    copay = min(rest, reserved.copay)
    rest -= copay
    shares: list[tuple[str, int]] = []
    for (program_id, amount), (_, limit) in zip(scaled, reserved.shares, strict=True):
        extra = min(rest, limit - amount)
        rest -= extra
        shares.append((program_id, amount + extra))
    return Split(reserved.currency, actual_cost, tuple(shares), copay)


def settle(
    ledger: Ledger, job_id: str, attempt: int, usage: Usage, actual: Split, at: int
) -> Posting:
    """Close an attempt with its usage: each program pays its actual share, the tenant its
    actual co-payment, the owner is owed the whole actual cost, and the rest of the reservation
    returns to the program budgets and the tenant's balance. One posting.

    `actual` splits `usage.cost` (see `actual_split`). Settling the same attempt again with the
    same usage is a no-op; with other usage it raises ConflictingPosting. Raises UnknownAttempt
    if the attempt was never reserved, AttemptClosed if it was released, InvalidSettlement if a
    share exceeds its reservation, and InsufficientFunds if the usage ran over the estimate by
    more than the tenant's balance covers (nothing is posted; top up, or bill less)."""
    reserve_posting = _reserve_posting(ledger, job_id, attempt)
    _refuse_if_closed(ledger, job_id, attempt, PostingKind.RELEASE)
    reserved = _split_of(reserve_posting, usage.currency)
    tenant = reserve_posting.tenant or usage.tenant
    _check_settlement(job_id, attempt, tenant, reserved, usage, actual)
    currency = usage.currency
    entries: list[Entry] = []
    for program_id, held in _shares(reserved).items():
        paid = actual.share_of(program_id)
        entries += _close(AccountKind.PROGRAM_RESERVED, -held, program_id, currency)
        entries += _close(AccountKind.PROGRAM_PAID, paid, program_id, currency)
        entries += _close(AccountKind.PROGRAM_BUDGET, held - paid, program_id, currency)
    entries += _close(AccountKind.TENANT_RESERVED, -reserved.copay, tenant, currency)
    entries += _close(AccountKind.TENANT_SPENT, actual.copay, tenant, currency)
    entries += _close(AccountKind.TENANT_BALANCE, reserved.copay - actual.copay, tenant, currency)
    entries += _close(AccountKind.OWNER_RECEIVABLE, actual.cost, usage.owner, currency)
    entries += _close(AccountKind.POOL_PAYABLE, -actual.cost, usage.owner, currency)
    key = PostingKey.of_attempt(PostingKind.SETTLE, job_id, attempt)
    if ledger.find(key) is None:
        excess = actual.copay - reserved.copay
        balance = ledger.balance(Account(AccountKind.TENANT_BALANCE, tenant, currency))
        if excess > balance:
            what = f"balance of tenant {tenant} (usage above the estimate)"
            raise InsufficientFunds(
                f"job {job_id} attempt {attempt} cannot be settled",
                [Shortfall(what, currency, excess, balance)],
            )
    return ledger.post(key, at, entries, currency=currency, tenant=tenant, usage=usage)


def release(ledger: Ledger, job_id: str, attempt: int, at: int) -> Posting:
    """Close an attempt that used nothing (cancelled or lost before it started): its whole
    reservation returns to the program budgets and the tenant's balance."""
    reserve_posting = _reserve_posting(ledger, job_id, attempt)
    _refuse_if_closed(ledger, job_id, attempt, PostingKind.SETTLE)
    reserved = _split_of(reserve_posting)
    currency = reserved.currency
    tenant = reserve_posting.tenant or ""
    entries: list[Entry] = []
    for program_id, held in _shares(reserved).items():
        entries += _move(
            AccountKind.PROGRAM_RESERVED, AccountKind.PROGRAM_BUDGET, program_id, currency, held
        )
    entries += _move(
        AccountKind.TENANT_RESERVED, AccountKind.TENANT_BALANCE, tenant, currency, reserved.copay
    )
    key = PostingKey.of_attempt(PostingKind.RELEASE, job_id, attempt)
    return ledger.post(key, at, entries, currency=currency, tenant=tenant)


def is_open(ledger: Ledger, job_id: str, attempt: int) -> bool:
    """True when the attempt holds a reservation that no settlement or release closed yet."""
    return ledger.find(
        PostingKey.of_attempt(PostingKind.RESERVE, job_id, attempt)
    ) is not None and (
        ledger.find(PostingKey.of_attempt(PostingKind.SETTLE, job_id, attempt)) is None
        and ledger.find(PostingKey.of_attempt(PostingKind.RELEASE, job_id, attempt)) is None
    )


def open_attempts(ledger: Ledger) -> set[tuple[str, int]]:
    """(job id, attempt) of every reservation not yet closed: what a recovering coordinator
    checks against the attempts that survived."""
    out: set[tuple[str, int]] = set()
    for posting in ledger.postings():
        key = posting.key
        if key.kind is PostingKind.RESERVE:
            out.add((key.subject, key.attempt))
        elif key.kind.of_attempt:
            out.discard((key.subject, key.attempt))
    return out


# ---------------------------------------------------------------------- helpers


def _move(
    source: AccountKind, target: AccountKind, holder: str, currency: Currency, amount: int
) -> list[Entry]:
    if not amount:
        return []
    return [
        (Account(source, holder, currency), -amount),
        (Account(target, holder, currency), amount),
    ]


def _close(kind: AccountKind, amount: int, holder: str, currency: Currency) -> list[Entry]:
    return [(Account(kind, holder, currency), amount)] if amount else []


def _shares(split: Split) -> dict[str, int]:
    """Each program's share, once per program, in the order first named."""
    out: dict[str, int] = {}
    for program_id, amount in split.shares:
        out[program_id] = out.get(program_id, 0) + amount
    return {program_id: amount for program_id, amount in out.items() if amount}


def _reserve_posting(ledger: Ledger, job_id: str, attempt: int) -> Posting:
    posting = ledger.find(PostingKey.of_attempt(PostingKind.RESERVE, job_id, attempt))
    if posting is None:
        raise UnknownAttempt(f"job {job_id} attempt {attempt} was never reserved")
    return posting


def _split_of(posting: Posting, default: Currency | None = None) -> Split:
    """The split a reservation posting holds. Its currency is the posting's (the flows always
    name it); a hand-made posting falls back on its entries', then on `default`."""
    currency = posting.currency or next((a.currency for a, _ in posting.entries), default)
    if currency is None:
        raise InvalidSettlement(f"{posting.key}: the reservation names no currency")
    shares: list[tuple[str, int]] = []
    copay = 0
    for account, amount in posting.entries:
        if account.kind is AccountKind.PROGRAM_RESERVED:
            shares.append((account.holder, amount))
        elif account.kind is AccountKind.TENANT_RESERVED:
            copay = amount
    return Split(currency, sum(amount for _, amount in shares) + copay, tuple(shares), copay)


def _refuse_if_closed(ledger: Ledger, job_id: str, attempt: int, by: PostingKind) -> None:
    if ledger.find(PostingKey.of_attempt(by, job_id, attempt)) is not None:
        raise AttemptClosed(f"job {job_id} attempt {attempt} was already closed by a {by}")


def _refuse_if_another_open(ledger: Ledger, job_id: str, attempt: int) -> None:
    state: dict[int, bool] = {}
    for posting in ledger.attempt_postings(job_id):
        state[posting.key.attempt] = posting.key.kind is PostingKind.RESERVE
    still_open = sorted(a for a, is_open in state.items() if is_open and a != attempt)
    if still_open:
        raise AttemptStillOpen(
            f"job {job_id} attempt {attempt}: attempt {still_open[0]} still holds a reservation"
        )


def _shortfalls(
    ledger: Ledger,
    tenant: str,
    split: Split,
    shares: Mapping[str, int],
    at: int,
    programs: Mapping[str, Program] | None,
) -> list[Shortfall]:
    currency = split.currency
    out: list[Shortfall] = []
    for program_id, amount in shares.items():
        budget = ledger.balance(Account(AccountKind.PROGRAM_BUDGET, program_id, currency))
        if amount > budget:
            out.append(Shortfall(f"budget of program {program_id}", currency, amount, budget))
        if programs is None:
            continue
        program = programs.get(program_id)
        if program is None:
            raise UnknownReference(f"split.shares.{program_id}", "no such program")
        if program.currency is not currency:
            raise CurrencyMismatch(
                f"program {program_id} pays in {program.currency}, the split is in {currency}"
            )
        if program.tenant_cap is not None:
            left = max(0, program.tenant_cap - drawn_in_period(ledger, program, tenant, at))
            if amount > left:
                what = f"cap of tenant {tenant} in program {program_id}"
                out.append(Shortfall(what, currency, amount, left))
    balance = ledger.balance(Account(AccountKind.TENANT_BALANCE, tenant, currency))
    if split.copay > balance:
        out.append(Shortfall(f"balance of tenant {tenant}", currency, split.copay, balance))
    return out


def _check_settlement(
    job_id: str, attempt: int, tenant: str, reserved: Split, usage: Usage, actual: Split
) -> None:
    where = f"job {job_id} attempt {attempt}"
    if usage.tenant != tenant:
        raise InvalidSettlement(f"{where} was reserved for tenant {tenant}, not {usage.tenant}")
    for currency in (reserved.currency, actual.currency):
        if currency is not usage.currency:
            raise InvalidSettlement(f"{where}: usage in {usage.currency}, split in {currency}")
    if actual.cost != usage.cost:
        raise InvalidSettlement(
            f"{where}: the split is of {actual.cost} but the usage costs {usage.cost}"
            f" {usage.currency} ({usage.accelerator_seconds} accelerator-seconds at {usage.price})"
        )
    held = _shares(reserved)
    for program_id, amount in _shares(actual).items():
        if amount > held.get(program_id, 0):
            raise InvalidSettlement(
                f"{where}: program {program_id} would pay {amount}, more than the"
                f" {held.get(program_id, 0)} reserved"
            )
