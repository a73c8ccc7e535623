"""A job's money so far (`job_money.money_so_far`): settled attempts as booked plus the running
attempt's usage up to now, split as its settlement will split it; and, run through a coordinator
with the fake executor, the figures read at the moment a job ends are what its settlement posts.

Prices: one Shenzhen node of 8 Ascend at 1000 fen per accelerator-hour, so a 1x8 job costs 8000
fen an hour (20 fen every 9 seconds) and its walltime of 3600 s is reserved as 8000 fen."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from scheduler.domain.geography import Currency, Jurisdiction
from scheduler.domain.jobs import Job, JobState, Placement
from scheduler.domain.pool import Pool
from scheduler.ledger.book import Ledger
from scheduler.ledger.flows import fund_program, release, reserve, top_up
from scheduler.ledger.programs import Split
from scheduler.ledger.reports import evidence_rows
from scheduler.service.billing import close_attempt
from scheduler.service.job_money import MoneySoFar, money_so_far
from scheduler.store.errors import UnknownJob
from scheduler.store.records import JobRecord
from tests.builders import ASCEND, PROGRAM_START, a_job, a_pool, a_program, a_tenant
from tests.service_builders import a_world, money, small_pool

CNY = Currency.CNY
T = PROGRAM_START + 86_400  # the first start; the program is valid all year
WALLTIME = 3600
ESTIMATE = 8000  # 8 accelerators x 3600 s at 1000 fen per accelerator-hour
HALF = "half"  # a program paying 50 %


def the_pool() -> Pool:
    return a_pool().nodes(1, ASCEND, owner="sz-gov").tenant(a_tenant("t1")).build()


POOL = the_pool()
NODE = next(iter(POOL.nodes))
PLACEMENT = Placement(ASCEND, Jurisdiction.MAINLAND, ((NODE, 8),))


def a_ledger() -> Ledger:
    ledger = Ledger()
    fund_program(ledger, a_program(HALF).rate(5000).budget(1_000_000).build())
    top_up(ledger, "t1", CNY, 1_000_000, "initial")
    return ledger


def estimate(with_program: bool) -> Split:
    """What admission reserves for a walltime: half by the program, or all by the tenant."""
    if with_program:
        return Split(CNY, ESTIMATE, ((HALF, ESTIMATE // 2),), ESTIMATE // 2)
    return Split(CNY, ESTIMATE, (), ESTIMATE)


@dataclass
class Life:
    """A job's life told to a ledger: which attempts ran when, and how the record stands."""

    job: Job
    ledger: Ledger
    record: JobRecord

    @classmethod
    def of(cls, *, with_program: bool = True) -> Life:
        builder = a_job("job-1").gang(1, ASCEND, 8).walltime(WALLTIME)
        job = (builder.programs(HALF) if with_program else builder).build()
        return cls(job, a_ledger(), JobRecord.submitted(job, T - 60))

    def admit(self, attempt: int, at: int, *, with_program: bool = True) -> Life:
        reserve(self.ledger, self.job.id, attempt, "t1", estimate(with_program), at)
        self._record(JobState.ADMITTED, attempt, PLACEMENT, None, None, at)
        return self

    def start(self, at: int) -> Life:
        r = self.record
        self._record(JobState.RUNNING, r.attempt, r.placement, at, None, at)
        return self

    def end(self, at: int, state: JobState = JobState.SUCCEEDED) -> Life:
        """The attempt ends at `at` and is billed as the coordinator bills it."""
        r = self.record
        close_attempt(self.ledger, POOL, self.job, r.attempt, r.placement, r.started_at, at)
        ended = at if state.terminal else None
        placement = r.placement if state.terminal else None
        started = r.started_at if state.terminal else None
        self._record(state, r.attempt, placement, started, ended, at)
        return self

    def cancel_before_start(self, at: int) -> Life:
        release(self.ledger, self.job.id, self.record.attempt, at)
        r = self.record
        self._record(JobState.CANCELLED, r.attempt, r.placement, None, at, at)
        return self

    def _record(
        self,
        state: JobState,
        attempt: int,
        placement: Placement | None,
        started_at: int | None,
        ended_at: int | None,
        at: int,
    ) -> None:
        r = self.record
        self.record = JobRecord(
            r.job, state, attempt, placement, started_at, ended_at, None, None, at, r.failures
        )

    def money(self, now: int) -> tuple[MoneySoFar, ...]:
        return money_so_far(self.ledger, POOL, self.record, now)


def so_far(
    cost: int,
    shares: tuple[tuple[str, int], ...],
    *,
    reserved: int = 0,
    settled: int = 0,
    running: bool = False,
) -> tuple[MoneySoFar, ...]:
    copay = cost - sum(amount for _, amount in shares)
    return (MoneySoFar(CNY, cost, shares, copay, reserved, settled, running),)


