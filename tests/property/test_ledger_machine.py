"""The ledger under random sequences of what the pool does with money: programs funded,
tenants topping up, jobs submitted and admitted (their estimate reserved), settled for 0–150 %
of it, preempted and resumed as new attempts, cancelled, budgets run down to nothing.

After every step: the book balances and passes its own check, no program spends more than it
was funded, no tenant draws more than a program's cap in a period, no tenant balance goes
below zero, owners are owed exactly what was settled, and no attempt is claimed twice. The
machine keeps its own account of draws and settlements to compare with the ledger's."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from scheduler.domain.geography import Currency
from scheduler.domain.money import Money, accelerator_seconds_cost
from scheduler.domain.tenants import Tenant, TenantFlag
from scheduler.ledger.available import funds_from
from scheduler.ledger.book import Account, AccountKind, Ledger, PostingKind
from scheduler.ledger.errors import InsufficientFunds
from scheduler.ledger.flows import (
    actual_split,
    fund_program,
    release,
    reservation,
    reserve,
    settle,
    top_up,
)
from scheduler.ledger.programs import BASIS_POINTS, Program, Split
from scheduler.ledger.reports import RunningReports
from scheduler.ledger.split import Supplier, split_cost
from scheduler.ledger.usage import Usage
from tests.builders import ASCEND, H800
from tests.ledger_builders import HOUR, START, a_program

CNY, HKD = Currency.CNY, Currency.HKD
DAY = 24 * HOUR


PROGRAMS = {
    p.id: p
    for p in (
        # Shenzhen-style: 50 %, 60 % for start-ups.
        a_program("sz", 5000, budget=200_000, startup_bp=6000),
        # Hangzhou-style: 30 % domestic, 20 % other, capped per tenant per day.
        a_program("hz", 3000, other_bp=2000, budget=100_000, tenant_cap=8_000, cap_period_s=DAY),
        # Shanghai-style: city and district stack.
        a_program("sh-city", 2000, budget=60_000, stacking_group="sh"),
        a_program("sh-district", 1000, budget=30_000, stacking_group="sh"),
        # Hong Kong-style: 70 % at the designated centre only.
        a_program("hk", 7000, budget=150_000, currency=HKD, owners=("hk-centre",)),
    )
}
TENANTS = {
    t.id: t
    for t in (
        Tenant("lab", "Lab"),
        Tenant("start", "Start-up", flags=frozenset({TenantFlag.STARTUP})),
        Tenant("hku", "HKU"),
    )
}


@dataclass(frozen=True)
class Offer:
    """Where a job may run: the owner's nodes, their chip and hourly price."""

    owner: str
    nodes: tuple[str, ...]
    model: str
    domestic: bool
    price: int
    currency: Currency


OFFERS = (
    Offer("sz-gov", ("sz-001", "sz-002"), ASCEND, True, 1000, CNY),
    Offer("gz-cloud", ("gz-001",), H800, False, 3000, CNY),
    Offer("hk-centre", ("hk-001",), H800, False, 2500, HKD),
)
WANTED = (
    (),
    ("sz",),
    ("hz",),
    ("sh-city", "sh-district"),
    ("hk",),
    ("hz", "sz"),
    ("sh-district", "sh-city", "hk"),
)


def eligible(p: Program, offer: Offer) -> bool:
    return p.supplier_eligible(offer.owner, offer.nodes)


@dataclass
class JobPlan:
    job_id: str
    tenant: str
    offer: Offer
    accelerators: int
    left_s: int  # walltime not yet run
    wanted: tuple[str, ...]
    attempt: int = 1
    split: Split | None = None  # the estimate awaiting admission (pending jobs)
    running: bool = False

    def estimate(self) -> int:
        price = Money(self.offer.currency, self.offer.price)
        return accelerator_seconds_cost(price, self.accelerators * self.left_s).minor

    def usage(self, accelerator_seconds: int) -> Usage:
        o = self.offer
        return Usage(
            self.tenant,
            o.owner,
            o.nodes,
            o.model,
            o.domestic,
            accelerator_seconds,
            o.price,
            o.currency,
        )


