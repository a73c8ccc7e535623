"""Trace replay on the production coordinator: the memory store, the fake executor and a manual
clock; the same `Coordinator.tick()` and `run_cycle` as `gbasched serve` runs.

The loop is discrete-event: it moves the clock straight to the next time something happens —
the next arrival (every job arriving in that second is submitted in one call), the next end of
an attempt (known here, since the runtime the executor asks for is computed here), the next
walltime deadline, or the next cycle the coordinator owes (new jobs held back by
`arrival_cycle_interval_s`, or the idle cycle every `idle_cycle_interval_s` while jobs wait and
the world still moves) — then ticks once. A tick that preempted is followed by one more at the
same second, so the victims' stops are taken in and they queue again at once. Ticks scale with
events, not with the trace's seconds.

What happened is read back from the store's event log after every tick (admitted, preempted,
requeued, succeeded, failed, rejected) into the tally and the invariant checks. Work and
preemption: the replay keeps each job's remaining work (reference seconds). An attempt runs
for its remaining work (÷ the speed of the model it got, with `speed`) plus, for a restart,
`restart_overhead_s`; when it is preempted or stopped, the work it checkpointed
(every `checkpoint_interval_s` of useful run time; 0 = no checkpoints, all lost) is kept.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

from scheduler.domain.clock import ManualClock
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Currency
from scheduler.domain.jobs import Job, Placement
from scheduler.domain.pool import Pool
from scheduler.domain.requests import JobRequest
from scheduler.executor.fake import FakeExecutor
from scheduler.ledger.config import ProgramsConfig
from scheduler.policy.registry import Policy
from scheduler.service import event_kinds as ek
from scheduler.service.coordinator import Coordinator, TickReport
from scheduler.service.settings import CoordinatorSettings
from scheduler.sim.checks import Holding, InvariantViolated, NodeUse, world_violations
from scheduler.sim.tally import Outcome, Tally
from scheduler.sim.trace import Trace, arrival_scale
from scheduler.sim.world import ReplayWorld, gang_for, replay_world
from scheduler.store.memory import MemoryStore

DEFAULT_CHECKPOINT_INTERVAL_S = 1800
DEFAULT_RESTART_OVERHEAD_S = 60
DEFAULT_IDLE_CYCLE_INTERVAL_S = 3600
DEFAULT_TENANT_BALANCE = 10**15  # minor units per currency: money never holds a trace job back
DEFAULT_SPEED_REFERENCE = "nvidia-a800"
DEFAULT_LEDGER_CHECK_EVERY = 1000
EVENTS_PER_READ = 10_000


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    """How a trace is replayed (defaults in docs/simulator.md).

    `load_factor`: rescale arrivals to offer this fraction of the pool (None: as recorded).
    `walltime_s`: every job's walltime (None: each job's longest possible attempt, which never
    kills a trace job). `speed`: a job's work scales with the fp16 TFLOPS of the model it got
    relative to `speed_reference`. `tenant_balance_minor`: the opening balance, in every
    currency, of trace tenants the programs file gives none. `ledger_check_every`: ticks between
    two full ledger checks (and one at the end)."""

    load_factor: Fraction | None = None
    checkpoint_interval_s: int = DEFAULT_CHECKPOINT_INTERVAL_S
    restart_overhead_s: int = DEFAULT_RESTART_OVERHEAD_S
    walltime_s: int | None = None
    speed: bool = False
    speed_reference: str = DEFAULT_SPEED_REFERENCE
    idle_cycle_interval_s: int = DEFAULT_IDLE_CYCLE_INTERVAL_S
    arrival_cycle_interval_s: int = 0
    tenant_balance_minor: int = DEFAULT_TENANT_BALANCE
    ledger_check_every: int = DEFAULT_LEDGER_CHECK_EVERY
    model_map: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.load_factor is not None and self.load_factor <= 0:
            raise InvalidField("load_factor", f"must be positive, got {float(self.load_factor)}")
        if self.checkpoint_interval_s < 0:
            raise InvalidField("checkpoint_interval_s", "must not be negative")
        if self.restart_overhead_s < 0:
            raise InvalidField("restart_overhead_s", "must not be negative")
        if self.walltime_s is not None and self.walltime_s <= 0:
            raise InvalidField("walltime_s", "must be a positive number of seconds")
        if self.idle_cycle_interval_s <= 0:
            raise InvalidField("idle_cycle_interval_s", "must be positive")
        if self.arrival_cycle_interval_s < 0:
            raise InvalidField("arrival_cycle_interval_s", "must not be negative")
        if self.tenant_balance_minor < 0:
            raise InvalidField("tenant_balance_minor", "must not be negative")
        if self.ledger_check_every <= 0:
            raise InvalidField("ledger_check_every", "must be positive")


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """Everything the figures are made of."""

    policy: str
    world: ReplayWorld
    tally: Tally
    coordinator: Coordinator
    programs: ProgramsConfig | None
    scale: Fraction
    start: int
    ticks: int
    cycles: int
    wall_s: float
    stranded: int  # jobs still waiting when nothing could change any more
    stopped_at_until: bool = False  # `run(until=…)` ended it, not the end of the events


@dataclass(slots=True)
class _Attempt:
    started: int
    overhead: int
    tflops: int


class Replay:
    """One replay; `run()` once."""

    def __init__(
        self,
        trace: Trace,
        pool: Pool,
        policy: Policy,
        *,
        programs: ProgramsConfig | None = None,
        settings: ReplaySettings | None = None,
    ) -> None:
        self.trace = trace
        self.policy = policy
        self.settings = settings = settings or ReplaySettings()
        self.world = world = replay_world(pool, trace, settings.model_map)
        self.pool = world.pool
        catalogue = world.pool.catalogue
        if settings.speed:
            self._ref = catalogue.require(settings.speed_reference, "speed_reference").tflops_fp16
        else:
            self._ref = 1
        self.programs = _with_balances(programs, world, settings.tenant_balance_minor)
        # with programs the clock starts when the earliest program opens
        self.start = min(
            (p.valid_from for p in (self.programs.programs.values() if self.programs else ())),
            default=0,
        )
        self.scale = (
            arrival_scale(trace, settings.load_factor, world.accelerators)
            if settings.load_factor is not None
            else Fraction(1)
        )
        self.clock = ManualClock(self.start)
        # progress reports are read by nobody here: the executor makes none
        self.executor = FakeExecutor(self.clock, placed_runtime=self._runtime, progress=False)
        self.store = MemoryStore()
        self.coordinator = Coordinator.open(
            self.store,
            self.executor,
            world.pool,
            policy,
            self.clock,
            programs=self.programs,
            settings=CoordinatorSettings(
                max_retries=0,
                idle_cycle_interval_s=settings.idle_cycle_interval_s,
                arrival_cycle_interval_s=settings.arrival_cycle_interval_s,
                switch_interval_s=None,
                # A trace holds what users asked for: a job this pool can never hold is counted
                # as rejected (its first cycle rejects it), not refused, which would stop the
                # replay's batch of arrivals.
                refuse_oversize=False,
            ),
        )
        self.tally = Tally({t.id: t.weight for t in world.pool.tenants.values()})
        self.use = NodeUse(world.pool)
        # per trace job (by position)
        self._remaining = [job.duration_s for job in trace.jobs]
        self._gangs = [gang_for(job.gpus) for job in trace.jobs]
        self._index: dict[str, int] = {}  # coordinator job id -> position
        self._ids: list[str] = [""] * len(trace.jobs)
        self._attempt: dict[int, _Attempt] = {}
        self._launches = [0] * len(trace.jobs)
        self._ends: list[tuple[int, int]] = []  # (time, position) of attempts' planned ends
        self._end_of: dict[int, int] = {}  # position -> its live attempt's planned end
        self._deadlines: list[tuple[int, int]] = []
        self._last_seq = self.store.last_event_seq()
        self._tflops = {m: catalogue[m].tflops_fp16 for m in catalogue}
        eligible = _eligible_programs(self.programs, world)
        self._requests = [self._request(i, eligible) for i in range(len(trace.jobs))]

    # ------------------------------------------------------------------ the loop

    def run(
        self,
        until: int | None = None,
        on_tick: Callable[[TickReport, float], None] | None = None,
    ) -> ReplayResult:
        """Replay to the end of the events, or (`until`, clock seconds) stop before the first
        tick after that time; the end-of-run checks run either way. `on_tick(report, seconds)`
        sees every tick's report and how long the tick took (a benchmark's meter)."""
        started = time.perf_counter()
        stopped = False
        arrivals = self._arrivals()
        next_arrival = 0
        ticks = cycles = 0
        last_cycle = self.start
        uncycled = False  # jobs arrived that no cycle has seen yet
        follow_up = False
        settings = self.settings
        while True:
            now = self.clock.now()
            candidates = []
            if follow_up:
                candidates.append(now)
            if next_arrival < len(arrivals):
                candidates.append(arrivals[next_arrival][0])
            end = self._next(self._ends, self._end_of, now)
            if end is not None:
                candidates.append(end)
            deadline = self._next(self._deadlines, self._end_of, now, deadline=True)
            if deadline is not None:
                candidates.append(deadline)
            if uncycled and settings.arrival_cycle_interval_s:
                candidates.append(last_cycle + settings.arrival_cycle_interval_s)
            moving = self.tally.holding or next_arrival < len(arrivals)
            if moving and self.tally.waiting:
                candidates.append(last_cycle + settings.idle_cycle_interval_s)
            if not candidates:
                break
            self.clock.set(max(now, min(candidates)))
            now = self.clock.now()
            if next_arrival < len(arrivals) and arrivals[next_arrival][0] == now:
                self._submit(arrivals[next_arrival][1], now)
                next_arrival += 1
                uncycled = True
            if until is not None and now > until:
                stopped = True
                break
            if on_tick is None:
                report = self.coordinator.tick()
            else:
                began = time.perf_counter()
                report = self.coordinator.tick()
                on_tick(report, time.perf_counter() - began)
            ticks += 1
            if report.cycled:
                cycles += 1
                last_cycle = now
                uncycled = False
            # stops sent in this tick (victims, walltimes) are taken in by one more at once
            follow_up = report.preempted > 0 or deadline == now
            self._read_events()
            if ticks % settings.ledger_check_every == 0:
                self._check_ledger()
        self.tally.close(self.tally.last_end if self.tally.last_end is not None else self.start)
        self._final_checks()
        return ReplayResult(
            policy=self.policy.name,
            world=self.world,
            tally=self.tally,
            coordinator=self.coordinator,
            programs=self.programs,
            scale=self.scale,
            start=self.start,
            ticks=ticks,
            cycles=cycles,
            wall_s=time.perf_counter() - started,
            stranded=self.tally.waiting,
            stopped_at_until=stopped,
        )

    def _arrivals(self) -> list[tuple[int, list[int]]]:
        """(clock time, positions) per distinct arrival second, after rescaling."""
        jobs = self.trace.jobs
        first = jobs[0].submit_s
        num, den = self.scale.numerator, self.scale.denominator
        out: list[tuple[int, list[int]]] = []
        for i, job in enumerate(jobs):
            at = self.start + (job.submit_s - first) * num // den
            if out and out[-1][0] == at:
                out[-1][1].append(i)
            else:
                out.append((at, [i]))
        return out

    def _submit(self, positions: list[int], now: int) -> None:
        outcomes = self.coordinator.submit([self._requests[i] for i in positions])
        tally = self.tally
        for i, outcome in zip(positions, outcomes, strict=True):
            self._index[outcome.job_id] = i
            self._ids[i] = outcome.job_id
            tally.arrive(outcome.job_id, self.trace.jobs[i].tenant, now)

    @staticmethod
    def _next(
        heap: list[tuple[int, int]], live: dict[int, int], now: int, deadline: bool = False
    ) -> int | None:
        """The earliest entry of `heap` after `now` that still stands (lazily dropping the
        others: what was due by `now` was due at a tick already run)."""
        while heap:
            at, i = heap[0]
            if at > now and i in live and (deadline or live[i] == at):
                return at
            heapq.heappop(heap)
        return None

    # ------------------------------------------------------------------ the executor's runtimes

    def _runtime(self, job: Job, placement: Placement) -> int:
        """Seconds this attempt of `job` runs on `placement`: called by the executor at launch."""
        i = self._index[job.id]
        now = self.clock.now()
        self._launches[i] += 1
        overhead = self.settings.restart_overhead_s if self._launches[i] > 1 else 0
        tflops = self._ref
        if self.settings.speed:
            tflops = self._tflops[placement.model]
        runtime = overhead + -(-self._remaining[i] * self._ref // tflops)
        self._attempt[i] = _Attempt(now, overhead, tflops)
        end = now + runtime
        self._end_of[i] = end
        heapq.heappush(self._ends, (end, i))
        if job.walltime_s < runtime:
            heapq.heappush(self._deadlines, (now + job.walltime_s, i))
        return runtime

    def _attempt_over(self, i: int, at: int, finished: bool) -> None:
        attempt = self._attempt.pop(i, None)
        self._end_of.pop(i, None)
        if attempt is None or finished:
            return
        useful = at - attempt.started - attempt.overhead
        interval = self.settings.checkpoint_interval_s
        if interval and useful > 0:
            saved = useful // interval * interval
            done = saved * attempt.tflops // self._ref
            self._remaining[i] = max(1, self._remaining[i] - done)

    # ------------------------------------------------------------------ what happened

    def _read_events(self) -> None:
        while True:
            events = self.store.events(self._last_seq, limit=EVENTS_PER_READ)
            for event in events:
                self._on_event(event.kind, event.job_id, event.at, event.data)
            if events:
                self._last_seq = events[-1].seq
            if len(events) < EVENTS_PER_READ:
                return

    def _on_event(self, kind: str, job_id: str | None, at: int, data: Mapping[str, object]) -> None:
        if job_id is None:
            return
        tally = self.tally
        if kind == ek.ADMITTED:
            i = self._index[job_id]
            # the ADMITTED event's `workers`, as the coordinator writes it: [[node, count], ...]
            pairs = cast("Iterable[tuple[str, int]]", data["workers"])
            workers = tuple((str(node), int(count)) for node, count in pairs)
            problems = self.use.take(Holding(job_id, self._gangs[i], workers))
            if problems:
                raise InvariantViolated(f"at t={at - self.start} s: {'; '.join(problems)}")
            tally.admit(job_id, sum(c for _, c in workers), at)
        elif kind in (ek.PREEMPTED, ek.REQUEUED):
            if tally.jobs[job_id].outcome is Outcome.HOLDING:
                self.use.give(job_id)
                self._attempt_over(self._index[job_id], at, finished=False)
            tally.release(job_id, at, preempted=kind == ek.PREEMPTED)
        elif kind in (ek.SUCCEEDED, ek.FAILED):
            self.use.give(job_id)
            self._attempt_over(self._index[job_id], at, finished=kind == ek.SUCCEEDED)
            tally.end(job_id, at, Outcome.SUCCEEDED if kind == ek.SUCCEEDED else Outcome.FAILED)
        elif kind == ek.REJECTED:
            tally.end(job_id, at, Outcome.REJECTED)

    # ------------------------------------------------------------------ invariants

    def _check_ledger(self) -> None:
        if self.programs is None:
            return
        problems = self.coordinator.ledger.check()
        if problems:
            raise InvariantViolated(
                f"at t={self.clock.now() - self.start} s: ledger out of balance: "
                + "; ".join(problems[:5])
            )

    def _final_checks(self) -> None:
        self._check_ledger()
        problems = world_violations(self.pool, list(self.use.holding))
        running = set(self.coordinator.state.running)
        held = {h.job_id for h in self.use.holding}
        if running != held:
            problems.append(
                f"the coordinator holds {len(running)} jobs, the event log says {len(held)}"
            )
        if problems:
            raise InvariantViolated("at the end: " + "; ".join(problems[:5]))

    # ------------------------------------------------------------------ requests

    def _request(self, i: int, eligible: Mapping[str, tuple[str, ...]]) -> JobRequest:
        job = self.trace.jobs[i]
        gang = self._gangs[i]
        models = self.world.models[i]
        return JobRequest(
            tenant=job.tenant,
            workers=gang.workers,
            per_worker=gang.per_worker,
            walltime_s=self._walltime(job.duration_s, models),
            data_origin=self.world.origin,
            models=models,
            priority_class=self.world.priority_class,
            preemptible=True,
            approvals=self.world.approvals[job.tenant],
            programs=eligible.get(job.tenant, ()),
        )

    def _walltime(self, duration_s: int, models: tuple[str, ...]) -> int:
        if self.settings.walltime_s is not None:
            return self.settings.walltime_s
        slowest = min(self._tflops[m] for m in models) if self.settings.speed else self._ref
        return self.settings.restart_overhead_s + -(-duration_s * self._ref // slowest)


def replay(
    trace: Trace,
    pool: Pool,
    policy: Policy,
    *,
    programs: ProgramsConfig | None = None,
    settings: ReplaySettings | None = None,
) -> ReplayResult:
    return Replay(trace, pool, policy, programs=programs, settings=settings).run()


def _with_balances(
    programs: ProgramsConfig | None, world: ReplayWorld, balance: int
) -> ProgramsConfig | None:
    """The programs, with an opening balance for every trace tenant the file gives none in a
    currency of the pool."""
    if programs is None:
        return None
    currencies = sorted({n.price.currency for n in world.pool.nodes.values()})
    balances: dict[tuple[str, Currency], int] = dict(programs.balances)
    if balance:
        for tenant in world.approvals:  # the trace's tenants
            for currency in currencies:
                balances.setdefault((tenant, currency), balance)
    return ProgramsConfig(programs.programs, balances)


def _eligible_programs(
    programs: ProgramsConfig | None, world: ReplayWorld
) -> dict[str, tuple[str, ...]]:
    """The programs each trace tenant names on its jobs: every program it is eligible for, the
    most generous first (only one stacking group pays; the split picks the best)."""
    if programs is None:
        return {}
    out = {}
    ordered = sorted(
        programs.programs.values(),
        key=lambda p: (-max(p.rates.domestic_bp, p.rates.other_bp), p.id),
    )
    for tenant_id in world.approvals:
        tenant = world.pool.tenants[tenant_id]
        out[tenant_id] = tuple(p.id for p in ordered if p.tenant_eligible(tenant))
    return out