CASES = {
    # 1800 s of 8 accelerators = 4000 fen; the program pays 4000 x 4000 // 8000.
    "finished after half its walltime": (
        Life.of().admit(1, T).start(T).end(T + 1800),
        T + 9999,
        so_far(4000, ((HALF, 2000),), settled=1),
    ),
    "running at half its walltime": (
        Life.of().admit(1, T).start(T),
        T + 1800,
        so_far(4000, ((HALF, 2000),), reserved=ESTIMATE, running=True),
    ),
    # attempt 1: 600 s = 1333.3 -> 1333 fen, the program 666 (rounded down), the tenant 667;
    # attempt 2 runs 900 s = 2000 fen, half each; its whole estimate is reserved.
    "preempted, then resumed as a second attempt": (
        Life.of()
        .admit(1, T)
        .start(T)
        .end(T + 600, JobState.QUEUED)
        .admit(2, T + 700)
        .start(T + 700),
        T + 1600,
        so_far(1333 + 2000, ((HALF, 666 + 1000),), reserved=ESTIMATE, settled=1, running=True),
    ),
    # 5 s = 11.1 -> 11 fen: the 50 % program pays 5 (rounding favours the sponsor), the tenant 6.
    "a program covering 50 %, rounded for the sponsor": (
        Life.of().admit(1, T).start(T),
        T + 5,
        so_far(11, ((HALF, 5),), reserved=ESTIMATE, running=True),
    ),
    "no program: the tenant pays it all": (
        Life.of(with_program=False).admit(1, T, with_program=False).start(T),
        T + 1800,
        so_far(4000, (), reserved=ESTIMATE, running=True),
    ),
    "running past its walltime is billed for the walltime": (
        Life.of().admit(1, T).start(T),
        T + WALLTIME + 500,
        so_far(ESTIMATE, ((HALF, ESTIMATE // 2),), reserved=ESTIMATE, running=True),
    ),
    "admitted, not started: reserved only": (
        Life.of().admit(1, T),
        T + 600,
        so_far(0, (), reserved=ESTIMATE),
    ),
    "cancelled before it started: nothing": (
        Life.of().admit(1, T).cancel_before_start(T + 10),
        T + 600,
        so_far(0, ()),
    ),
    "queued, never admitted: no money at all": (Life.of(), T + 600, ()),
}


@pytest.mark.parametrize(("life", "now", "expected"), CASES.values(), ids=CASES.keys())
def test_money_so_far(life: Life, now: int, expected: tuple[MoneySoFar, ...]) -> None:
    assert life.money(now) == expected


@pytest.mark.parametrize(
    "life",
    [life for life, _, expected in CASES.values() if expected and expected[0].running],
    ids=[name for name, (_, _, e) in CASES.items() if e and e[0].running],
)
def test_what_a_running_attempt_shows_is_what_its_settlement_posts(life: Life) -> None:
    for now in range(T, T + WALLTIME + 120, 7):  # odd steps: every rounding case comes by
        if now < (life.record.started_at or T):
            continue
        before = life.money(now)[0]
        settled = Life(life.job, Ledger.replay(life.ledger.postings()), life.record).end(now)
        after = settled.money(now)[0]
        assert (after.cost, after.shares, after.copay) == (
            before.cost,
            before.shares,
            before.copay,
        ), now
        assert (after.reserved, after.running) == (0, False)
        assert after.settled_attempts == before.settled_attempts + 1


def test_subsidy_and_cost_only_grow_while_an_attempt_runs() -> None:
    life = Life.of().admit(1, T).start(T)
    seen = [life.money(now)[0] for now in range(T, T + WALLTIME + 60)]

    for earlier, later in itertools.pairwise(seen):
        assert later.cost >= earlier.cost
        assert later.subsidy >= earlier.subsidy
        assert later.copay >= earlier.copay  # one program: each fen goes to one side
    assert seen[-1].cost == ESTIMATE


# ---------------------------------------------------------------------- through a coordinator


def test_a_job_run_to_the_end_shows_at_its_end_what_the_ledger_settles() -> None:
    world = a_world(small_pool(1), programs=money())
    job = world.submit("t1", walltime_s=WALLTIME)  # the fake runs it for half its walltime
    coordinator = world.coordinator
    world.run()
    assert world.state(job) is JobState.ADMITTED
    [admitted] = coordinator.job_money(job)
    assert (admitted.cost, admitted.reserved, admitted.billed) == (0, ESTIMATE, False)

    seen: list[MoneySoFar] = []
    for _ in range(1800 // 90):
        world.clock.advance(90)
        [now] = coordinator.job_money(job)  # read between ticks, as a GetJob would
        seen.append(now)
        coordinator.tick()
    assert world.state(job) is JobState.SUCCEEDED

    [settled] = coordinator.job_money(job)
    [row] = [r for r in evidence_rows(coordinator.ledger) if r.job == job]
    assert (settled.cost, settled.shares, settled.copay) == (row.cost, row.shares, row.copay)
    assert (settled.reserved, settled.settled_attempts, settled.running) == (0, 1, False)
    last = seen[-1]  # read at the very second the attempt ended, before the tick settled it
    assert (last.cost, last.shares, last.copay) == (settled.cost, settled.shares, settled.copay)
    assert (last.running, last.reserved) == (True, ESTIMATE)
    assert settled.cost == 4000 and settled.subsidy == 2000  # 1800 s; the program pays half
    for earlier, later in itertools.pairwise(seen):
        assert later.cost >= earlier.cost and later.subsidy >= earlier.subsidy


def test_an_unknown_job_has_no_money_to_show() -> None:
    world = a_world(small_pool(1), programs=money())
    with pytest.raises(UnknownJob, match="job-404"):
        world.coordinator.job_money("job-404")
