"""What one job has cost so far, and who pays it: read from the ledger, per currency.

    cost     = the settled attempts' actual cost
             + the running attempt's usage up to now (accelerators x seconds run, at the
               placement's price, rounded half up to the minor unit as `Usage.cost` rounds)
    shares   = what each program pays of it: the settled shares as booked, plus the running
               attempt's cost split like its reservation (`flows.actual_split`, the split the
               settlement will post)
    copay    = cost - sum(shares): the tenant's part
    reserved = what the job's open attempt still holds (its whole reservation)

The running attempt is valued exactly as `billing.close_attempt` will settle it (billed for at
most its walltime, at the price of its first node's owner), so the figures read at the moment it
ends are the ones its settlement posts. Nothing here writes; amounts are integer minor units.

An attempt without a reservation (money not configured) is never settled, so it costs nothing
here either; a running attempt whose first node is no longer in the pool accrues nothing (its
price is unknown) until it is settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.domain.geography import Currency
from scheduler.domain.pool import Pool
from scheduler.ledger.book import AccountKind, Ledger, Posting, PostingKind
from scheduler.ledger.flows import actual_split, is_open, reservation
from scheduler.ledger.programs import Split
from scheduler.ledger.usage import placement_usage
from scheduler.store.records import JobRecord


@dataclass(frozen=True, slots=True)
class MoneySoFar:
    """One job's money in one currency. `shares` are the programs that pay something, by
    program id; shares + copay == cost. `settled_attempts` counts the attempts billed for good;
    `running` is True while an attempt accrues (its part of `cost` grows with time)."""

    currency: Currency
    cost: int
    shares: tuple[tuple[str, int], ...]
    copay: int
    reserved: int
    settled_attempts: int
    running: bool

    @property
    def subsidy(self) -> int:
        """What the programs pay of `cost` together."""
        return sum(amount for _, amount in self.shares)

    @property
    def billed(self) -> bool:
        """True when some usage is counted (a settled attempt, or one that runs)."""
        return self.settled_attempts > 0 or self.running


@dataclass(slots=True)
class _Tally:
    cost: int = 0
    shares: dict[str, int] = field(default_factory=dict)
    copay: int = 0
    reserved: int = 0
    settled: int = 0
    running: bool = False

    def add(self, split: Split) -> None:
        self.cost += split.cost
        self.copay += split.copay
        for program_id, amount in split.shares:
            if amount:
                self.shares[program_id] = self.shares.get(program_id, 0) + amount


def money_so_far(ledger: Ledger, pool: Pool, record: JobRecord, now: int) -> tuple[MoneySoFar, ...]:
    """The job's money per currency it has attempt postings in, sorted by currency; empty when
    the ledger holds nothing for it."""
    tallies: dict[Currency, _Tally] = {}
    still_open: dict[int, Currency] = {}
    for posting in ledger.attempt_postings(record.id):
        currency = posting.currency or next((a.currency for a, _ in posting.entries), None)
        if currency is None:  # a hand-made posting that moves nothing: nothing to count
            continue
        tally = tallies.setdefault(currency, _Tally())
        attempt = posting.key.attempt
        if posting.key.kind is PostingKind.RESERVE:
            still_open[attempt] = currency
        elif posting.key.kind is PostingKind.RELEASE:
            still_open.pop(attempt, None)
        elif posting.key.kind is PostingKind.SETTLE:
            still_open.pop(attempt, None)
            tally.add(_booked(posting, currency))
            tally.settled += 1
    for attempt, currency in still_open.items():
        tally = tallies[currency]
        tally.reserved += reservation(ledger, record.id, attempt).cost
        if attempt == record.attempt:
            accrued = running_split(ledger, pool, record, now, known_open=True)
            if accrued is not None:
                tally.add(accrued)
                tally.running = True
    return tuple(
        MoneySoFar(
            currency=currency,
            cost=t.cost,
            shares=tuple(sorted(t.shares.items())),
            copay=t.copay,
            reserved=t.reserved,
            settled_attempts=t.settled,
            running=t.running,
        )
        for currency, t in sorted(tallies.items())
    )


def running_split(
    ledger: Ledger, pool: Pool, record: JobRecord, now: int, *, known_open: bool = False
) -> Split | None:
    """The job's current attempt's cost up to `now`, split as its settlement would split it; None
    when no attempt of the job runs with a reservation (or its price cannot be known).
    `known_open`: the caller saw the attempt open in its copy of the job's postings (the ledger
    is not asked again, so a settlement posted since does not make it vanish)."""
    placement, started_at = record.placement, record.started_at
    if placement is None or started_at is None:
        return None
    if not known_open and not is_open(ledger, record.id, record.attempt):
        return None
    if placement.workers[0][0] not in pool.nodes:
        return None
    # As billing.close_attempt bills: for the seconds run, at most the walltime.
    seconds = min(max(0, now - started_at), record.job.walltime_s)
    usage = placement_usage(pool, record.tenant, placement, seconds)
    held = reservation(ledger, record.id, record.attempt)
    if usage.currency is not held.currency:  # the settlement would refuse it
        return None
    return actual_split(held, usage.cost)


def _booked(settlement: Posting, currency: Currency) -> Split:
    """A settlement's actual split as it was booked: each program's paid share and the tenant's
    spent co-payment (together the usage's cost)."""
    shares: list[tuple[str, int]] = []
    copay = 0
    for account, amount in settlement.entries:
        if account.kind is AccountKind.PROGRAM_PAID:
            shares.append((account.holder, amount))
        elif account.kind is AccountKind.TENANT_SPENT:
            copay += amount
    return Split(currency, sum(amount for _, amount in shares) + copay, tuple(shares), copay)
