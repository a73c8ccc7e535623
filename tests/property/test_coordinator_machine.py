"""The coordinator under random lives of jobs: submissions (some repeating a client key), time
passing with ticks, attempts failing, nodes lost, attempts hanging past their walltime,
cancellations of any job (also ended ones), and restarts with the executor surviving or not:
at rest (sometimes with an operator bringing lost nodes back while the coordinator was down),
or because the process died in the middle of a tick or a cancel (after its commit, part way
through telling the executor; or right after a poll, so the reports it took are lost).

It runs on the memory store, the fake executor and a manual clock, with one program paying half
and small budgets and balances, so that admissions sometimes wait for money (NO_FUNDS), and on
a pool of two or three nodes, so that jobs wait and preempt one another.

After every step: the ledger the coordinator holds is the one its stored postings replay to
and passes its own check; every open reservation is the live attempt of a job that holds
capacity, and every such attempt is reserved; no accelerator is booked twice, neither by the
store's records nor by the attempts the executor runs; an attempt the executor reported started
is running in the store; every acknowledged job is stored once and a client key names one job;
the coordinator's memory agrees with the store; the retry limit holds; no program spends beyond
its budget. At the end, time runs on until everything that can end has ended, and then no
reservation is left open."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from scheduler.domain.clock import ManualClock
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, JobState, Placement
from scheduler.domain.nodes import NodeState
from scheduler.domain.requests import JobRequest
from scheduler.executor.base import EventKind, ExecutorEvent, StopReason
from scheduler.executor.fake import FakeExecutor
from scheduler.ledger.book import Account, AccountKind, Ledger
from scheduler.ledger.flows import open_attempts
from scheduler.service.coordinator import ATTEMPT_FAILED, NODE_LOST, Coordinator
from scheduler.service.errors import JobAlreadyEnded
from scheduler.service.settings import CoordinatorSettings
from scheduler.store.memory import MemoryStore
from scheduler.store.records import JobRecord
from tests.builders import ASCEND
from tests.service_builders import T0, World, a_world, money, open_coordinator, small_pool

QUEUED, ADMITTED, RUNNING = JobState.QUEUED, JobState.ADMITTED, JobState.RUNNING
PREEMPTED, CANCELLED = JobState.PREEMPTED, JobState.CANCELLED
HOLDING = frozenset({ADMITTED, RUNNING})  # the attempt holds capacity
RESERVED = HOLDING | {PREEMPTED}  # the attempt holds a reservation (until its stop is reported)
PROGRAM = "sz-voucher"
DRAIN_STEP_S = 3600
DRAIN_STEPS = 60


def runtime(job: Job) -> int:
    """Half, all, or one and a half times its walltime, by arrival: some jobs end by
    themselves, some are stopped at their walltime."""
    return max(1, job.walltime_s * (1 + job.seq % 3) // 2)


class ProcessDied(BaseException):
    """The coordinator's process dies on the spot (think SIGKILL): nothing after it runs, and
    nothing catches it on the way out."""


class MortalExecutor(FakeExecutor):
    """The fake executor, next to which the coordinator's process can die: with `calls_left`
    set, that many more launches and stops reach the executor and the one after kills the
    process instead; with `die_after_poll`, the process dies as the next poll returns, so the
    reports it took are lost. `started` keeps when each attempt reported its start, and `lost`
    the attempts whose start report died with the process."""

    def __init__(
        self, clock: ManualClock, start_delay_s: int, run_s: Callable[[Job], int] = runtime
    ) -> None:
        super().__init__(clock, run_s, start_delay_s=start_delay_s)
        self.calls_left: int | None = None
        self.die_after_poll = False
        self.started: dict[tuple[str, int], int] = {}
        self.lost: set[tuple[str, int]] = set()

    def disarm(self) -> None:
        self.calls_left, self.die_after_poll = None, False

    def launch(self, job: Job, attempt: int, placement: Placement) -> None:
        self._maybe_die()
        super().launch(job, attempt, placement)

    def stop(self, job_id: str, attempt: int, reason: StopReason) -> None:
        self._maybe_die()
        super().stop(job_id, attempt, reason)

    def poll(self) -> list[ExecutorEvent]:
        reports = super().poll()
        for report in reports:
            if report.kind is EventKind.STARTED:
                self.started[(report.job_id, report.attempt)] = report.at
        if self.die_after_poll:
            self.disarm()
            self.lost |= {(r.job_id, r.attempt) for r in reports if r.kind is EventKind.STARTED}
            raise ProcessDied(f"died after a poll took {len(reports)} reports")
        return reports

    def _maybe_die(self) -> None:
        if self.calls_left is None:
            return
        if self.calls_left == 0:
            self.disarm()
            raise ProcessDied("died while telling the executor what was committed")
        self.calls_left -= 1


REQUEST = st.builds(
    JobRequest,
    tenant=st.sampled_from(("t1", "t2")),
    workers=st.integers(1, 2),
    per_worker=st.sampled_from((1, 4, 8)),
    walltime_s=st.integers(60, 3600),
    data_origin=st.just(Jurisdiction.MAINLAND),
    models=st.just((ASCEND,)),
    priority_class=st.sampled_from(("low", "standard", "high")),
    preemptible=st.sampled_from((True, True, True, False)),
    client_key=st.none() | st.sampled_from(("k1", "k2", "k3")),
    programs=st.just((PROGRAM,)),
)


class CoordinatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.acked: dict[str, JobRequest] = {}  # every job id a submission returned as created
        self.keys: dict[tuple[str, str], str] = {}  # (tenant, client key) -> the first job
        self.inbox: set[str] = set()  # acknowledged, not yet taken in by a tick or a cancel
        self.start_delay_s = 0
        self._replayed: Ledger | None = None
        self._checked: tuple[Ledger, int] | None = None  # the ledger last checked, its length

    # ------------------------------------------------------------------ helpers

    @property
    def coordinator(self) -> Coordinator:
        return self.world.coordinator

    @property
    def executor(self) -> MortalExecutor:
        executor = self.world.executor
        assert isinstance(executor, MortalExecutor)
        return executor

    def new_executor(self) -> MortalExecutor:
        return MortalExecutor(self.world.clock, self.start_delay_s)

    def stored(self) -> list[JobRecord]:
        return self.world.store.jobs(limit=1_000_000)

    def live(self) -> list[str]:
        return sorted(self.world.executor.attempts())

    def busy_nodes(self) -> list[str]:
        """Nodes on which the executor runs an attempt, by the placement the store holds."""
        nodes: set[str] = set()
        for job_id, attempt in self.world.executor.attempts().items():
            record = self.world.store.job(job_id)
            if record is not None and record.attempt == attempt and record.placement:
                nodes |= record.placement.nodes
        return sorted(nodes)

    def stored_ledger(self) -> Ledger:
        """The ledger the stored postings replay to (postings are only ever appended, so one
        replay serves until the next posting)."""
        postings = self.world.store.postings()
        if self._replayed is None or len(self._replayed) != len(postings):
            self._replayed = Ledger.replay(postings)
        return self._replayed

    def tick(self) -> None:
        report = self.coordinator.tick()
        self.inbox.clear()
        if report.preempted:
            event("tick: preempted a job")
        if report.rejected:
            event("tick: rejected a job")
        for reason in self.coordinator.reasons.values():
            event(f"pending: {reason.code}")

    def durable(self) -> tuple[list[JobRecord], int, int]:
        """What the store holds, in short: the jobs, the postings, the events."""
        store = self.world.store
        return self.stored(), len(store.postings()), store.last_event_seq()

    def check_everything(self) -> None:
        """Every invariant, as after a step (a failure is then reported where the invariant
        fails, not as a drain that cannot finish)."""
        self.the_ledger_in_memory_is_the_stored_one_and_sound()
        self.reservations_are_exactly_the_live_attempts()
        self.no_accelerator_is_booked_twice()
        self.the_store_knows_when_every_live_attempt_started()
        self.every_acknowledged_job_is_stored_once_and_keys_name_one_job()
        self.memory_agrees_with_the_store()
        self.failures_respect_the_retry_limit()
        self.no_program_spends_beyond_its_budget()

    # ------------------------------------------------------------------ rules

    @initialize(
        nodes=st.integers(2, 3),
        budget=st.sampled_from((2_000, 10_000, 200_000)),
        balance=st.sampled_from((3_000, 10_000, 100_000)),
        max_retries=st.integers(0, 2),
        start_delay_s=st.sampled_from((0, 0, 45)),
        first=st.lists(REQUEST, min_size=2, max_size=6),
    )
    def open_world(
        self,
        nodes: int,
        budget: int,
        balance: int,
        max_retries: int,
        start_delay_s: int,
        first: list[JobRequest],
    ) -> None:
        """A new pool, and a first batch of jobs so that every run has work to fight over."""
        self.start_delay_s = start_delay_s
        clock = ManualClock(T0)
        executor = MortalExecutor(clock, start_delay_s)
        store = MemoryStore()
        pool = small_pool(nodes)
        programs = money(budget=budget, balance=balance)
        settings_ = CoordinatorSettings(max_retries=max_retries)
        coordinator = open_coordinator(store, executor, pool, clock, programs, settings_)
        self.world = World(store, clock, executor, coordinator, pool, programs, settings_, runtime)
        self.submit(first)

    @rule(requests=st.lists(REQUEST, min_size=1, max_size=4), then_tick=st.booleans())
    def submit_and_maybe_tick(self, requests: list[JobRequest], then_tick: bool) -> None:
        """A batch of submissions; the loop wakes for them, so a tick often follows at once."""
        self.submit(requests)
        if then_tick:
            self.tick()

    def submit(self, requests: list[JobRequest]) -> None:
        outcomes = self.coordinator.submit(requests)
        assert len(outcomes) == len(requests)
        for request, outcome in zip(requests, outcomes, strict=True):
            key = None if request.client_key is None else (request.tenant, request.client_key)
            if outcome.created:
                assert outcome.job_id not in self.acked, f"{outcome.job_id} acknowledged twice"
                assert key is None or key not in self.keys, (
                    f"client key {key} created {outcome.job_id}, but it names {self.keys.get(key)}"
                )
                self.acked[outcome.job_id] = request
                self.inbox.add(outcome.job_id)
                if key is not None:
                    self.keys[key] = outcome.job_id
            else:
                assert key is not None, f"{outcome.job_id}: not created, yet it has no client key"
                assert self.keys.get(key) == outcome.job_id, (
                    f"client key {key} answered {outcome.job_id}, first given {self.keys.get(key)}"
                )
                event("submit: a client key seen before")

    @rule(seconds=st.integers(0, 900))
    def advance_and_tick(self, seconds: int) -> None:
        self.world.clock.advance(seconds)
        self.tick()

    @rule(trouble=st.sampled_from(("fail", "lose node", "hang")), index=st.integers(0, 99))
    def trouble(self, trouble: str, index: int) -> None:
        """The live attempt of a job fails, or hangs (never progresses again, so its walltime
        stops it), or a node that runs something is lost (every attempt on it ends)."""
        executor = self.world.executor
        live = self.live()
        if not live:
            return
        if trouble == "lose node":
            busy = self.busy_nodes()
            executor.lose_node(busy[index % len(busy)])
            return
        job_id = live[index % len(live)]
        if trouble == "fail":
            executor.fail(job_id, "CUDA error")
        else:
            executor.hang(job_id)

    def cancel_events(self, job_id: str) -> int:
        return sum(1 for e in self.world.store.events(job_id=job_id) if e.kind == "cancelled")

    @rule(index=st.integers(0, 99))
    def cancel(self, index: int) -> None:
        if not self.acked:
            return
        job_id = sorted(self.acked)[index % len(self.acked)]
        before = self.world.store.job(job_id)
        assert before is not None
        # A cancel first applies what the executor reported since the last tick (a job may end
        # just then), so "changed nothing" is said of the cancel itself: no cancelled event,
        # and the job's record as those reports left it.
        cancels = self.cancel_events(job_id)
        try:
            answer = self.coordinator.cancel(job_id, actor="t1")
        except JobAlreadyEnded:
            event("cancel: already ended")
            after = self.world.store.job(job_id)
            assert after is not None and after.state.terminal, f"{job_id} refused but {after}"
            assert after.state is not CANCELLED, f"cancel of a cancelled {job_id} refused"
            assert self.cancel_events(job_id) == cancels, f"a refused cancel of {job_id} wrote"
            return
        finally:
            self.inbox.clear()  # cancel takes the inbox in, whatever it answers
        assert answer.state is CANCELLED, f"cancel of {job_id} answered {answer.state}"
        if before.state is CANCELLED:
            event("cancel: again")
            assert answer == before
            assert self.cancel_events(job_id) == cancels, f"cancelling {job_id} again wrote"
            return
        assert not before.state.terminal, f"{job_id} was {before.state} and is now cancelled"
        event(f"cancel: {before.state}")
        assert self.world.store.job(job_id) == answer
        assert job_id not in self.world.executor.attempts(), f"cancelled {job_id} still runs"
        still_open = [key for key in open_attempts(self.coordinator.ledger) if key[0] == job_id]
        assert not still_open, f"cancelled {job_id} still holds reservations {still_open}"

    @rule(executor_survives=st.booleans(), repair=st.booleans())
    def restart(self, executor_survives: bool, repair: bool) -> None:
        """The coordinator's process dies and starts again; with `repair`, an operator brought
        the nodes the scheduler took down back up while it was down."""
        store, clock = self.world.store, self.world.clock
        if repair:
            for node in store.nodes():
                if node.state is NodeState.DOWN:
                    event("restart: a lost node repaired")
                    store.set_node_state(node.id, NodeState.UP, clock.now(), "operator")
        for record in self.coordinator.records.values():
            if record.state is not QUEUED:
                event(f"restart: a job {record.state}, executor survives: {executor_survives}")
        executor = self.executor if executor_survives else self.new_executor()
        self.world.restart(executor)
        self.inbox.clear()

    @rule(
        during=st.sampled_from(("tick", "cancel")),
        calls=st.integers(0, 3),
        lose_reports=st.booleans(),
        seconds=st.integers(0, 900),
        index=st.integers(0, 99),
        executor_survives=st.booleans(),
    )
    def die_and_restart(
        self,
        during: str,
        calls: int,
        lose_reports: bool,
        seconds: int,
        index: int,
        executor_survives: bool,
    ) -> None:
        """The process dies in the middle of a tick or a cancel: after its commit, once `calls`
        launches and stops have reached the executor (or, in a tick with `lose_reports`, right
        after it polled the executor, whose reports are then lost); then it starts again. The
        store is ahead of the executor, and recovery must make them agree."""
        executor = self.executor
        executor.calls_left = calls
        died_polling = executor.die_after_poll = during == "tick" and lose_reports
        try:
            if during == "tick":
                self.world.clock.advance(seconds)
                self.coordinator.tick()
            elif self.acked:
                self.coordinator.cancel(sorted(self.acked)[index % len(self.acked)], actor="t1")
        except ProcessDied:
            event(f"died during a {during}" + (" after its poll" if died_polling else ""))
        except JobAlreadyEnded:
            pass
        finally:
            executor.disarm()
        self.restart(executor_survives, repair=False)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def the_ledger_in_memory_is_the_stored_one_and_sound(self) -> None:
        held = self.coordinator.ledger
        stored = self.stored_ledger()
        assert held.postings() == stored.postings(), (
            "the coordinator's ledger differs from the postings in the store"
        )
        assert held.balances() == stored.balances(), "balances differ from the stored replay"
        if self._checked != (held, len(held)):  # postings are only ever appended
            problems = held.check()  # the stored one has the same postings and balances
            assert problems == [], f"the coordinator's ledger fails its check: {problems}"
            self._checked = (held, len(held))

    @invariant()
    def reservations_are_exactly_the_live_attempts(self) -> None:
        """With programs configured the engine funds every admission (its cycle carries
        budgets), so every attempt holding capacity holds a reservation, and nothing else does.
        A preempted attempt keeps its reservation until its stop is reported."""
        open_ = open_attempts(self.stored_ledger())
        records = {record.id: record for record in self.stored()}
        for job_id, attempt in sorted(open_):
            record = records.get(job_id)
            assert record is not None, f"open reservation of unknown job {job_id}"
            assert record.state in RESERVED and record.attempt == attempt, (
                f"{job_id} attempt {attempt} is reserved, but the job is {record.state}"
                f" at attempt {record.attempt}"
            )
        for record in records.values():
            if record.state in RESERVED:
                assert (record.id, record.attempt) in open_, (
                    f"{record.id} is {record.state} at attempt {record.attempt}, unreserved"
                )

    @invariant()
    def no_accelerator_is_booked_twice(self) -> None:
        nodes = {node.id: node for node in self.world.store.nodes()}
        booked: Counter[str] = Counter()
        records = {record.id: record for record in self.stored()}
        for record in records.values():
            if record.state in HOLDING:
                assert record.placement is not None, f"{record.id} is {record.state}, unplaced"
                booked.update(record.placement.per_node())
        for node_id, count in booked.items():
            size = nodes[node_id].accelerators
            assert count <= size, f"store: {count} accelerators booked on {node_id} of {size}"
        running: Counter[str] = Counter()
        for job_id, attempt in sorted(self.world.executor.attempts().items()):
            live = records.get(job_id)
            assert live is not None, f"the executor runs unknown job {job_id}"
            assert live.state in HOLDING and live.attempt == attempt, (
                f"the executor runs {job_id} attempt {attempt}, but the store has it"
                f" {live.state} at attempt {live.attempt}"
            )
            assert live.placement is not None
            for node_id in live.placement.nodes:
                assert nodes[node_id].state is not NodeState.DOWN, (
                    f"the executor runs {job_id} on {node_id}, which is down"
                )
            running.update(live.placement.per_node())
        for node_id, count in running.items():
            size = nodes[node_id].accelerators
            assert count <= size, f"executor: {count} accelerators run on {node_id} of {size}"

    @invariant()
    def the_store_knows_when_every_live_attempt_started(self) -> None:
        """An attempt the executor reported started is RUNNING in the store, with a start:
        its walltime is enforced and its run billed from then. The start is the reported one,
        unless that report was taken by a tick that died before its commit: recovery may
        then only know the attempt started, not when. It must not stay ADMITTED for ever."""
        executor = self.executor
        for job_id, attempt in sorted(executor.attempts().items()):
            reported = executor.started.get((job_id, attempt))
            if reported is None:
                continue  # not reported yet
            record = self.world.store.job(job_id)
            assert record is not None
            assert record.state is RUNNING and record.started_at is not None, (
                f"{job_id} attempt {attempt} reported its start at {reported} and still runs,"
                f" but the store has it {record.state} with started_at={record.started_at}:"
                " its walltime is never enforced and its run is never billed"
            )
            if (job_id, attempt) not in executor.lost:
                assert record.started_at == reported, (
                    f"{job_id} attempt {attempt} started at {reported}, the store says"
                    f" {record.started_at}"
                )

    @invariant()
    def every_acknowledged_job_is_stored_once_and_keys_name_one_job(self) -> None:
        ids = Counter(record.id for record in self.stored())
        twice = sorted(job_id for job_id, n in ids.items() if n > 1)
        assert not twice, f"stored more than once: {twice}"
        assert set(ids) == set(self.acked), (
            f"acknowledged but not stored: {sorted(set(self.acked) - set(ids))};"
            f" stored but never acknowledged: {sorted(set(ids) - set(self.acked))}"
        )
        by_key: dict[tuple[str, str], list[str]] = {}
        for record in self.stored():
            if record.client_key is not None:
                by_key.setdefault((record.tenant, record.client_key), []).append(record.id)
        for key, jobs in by_key.items():
            assert jobs == [self.keys[key]], f"client key {key} names {jobs}"

    @invariant()
    def memory_agrees_with_the_store(self) -> None:
        store = self.world.store
        for job_id, record in self.coordinator.records.items():
            assert store.job(job_id) == record, (
                f"{job_id}: memory {record} but the store has {store.job(job_id)}"
            )
        active = {record.id for record in store.active_jobs()}
        known = set(self.coordinator.records) | self.inbox
        assert active <= known, f"active in the store, unknown to the coordinator: {active - known}"
        state = self.coordinator.state
        holding = {i for i, r in self.coordinator.records.items() if r.state in HOLDING}
        assert set(state.running) == holding, (
            f"the cluster state runs {sorted(state.running)}, the records hold {sorted(holding)}"
        )
        queued = {i for i, r in self.coordinator.records.items() if r.state is QUEUED}
        assert set(state.pending) == queued, (
            f"the cluster state queues {sorted(state.pending)}, the records {sorted(queued)}"
        )

    @invariant()
    def failures_respect_the_retry_limit(self) -> None:
        limit = self.world.settings.max_retries + 1
        for record in self.stored():
            assert record.failures <= limit, f"{record.id}: {record.failures} failures"
            if record.state is JobState.FAILED and record.reason_code in (
                ATTEMPT_FAILED,
                NODE_LOST,
            ):
                assert record.failures == limit, (
                    f"{record.id} failed ({record.reason_code}) after {record.failures} failures,"
                    f" the limit is {limit}"
                )

    @invariant()
    def no_program_spends_beyond_its_budget(self) -> None:
        ledger = self.coordinator.ledger
        assert self.world.programs is not None
        for program in self.world.programs.programs.values():
            budget, reserved, paid = (
                ledger.balance(Account(kind, program.id, program.currency))
                for kind in (
                    AccountKind.PROGRAM_BUDGET,
                    AccountKind.PROGRAM_RESERVED,
                    AccountKind.PROGRAM_PAID,
                )
            )
            assert paid + reserved <= program.budget, (
                f"{program.id}: paid {paid} + reserved {reserved} > budget {program.budget}"
            )
            assert budget + reserved + paid == program.budget

    # ------------------------------------------------------------------ the end

    def teardown(self) -> None:
        """Let time run on until nothing holds capacity and a cycle admits nothing more; then
        no reservation is left open, the executor runs nothing, and a job still queued waits
        for money or for a node that is down."""
        if not hasattr(self, "world") or sys.exc_info()[0] is not None:
            return  # a run that failed already is not drained: its failure is the report
        self.check_everything()
        for _ in range(DRAIN_STEPS):
            self.world.clock.advance(DRAIN_STEP_S)
            report = self.coordinator.tick()
            busy = [r.id for r in self.coordinator.records.values() if r.state in RESERVED]
            if not busy and not self.world.executor.attempts() and not report.admitted:
                break
        else:
            raise AssertionError(f"still busy after {DRAIN_STEPS} hours: {busy}")
        still_open = open_attempts(self.coordinator.ledger)
        assert still_open == set(), f"reservations left open after the drain: {still_open}"
        assert open_attempts(self.stored_ledger()) == set()
        down = any(node.state is NodeState.DOWN for node in self.world.store.nodes())
        for record in self.world.store.active_jobs():
            assert record.state is QUEUED, f"{record.id} is {record.state} after the drain"
            reason = self.coordinator.pending_reason(record.id)
            assert reason is not None, f"{record.id} waits with no reason"
            event(f"drained: still queued for {reason.code}")
            assert reason.code == "NO_FUNDS" or (down and reason.code == "NO_CAPACITY"), (
                f"{record.id} still waits after the drain: {reason.code} {reason.message}"
            )
        for record in self.stored():
            if record.state.terminal:
                event(f"drained: {record.state} {record.reason_code}")


# The explain phase is left out: it replays the shrunk failure dozens of times more, which on
# this machine doubles the time a failure takes to report.
CoordinatorMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow],
)
TestCoordinatorMachine = CoordinatorMachine.TestCase


def test_a_start_reported_to_a_tick_that_died_is_not_forgotten() -> None:
    """The machine's shortest failure, spelled out: a tick polls the executor, takes the
    attempt's `started` report and dies before its commit (a failed commit does the same);
    the restarted coordinator re-attaches the attempt, which still runs."""
    world = a_world(programs=money())
    executor = MortalExecutor(world.clock, 0, run_s=lambda job: 2 * job.walltime_s)
    world.restart(executor)
    job = world.submit(walltime_s=600)
    world.run()  # admitted and launched; it starts at once
    executor.die_after_poll = True
    with pytest.raises(ProcessDied):
        world.run()  # polls `started`, dies before the commit
    world.restart(executor)  # the same second: the attempt lives on, re-attached

    world.run(600)  # its walltime is up: the tick asks for the stop
    world.run()  # and the next one reads it

    record = world.record(job)
    assert (record.state, record.reason_code) == (JobState.FAILED, "WALLTIME"), (
        f"the attempt ran on past its walltime: {record.state}, started_at={record.started_at}"
    )
    # Billed for its walltime, as any attempt stopped there: 8 × 600 s at 1000 fen/h.
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 1333