@dataclass
class Oracle:
    """The machine's own account, kept without the ledger's help."""

    # program id -> what its sponsor put in
    funded: dict[str, int] = field(default_factory=dict)
    # (program id, tenant, cap period) -> reserved or paid, in the period of the reservation
    draws: dict[tuple[str, str, int], int] = field(default_factory=dict)
    # (job, attempt) -> (tenant, reserved at, reserved split), for attempts not yet closed
    open: dict[tuple[str, int], tuple[str, int, Split]] = field(default_factory=dict)
    # (job, attempt) -> (owner, currency, cost) of every settlement
    settled: dict[tuple[str, int], tuple[str, Currency, int]] = field(default_factory=dict)
    # (job, attempt) -> the arguments it was settled with, to report its end again
    settle_calls: dict[tuple[str, int], tuple[Usage, Split]] = field(default_factory=dict)

    def draw(self, tenant: str, at: int, shares: Split, sign: int) -> None:
        for pid, amount in shares.shares:
            key = (pid, tenant, PROGRAMS[pid].period(at))
            self.draws[key] = self.draws.get(key, 0) + sign * amount


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.now = START
        self.jobs: dict[str, JobPlan] = {}
        self.oracle = Oracle()
        self.payments: list[tuple[str, Currency, int, str]] = []
        self.ids = 0
        self.reports = RunningReports()  # read after every step, as the metrics endpoint does

    # ------------------------------------------------------------------ helpers

    def split_now(self, job: JobPlan) -> Split:
        """The estimate split as the engine would split it now, from the ledger's funds."""
        supplier = Supplier(job.offer.owner, job.offer.nodes, job.offer.domestic)
        funds = funds_from(self.ledger, PROGRAMS.values())
        tenant = TENANTS[job.tenant]
        return split_cost(
            job.estimate(),
            job.offer.currency,
            job.wanted,
            PROGRAMS,
            tenant,
            supplier,
            funds,
            self.now,
        )

    def admit(self, job: JobPlan, split: Split) -> bool:
        try:
            reserve(
                self.ledger, job.job_id, job.attempt, job.tenant, split, self.now, programs=PROGRAMS
            )
        except InsufficientFunds as refused:
            for shortfall in refused.shortfalls:
                event(f"reserve refused: {shortfall.what.split(' ', 1)[0]} short")
            job.split = split
            return False
        job.running, job.split = True, None
        self.oracle.open[(job.job_id, job.attempt)] = (job.tenant, self.now, split)
        self.oracle.draw(job.tenant, self.now, split, 1)
        return True

    def close(self, job: JobPlan, seconds: int) -> None:
        """Settle the running attempt for `seconds` accelerator-seconds; if the tenant cannot
        pay an overrun, bill only up to the estimate (the engine stops jobs at walltime)."""
        key = (job.job_id, job.attempt)
        tenant, reserved_at, reserved = self.oracle.open.pop(key)
        assert reservation(self.ledger, *key) == reserved
        usage = job.usage(seconds)
        try:
            actual = actual_split(reserved, usage.cost)
            settle(self.ledger, *key, usage, actual, self.now)
        except InsufficientFunds:
            event("settle refused: overrun above the balance, billed up to the estimate")
            usage = job.usage(min(seconds, job.accelerators * job.left_s))
            actual = actual_split(reserved, usage.cost)
            assert actual.copay <= reserved.copay
            settle(self.ledger, *key, usage, actual, self.now)
        self.oracle.draw(tenant, reserved_at, reserved, -1)
        self.oracle.draw(tenant, reserved_at, actual, 1)
        self.oracle.settled[key] = (usage.owner, usage.currency, usage.cost)
        self.oracle.settle_calls[key] = (usage, actual)
        job.running = False

    def pay(self, tenant: str, currency: Currency, amount: int) -> None:
        payment = (tenant, currency, amount, f"pay-{len(self.payments) + 1}")
        top_up(self.ledger, *payment, at=self.now)
        self.payments.append(payment)

    def next_id(self) -> str:
        self.ids += 1
        return f"j{self.ids}"

    def pick(self, index: int, running: bool | None) -> JobPlan:
        candidates = [
            job for _, job in sorted(self.jobs.items()) if running is None or job.running is running
        ]
        return candidates[index % len(candidates)]

    def has(self, running: bool) -> bool:
        return any(job.running is running for job in self.jobs.values())

    # ------------------------------------------------------------------ rules

    @initialize()
    def open_the_books(self) -> None:
        """Programmes funded (all but one, funded later or never) and every tenant with some
        money in both currencies, so that short runs already admit and settle."""
        for p in PROGRAMS.values():
            if p.id != "sh-district":
                self.fund(p)
        for tenant in sorted(TENANTS):
            for currency in (CNY, HKD):
                self.pay(tenant, currency, 40_000)

    @rule(p=st.sampled_from(sorted(PROGRAMS.values(), key=lambda p: p.id)))
    def fund(self, p: Program) -> None:
        fund_program(self.ledger, p)
        self.oracle.funded[p.id] = p.budget

    @rule(
        tenant=st.sampled_from(sorted(TENANTS)),
        currency=st.sampled_from([CNY, HKD]),
        amount=st.integers(1, 60_000),
    )
    def top_up(self, tenant: str, currency: Currency, amount: int) -> None:
        self.pay(tenant, currency, amount)

    @precondition(lambda self: bool(self.payments))
    @rule(index=st.integers(0, 100))
    def top_up_reported_again(self, index: int) -> None:
        before = len(self.ledger)
        top_up(self.ledger, *self.payments[index % len(self.payments)], at=self.now)
        assert len(self.ledger) == before

    @rule(
        tenant=st.sampled_from(sorted(TENANTS)),
        offer=st.sampled_from(OFFERS),
        accelerators=st.integers(1, 16),
        hours=st.integers(1, 12),
        wanted=st.sampled_from(WANTED),
    )
    def submit(
        self, tenant: str, offer: Offer, accelerators: int, hours: int, wanted: tuple[str, ...]
    ) -> None:
        job = JobPlan(self.next_id(), tenant, offer, accelerators, hours * HOUR, wanted)
        job.split = self.split_now(job)  # may be stale by the time it is admitted
        self.jobs[job.job_id] = job

    @rule(
        tenant=st.sampled_from(sorted(TENANTS)),
        offer=st.sampled_from(OFFERS),
        accelerators=st.integers(1, 16),
        hours=st.integers(1, 12),
        wanted=st.sampled_from(WANTED),
    )
    def race(
        self, tenant: str, offer: Offer, accelerators: int, hours: int, wanted: tuple[str, ...]
    ) -> None:
        """Two jobs split against the same funds, then both admitted: the second reservation
        must not take what the first already took (budget, cap or balance)."""
        first = JobPlan(self.next_id(), tenant, offer, accelerators, hours * HOUR, wanted)
        second = JobPlan(self.next_id(), tenant, offer, accelerators, hours * HOUR, wanted)
        for job in (first, second):
            job.split = self.split_now(job)
            self.jobs[job.job_id] = job
        for job in (first, second):
            assert job.split is not None
            self.admit(job, job.split)

    @precondition(lambda self: self.has(running=False))
    @rule(index=st.integers(0, 100), fresh=st.booleans())
    def admit_pending(self, index: int, fresh: bool) -> None:
        job = self.pick(index, running=False)
        split = self.split_now(job) if fresh or job.split is None else job.split
        self.admit(job, split)

    @precondition(lambda self: self.has(running=True))
    @rule(index=st.integers(0, 100), percent=st.integers(0, 150), retry=st.booleans())
    def finish(self, index: int, percent: int, retry: bool) -> None:
        """The attempt ends (success, failure): settle `percent` of its estimated usage."""
        job = self.pick(index, running=True)
        self.close(job, job.accelerators * job.left_s * percent // 100)
        del self.jobs[job.job_id]
        if retry:  # the end reported again: nothing more is claimed
            key = (job.job_id, job.attempt)
            usage, actual = self.oracle.settle_calls[key]
            before = len(self.ledger)
            settle(self.ledger, *key, usage, actual, self.now + 1)
            assert len(self.ledger) == before

    @precondition(lambda self: self.has(running=True))
    @rule(index=st.integers(0, 100), percent=st.integers(0, 100))
    def preempt(self, index: int, percent: int) -> None:
        """Settle what ran, then resume the rest as a new attempt with a new reservation."""
        job = self.pick(index, running=True)
        ran_s = job.left_s * percent // 100
        self.close(job, job.accelerators * ran_s)
        job.left_s -= ran_s
        job.attempt += 1
        if job.left_s == 0:
            del self.jobs[job.job_id]
            return
        self.admit(job, self.split_now(job))

    @precondition(lambda self: bool(self.jobs))
    @rule(index=st.integers(0, 100))
    def cancel(self, index: int) -> None:
        job = self.pick(index, running=None)
        if job.running:
            key = (job.job_id, job.attempt)
            tenant, reserved_at, reserved = self.oracle.open.pop(key)
            release(self.ledger, *key, self.now)
            self.oracle.draw(tenant, reserved_at, reserved, -1)
        del self.jobs[job.job_id]

    @rule(
        p=st.sampled_from(sorted(PROGRAMS.values(), key=lambda p: p.id)),
        tenant=st.sampled_from(sorted(TENANTS)),
    )
    def exhaust(self, p: Program, tenant: str) -> None:
        """A job big enough to take all that is left of a program (or of the tenant's cap in
        it), its tenant topped up to exactly its co-payment (so an overrun cannot be paid)."""
        remaining = self.ledger.balance(Account(AccountKind.PROGRAM_BUDGET, p.id, p.currency))
        if remaining == 0:
            return
        offer = next(o for o in OFFERS if o.currency is p.currency and eligible(p, o))
        rate = p.rate_bp(TENANTS[tenant], offer.domestic)
        cost = remaining * BASIS_POINTS // rate + 1
        hours = -(-cost // (16 * offer.price))  # enough accelerator-hours to cost that much
        job = JobPlan(self.next_id(), tenant, offer, 16, hours * HOUR, (p.id,))
        self.jobs[job.job_id] = job
        split = self.split_now(job)
        balance = self.ledger.balance(Account(AccountKind.TENANT_BALANCE, tenant, p.currency))
        if split.copay > balance:
            self.pay(tenant, p.currency, split.copay - balance)
        self.admit(job, split)
        if p.tenant_cap is None:
            assert self.ledger.balance(Account(AccountKind.PROGRAM_BUDGET, p.id, p.currency)) == 0
            event("a program's budget exhausted")

    @rule(seconds=st.integers(0, 2 * DAY))
    def advance_time(self, seconds: int) -> None:
        self.now += seconds

    # ------------------------------------------------------------------ invariants

    @invariant()
    def reports_kept_up_to_date_equal_reports_read_from_the_whole_book(self) -> None:
        whole = RunningReports()
        programs = list(PROGRAMS.values())
        assert self.reports.programs(self.ledger, programs) == whole.programs(self.ledger, programs)
        assert self.reports.tenants(self.ledger) == whole.tenants(self.ledger)
        assert self.reports.owners(self.ledger) == whole.owners(self.ledger)

    @invariant()
    def the_book_checks_out(self) -> None:
        assert self.ledger.check() == []

    @invariant()
    def no_program_spends_more_than_it_was_funded(self) -> None:
        for pid, p in PROGRAMS.items():
            budget, reserved, paid = (
                self.ledger.balance(Account(kind, pid, p.currency))
                for kind in (
                    AccountKind.PROGRAM_BUDGET,
                    AccountKind.PROGRAM_RESERVED,
                    AccountKind.PROGRAM_PAID,
                )
            )
            funded = self.oracle.funded.get(pid, 0)
            assert budget >= 0
            assert paid + reserved <= funded
            assert budget + reserved + paid == funded
            open_shares = sum(split.share_of(pid) for _, _, split in self.oracle.open.values())
            assert reserved == open_shares

    @invariant()
    def no_tenant_balance_is_negative(self) -> None:
        for account, amount in self.ledger.balances().items():
            if account.kind is AccountKind.TENANT_BALANCE:
                assert amount >= 0, account

    @invariant()
    def no_tenant_draws_above_a_programs_cap_in_a_period(self) -> None:
        for (pid, tenant, period), drawn in self.oracle.draws.items():
            cap = PROGRAMS[pid].tenant_cap
            assert drawn >= 0
            assert cap is None or drawn <= cap, (pid, tenant, period, drawn)
        ledger_draws = funds_from(self.ledger, PROGRAMS.values()).drawn
        assert ledger_draws == {k: v for k, v in self.oracle.draws.items() if v}

    @invariant()
    def owners_are_owed_exactly_what_was_settled(self) -> None:
        expected: dict[tuple[str, Currency], int] = {}
        for owner, currency, cost in self.oracle.settled.values():
            expected[(owner, currency)] = expected.get((owner, currency), 0) + cost
        owed = {
            (account.holder, account.currency): amount
            for account, amount in self.ledger.balances().items()
            if account.kind is AccountKind.OWNER_RECEIVABLE
        }
        assert owed == {key: cost for key, cost in expected.items() if cost}

    @invariant()
    def each_attempt_is_settled_at_most_once(self) -> None:
        closed = [
            (p.key.subject, p.key.attempt)
            for p in self.ledger.postings()
            if p.key.kind in (PostingKind.SETTLE, PostingKind.RELEASE)
        ]
        assert len(closed) == len(set(closed))
        settled = {
            (p.key.subject, p.key.attempt)
            for p in self.ledger.postings()
            if p.key.kind is PostingKind.SETTLE
        }
        assert settled == set(self.oracle.settled)

    @invariant()
    def replay_rebuilds_the_same_ledger(self) -> None:
        again = Ledger.replay(self.ledger.postings())
        assert again.balances() == self.ledger.balances()
        assert again.draws() == self.ledger.draws()


LedgerMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
