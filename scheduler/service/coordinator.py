"""The coordinator: the one place where jobs change state.

    submit ─► validate ─► group commit (durable) ─► acknowledge ─► inbox
    tick:  1. take the inbox into the cluster state
           2. poll the executor; its reports move jobs and settle the ledger ─► commit ─► act
           3. stop what outran its walltime, and what runs abroad on an approval that ended
           4. snapshot ─► run_cycle ─► reserve funds ─► commit (one transaction) ─► act
    act:   stop victims and cancelled attempts, launch admitted ones: only after the commit,
           so a crash in between leaves the store ahead of the executor, which recovery repairs

Threads. Submissions never take the tick's lock: they are validated against the pool and
group-committed on their callers' threads while a cycle runs; the tick takes them from the inbox
at its next start (4. runs only when something the cycle would see changed). The store is
shared by both and every call on it holds `_store_lock`. Cancel and the tick share
`_core_lock` (the cluster state, the ledger and the active records are theirs).

Crash-only. If a commit fails, memory no longer matches the store: the coordinator stops taking
work (`CoordinatorStopped`) and must be restarted, and `open` rebuilds everything from the store
and reconciles it with what the executor still runs.

Pending reasons are derived data: every cycle recomputes them, so they are kept in memory
(`pending_reason`), not written for every waiting job on every cycle.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import itertools
import logging
import operator
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

from scheduler.domain.clock import Clock
from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.jobs import Gang, Job, JobState, RunningJob
from scheduler.domain.nodes import Node, NodeState
from scheduler.domain.pool import Pool
from scheduler.domain.requests import JobRequest, Resolved, oversize, resolve, resolved_job
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import Tenant
from scheduler.engine.cycle import run_cycle
from scheduler.engine.decisions import Admission, CycleResult, PendingReasons
from scheduler.engine.reasons import Reason
from scheduler.engine.snapshot import Shape, shape_of
from scheduler.engine.state import ClusterState
from scheduler.executor.base import EventKind, Executor, ExecutorEvent, StopReason
from scheduler.executor.errors import ExecutorError
from scheduler.ledger.available import budgets_from
from scheduler.ledger.book import Ledger
from scheduler.ledger.config import ProgramsConfig
from scheduler.ledger.errors import LedgerError
from scheduler.ledger.evidence import EvidenceRow, evidence_rows
from scheduler.ledger.flows import budget_change, fund_to, open_attempts, release, reserve
from scheduler.ledger.programs import Program
from scheduler.ledger.reports import (
    OwnerReport,
    ProgramReport,
    RunningReports,
    TenantReport,
)
from scheduler.policy.ordering import Discipline
from scheduler.policy.registry import Policy
from scheduler.policy.service import ServiceHistory
from scheduler.service import event_kinds as ek
from scheduler.service.billing import close_attempt
from scheduler.service.bootstrap import load_world
from scheduler.service.errors import CoordinatorStopped, JobAlreadyEnded, unknown_job_message
from scheduler.service.job_money import MoneySoFar, money_so_far
from scheduler.service.job_progress import REPORT_KINDS, JobProgress, job_progress
from scheduler.service.pool_changes import (
    check_program,
    with_approval,
    with_node,
    with_tenant,
    without_node,
)
from scheduler.service.settings import CoordinatorSettings, set_young_gc_threshold
from scheduler.service.submissions import GroupCommit
from scheduler.service.tallies import Tallies, TalliesSnapshot
from scheduler.service.writes import Launch, Stop, Writes
from scheduler.store.base import Store
from scheduler.store.errors import UnknownJob, UnknownNode
from scheduler.store.records import (
    CROSS_BORDER_STOP,
    SCHEDULER,
    AuditRecord,
    Commit,
    Event,
    FairShareUsage,
    JobRecord,
    NewAudit,
    SubmitOutcome,
)

log = logging.getLogger(__name__)

RUNNING = JobState.RUNNING
DRAINING = NodeState.DRAINING
HOLDING = frozenset({JobState.ADMITTED, JobState.RUNNING})
"""States in which a job's current attempt holds capacity in the cluster state."""

# Reason codes the coordinator writes itself (the engine's are `ReasonCode` values).
RETRY = "RETRY"  # an attempt failed or lost its node; the job is queued again
PREEMPTED_REQUEUE = "PREEMPTED"  # stopped to make room; queued again, not counted as a failure
RECOVERED = "RECOVERED"  # the attempt did not survive a coordinator restart; queued again
WALLTIME = "WALLTIME"  # stopped at its walltime; the job failed
ATTEMPT_FAILED = "ATTEMPT_FAILED"  # failed, no retries left
NODE_LOST = "NODE_LOST"  # lost its node, no retries left
STOPPED = "STOPPED"  # the executor stopped it for a reason of its own; queued again
CANCELLED = "CANCELLED"
SUCCEEDED = "SUCCEEDED"
UNDECIDED = "UNDECIDED"  # a waiting job no cycle has looked at yet (metrics only)
_CODE_OF = operator.attrgetter("code._value_")
"""A `Reason`'s code as a plain str (an enum member hashes in Python, a str in C)."""
_NO_REASON = SimpleNamespace(code=SimpleNamespace(_value_=UNDECIDED))
"""What `_CODE_OF` reads UNDECIDED from, for a job without a reason."""

MAX_SHAPES = 4096
"""Request shapes remembered as resolved (a bulk submission has few; past this many, new shapes
are resolved for every job)."""
RequestShape = tuple[str, str, tuple[str, ...], int | None, tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class _Shapes:
    """Request shapes (tenant, priority class, models, minimum TFLOPS, approvals, programs)
    checked against `pool` and the programs of the moment, and what each resolved to. Replaced,
    never cleared, when the pool or a program changes."""

    pool: Pool
    resolved: dict[RequestShape, Resolved] = field(default_factory=dict)
    gangs: dict[tuple[int, int], Gang] = field(default_factory=dict)  # shared by jobs of a size
    fitting: set[tuple[frozenset[str], int, int]] = field(default_factory=set)
    """(models, workers, per worker) of gangs found not `oversize` for `pool`."""


@dataclass(frozen=True, slots=True)
class UsageReports:
    """The ledger's reports as of posting `as_of_posting` (0: none yet); programs by id."""

    programs: tuple[ProgramReport, ...]
    tenants: tuple[TenantReport, ...]
    owners: tuple[OwnerReport, ...]
    as_of_posting: int


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did, for logs, metrics and tests."""

    at: int
    executor_events: int
    admitted: int
    preempted: int
    rejected: int
    pending: int
    running: int
    cycle_ms: float  # 0.0 when the cycle's outcome was known without running it
    cycled: bool  # False: nothing the cycle would see had changed, so none was due
    considered: int = 0  # jobs the cycle looked at (its snapshot's pending jobs)


@dataclass(frozen=True, slots=True)
class MetricsView:
    """The coordinator's figures at one moment, for the metrics endpoint (`metrics_view`)."""

    pool: Pool
    tallies: TalliesSnapshot
    pending: Mapping[tuple[str, str], int]  # (tenant, priority class) -> jobs waiting
    pending_by_reason: Mapping[str, int]  # reason code ("UNDECIDED": no cycle yet) -> jobs
    running: Mapping[str, int]  # tenant -> jobs holding accelerators
    allocated: Mapping[str, int]  # node id -> accelerators held by admitted or running jobs
    free: Mapping[str, int]  # node id -> accelerators free
    reports: UsageReports
    last_tick: TickReport | None
    last_event_seq: int
    stopped: bool


class _Summary:
    """What the tick loop did since it last said so: one log line a minute at most."""

    EVERY_S = 60.0

    def __init__(self, now: float) -> None:
        self.since = now
        self.counts: Counter[str] = Counter()
        self.busy_s = 0.0

    def add(self, report: TickReport, took: float, now: float) -> None:
        self.counts.update(
            ticks=1,
            cycles=report.cycled,
            admitted=report.admitted,
            preempted=report.preempted,
            rejected=report.rejected,
        )
        self.busy_s += took
        span = now - self.since
        if span < self.EVERY_S:
            return
        if self.counts["cycles"]:
            c = self.counts
            log.info(
                "%d ticks, %d cycles in %.0f s (%.0f %% busy): %d admitted, %d preempted,"
                " %d rejected; %d pending, %d running",
                c["ticks"],
                c["cycles"],
                span,
                100 * self.busy_s / span,
                c["admitted"],
                c["preempted"],
                c["rejected"],
                report.pending,
                report.running,
            )
        self.since, self.counts, self.busy_s = now, Counter(), 0.0


class Coordinator:
    """Open one with `Coordinator.open`; drive it by `tick()` (tests, the simulator) or by
    `start()`, which runs the group-commit writer and the tick loop on threads."""

    # Take a cycle's outcome without running it when it is known (`_known_result`); tests
    # turn it off to compare.
    skip_known_cycles = True

    def __init__(
        self,
        store: Store,
        executor: Executor,
        pool: Pool,
        programs: dict[str, Program],
        ledger: Ledger,
        policy: Policy,
        clock: Clock,
        settings: CoordinatorSettings,
    ) -> None:
        self.store = store
        self.executor = executor
        self.pool = pool
        self.programs = programs
        self.ledger = ledger
        self.policy = policy
        self.clock = clock
        self.settings = settings
        self.state = ClusterState(pool)
        self.records: dict[str, JobRecord] = {}  # every active job
        self.reasons: dict[str, Reason] = {}  # why each queued job waits, as of the last cycle
        # ... but for the jobs the last cycle decided as one run behind a blocked head (strict
        # FIFO), kept as that run rather than an entry per job (see `pending_reason`)
        self._blocked: PendingReasons | None = None
        self._cycled_all = True  # the last cycle looked at every queued job
        # Numbers are taken at validation, on the submitter's thread, under `_numbering`: a
        # batch takes them only once every request in it is valid, so a refused one takes none
        # (a resubmitted client key still takes one: only the store knows the key).
        self._numbering = threading.Lock()
        self._next_number = store.last_job_seq() + 1
        # Walltime deadlines of running attempts: (deadline, job id, attempt), earliest first.
        self._deadlines: list[tuple[int, str, int]] = []
        # Something the next cycle must see happened (capacity freed, a node or a tenant changed).
        self._changed = True
        self._arrivals = False  # new jobs came in since the last cycle
        self._new_jobs: list[Job] = []  # and those jobs
        self._run_shapes: frozenset[Shape] = frozenset()  # see `_known_result`
        self._expiries: tuple[Pool | None, list[int]] = (None, [])
        # See `_stop_outside_approvals`; long ago: the first tick looks at recovered attempts.
        self._zones_checked_at = -(1 << 62)
        self._draining: tuple[Pool | None, list[str]] = (None, [])  # see `_down_drained`
        self._last_quiet = False  # the last cycle admitted and preempted nothing
        self._last_cycle = -1 << 62  # clock seconds of the last cycle
        self._inbox: deque[Job] = deque()
        self._store_lock = threading.Lock()
        self._core_lock = threading.RLock()
        self._stopped: str | None = None
        self._group = GroupCommit(self._write_jobs, settings.max_batch, settings.commit_delay_s)
        self._ticker: threading.Thread | None = None
        self._wake = threading.Event()
        self._closing = threading.Event()
        self.last_tick: TickReport | None = None
        self.submit_transactions = 0  # store transactions that wrote submissions (group commits)
        self.tallies = Tallies()  # what the coordinator did since it was made, for metrics
        self._running_reports = RunningReports()  # the ledger's reports, under the core lock
        # The newest event in the store, for watchers to know when to read again without a
        # query each.
        self.last_event_seq = store.last_event_seq()
        self._committed_postings = len(ledger)  # a replayed ledger is all in the store
        self._refused: list[ExecutorEvent] = []  # launches the executor refused
        self._shapes = _Shapes(pool)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        store: Store,
        executor: Executor,
        config: Pool,
        policy: Policy,
        clock: Clock,
        *,
        programs: ProgramsConfig | None = None,
        settings: CoordinatorSettings | None = None,
    ) -> Coordinator:
        """Load the world from the store (seeding an empty one from the configuration), then
        recover: every active job back into the cluster state, reconciled with the executor."""
        world = load_world(store, config, programs, clock.now())
        coordinator = cls(
            store,
            executor,
            world.pool,
            world.programs,
            world.ledger,
            policy,
            clock,
            settings or CoordinatorSettings(),
        )
        coordinator._recover()
        return coordinator

    def _recover(self) -> None:
        """Rebuild the cluster state from the store's active jobs and make it agree with the
        executor: attempts it still runs are re-attached, the others are queued again with
        their reservations released, attempts nobody holds are stopped."""
        with self._core_lock:
            now = self.clock.now()
            if self.policy.reads_service:  # las, qssf: attained service and run times
                with self._store_lock:
                    self.state.set_service(replay_service(self.store))
            stored = self.store.fair_share()
            if stored is not None:
                self.state.set_usage(stored.usage, stored.at)
            for node in self.pool.nodes.values():
                if node.state is not NodeState.UP:
                    self.state.set_node_state(node.id, node.state)
            for record in self.store.active_jobs():
                self.records[record.id] = record
                if record.state is JobState.RUNNING and record.started_at is not None:
                    self._deadline(record.id, record.attempt, record.started_at, record.job)
                if record.state in HOLDING and record.placement is not None:
                    started = record.started_at if record.started_at is not None else now
                    self.state.start(RunningJob(record.job, record.placement, started))
                elif record.state is JobState.QUEUED:
                    self.state.submit(record.job)
            # Reports first: an attempt that ended but was not polled yet is not in `attempts`.
            writes = Writes(now)
            for event in self.executor.poll():
                self._on_executor_event(event, writes)
            live = self.executor.attempts()
            for record in list(self.records.values()):
                holds = record.state in HOLDING or record.state is JobState.PREEMPTED
                if not holds:
                    continue
                if live.get(record.id) == record.attempt:
                    if record.state is JobState.PREEMPTED:  # the stop may not have been sent
                        writes.stops.append(Stop(record.id, record.attempt, StopReason.PREEMPTED))
                    elif record.state is JobState.ADMITTED:
                        # Its `started` report may have died with the last process, polled but
                        # never committed: the executor still knows when it started.
                        since = self.executor.started_at(record.id, record.attempt)
                        if since is not None:
                            self._started(record, writes, since)
                    continue
                # Nothing proves how long the lost attempt ran: release, do not bill.
                self._requeue(
                    record,
                    writes,
                    RECOVERED,
                    f"attempt {record.attempt} did not survive a coordinator restart",
                    bill=False,
                )
            for job_id, attempt in sorted(live.items()):
                if not self._current(job_id, attempt):
                    writes.stops.append(Stop(job_id, attempt, StopReason.ORPHANED))
            for job_id, attempt in sorted(open_attempts(self.ledger)):
                if not self._current(job_id, attempt):
                    release(self.ledger, job_id, attempt, now)
            self._commit(writes)
            self._act(writes)
            log.info(
                "recovered %d active jobs (%d running, %d queued); %d attempts stopped",
                len(self.records),
                len(self.state.running),
                len(self.state.pending),
                sum(1 for stop in writes.stops if stop.reason is StopReason.ORPHANED),
            )

    # ------------------------------------------------------------------ threads

    def start(self) -> None:
        """Run the tick loop on its own thread (submissions run on their callers' threads).

        With `settings.switch_interval_s` set, this also lowers the interpreter's thread switch
        interval: a tick is pure Python and holds the GIL for its whole slice, and a submitter
        coming back from SQLite (its fsync runs without the GIL) waits for that slice to end, at
        every statement it makes. 5 ms slices (Python's default) cost a submission tens of ms
        while a cycle runs; 1 ms slices cost the cycle little.

        `settings.gc_young_threshold` and `settings.gc_freeze` tune the garbage collector, also
        for the whole process (`gbasched serve` sets both). Every job held in memory is a few
        container objects the collector tracks, and a bulk submission allocates several more
        per job: with Python's defaults the collector took ~15 % of the server's CPU in the
        submit benchmark, young collections every 700 allocations and full ones traversing
        every job held. A higher first threshold makes young collections rarer (each costs
        what it finds, so the total falls); freezing after recovery keeps the recovered state
        out of every later full collection. Frozen objects are still freed by reference
        counting; only reference cycles among them would stay."""
        self._check_running()
        if self._ticker is not None:
            return
        settings = self.settings
        if settings.switch_interval_s is not None:
            sys.setswitchinterval(settings.switch_interval_s)
        if settings.gc_young_threshold is not None:
            set_young_gc_threshold(settings.gc_young_threshold)
        if settings.gc_freeze:
            gc.freeze()
        self._ticker = threading.Thread(target=self._loop, name="tick", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        """Stop the tick loop (queued submissions are written first). The store and the executor
        belong to the caller; running attempts keep running."""
        self._closing.set()
        self._wake.set()
        self._group.close()
        if self._ticker is not None:
            self._ticker.join()
        if self._stopped is None:
            self._stopped = "the coordinator was closed"

    @property
    def stopped(self) -> str | None:
        """Why the coordinator takes no more work (closed, or a failed tick), or None."""
        return self._stopped

    def wake(self) -> None:
        """Start the next tick soon (after `min_tick_gap_s`), not at the end of the interval."""
        self._wake.set()

    def _loop(self) -> None:
        settings = self.settings
        ended = time.monotonic()
        took = 0.0
        summary = _Summary(ended)
        while not self._closing.is_set():
            self._wake.wait(settings.tick_interval_s)
            # Ticks share one interpreter (and its GIL) with the submitters: while work keeps
            # arriving, rest `rest_per_busy` times as long as the last tick took.
            rest = max(settings.min_tick_gap_s, took * settings.rest_per_busy)
            gap = rest - (time.monotonic() - ended)
            if gap > 0:
                self._closing.wait(gap)
            self._wake.clear()
            if self._closing.is_set():
                return
            started = time.monotonic()
            try:
                report = self.tick()
            except CoordinatorStopped:
                return
            except Exception:
                log.exception("the tick failed; the coordinator stops taking work")
                return
            ended = time.monotonic()
            took = ended - started
            summary.add(report, took, ended)

    # ------------------------------------------------------------------ submitting

    def submit(self, requests: Sequence[JobRequest]) -> list[SubmitOutcome]:
        """Validate every request against the pool, then store them all durably (one group
        commit) and return one outcome per request, in order. A bad request raises
        `InvalidField` naming `requests[i].<field>` and nothing is stored. A request whose
        (tenant, client key) was seen before returns the first job's id, `created=False`."""
        jobs = self._validated(requests)
        return self._group.submit(jobs) if jobs else []

    def submit_later(self, requests: Sequence[JobRequest]) -> Future[list[SubmitOutcome]]:
        """`submit` for callers that must not block (the gRPC handlers on their event loop):
        the requests are validated at once (InvalidField raised here, nothing stored) and the
        future holds the outcomes once the jobs are durable."""
        jobs = self._validated(requests)
        if jobs:
            return self._group.submit_later(jobs)
        done: Future[list[SubmitOutcome]] = Future()
        done.set_result([])
        return done

    def _validated(self, requests: Sequence[JobRequest]) -> list[Job]:
        self._check_running()
        now = self.clock.now()
        shapes = self._shapes
        if shapes.pool is not self.pool:
            shapes = self._shapes = _Shapes(self.pool)
        known, fitting = shapes.resolved, shapes.fitting
        refuse_oversize = self.settings.refuse_oversize
        jobs: list[Job] = []
        with self._numbering:
            first = self._next_number
            for i, request in enumerate(requests):
                seq = first + i
                shape = (
                    request.tenant,
                    request.priority_class,
                    request.models,
                    request.min_tflops_fp16,
                    request.approvals,
                    request.programs,
                )
                try:
                    resolved = known.get(shape)
                    if resolved is None:
                        resolved = resolve(request, shapes.pool)
                        self._check_programs(request, shapes.pool)
                        if len(known) < MAX_SHAPES:
                            known[shape] = resolved
                    if len(shapes.gangs) >= MAX_SHAPES:
                        shapes.gangs.clear()
                    job = resolved_job(request, resolved, f"job-{seq}", seq, now, shapes.gangs)
                    if refuse_oversize:
                        size = (resolved.models, request.workers, request.per_worker)
                        if size not in fitting:
                            too_big = oversize(shapes.pool, *size)
                            if too_big is not None:
                                raise too_big
                            if len(fitting) >= MAX_SHAPES:
                                fitting.clear()
                            fitting.add(size)
                    jobs.append(job)
                except InvalidField as exc:
                    raise type(exc)(f"requests[{i}].{exc.field}", exc.message) from None
            self._next_number = first + len(requests)  # only once all of them are valid
        return jobs

    def _check_programs(self, request: JobRequest, pool: Pool) -> None:
        """A job may ask only programs that exist and would pay for its tenant: a tenant spends
        only its own grants."""
        tenant = pool.tenants[request.tenant]  # resolve checked that it exists
        programs = self.programs
        for j, program_id in enumerate(request.programs):
            program = programs.get(program_id)
            if program is None:
                raise UnknownReference(f"programs[{j}]", f"no subsidy program {program_id!r}")
            if not program.tenant_eligible(tenant):
                raise InvalidField(
                    f"programs[{j}]", f"tenant {tenant.id} is not eligible for {program_id!r}"
                )

    def _write_jobs(self, jobs: Sequence[Job]) -> list[SubmitOutcome]:
        """Store the jobs durably, hand the new ones to the tick."""
        with self._store_lock:
            self._check_running()
            outcomes = self.store.submit(jobs, self.clock.now())
            self.submit_transactions += 1
            if any(outcome.created for outcome in outcomes):
                self.last_event_seq = self.store.last_event_seq()
            created = [job for job, o in zip(jobs, outcomes, strict=True) if o.created]
            # Under the store lock: whoever sees the job in the store finds it in the inbox.
            self._inbox.extend(created)
            self.tallies.count_submitted(job.tenant for job in created)
        self._wake.set()
        return outcomes

    # ------------------------------------------------------------------ cancelling

    def cancel(self, job_id: str, actor: str) -> JobRecord:
        """Cancel a job: a queued one leaves the queue, a running one is stopped and billed for
        the time it ran. Cancelling a cancelled job returns it unchanged; a job that already
        ended otherwise raises `JobAlreadyEnded`; an unknown one `UnknownJob`."""
        with self._core_lock:
            self._check_running()
            self._take_inbox()
            now = self.clock.now()
            writes = Writes(now)
            # What the executor knows first: a job that started since the last tick is billed
            # from its start, one that already ended is not cancelled.
            self._take_reports(writes)
            self._commit(writes)
            self._act(writes)
            record = self.records.get(job_id)
            if record is None:
                stored = self.job(job_id)
                if stored.state is JobState.CANCELLED:
                    return stored
                if stored.state.terminal:
                    raise JobAlreadyEnded(job_id, stored.state.value)
                self._take_inbox()  # stored while we looked: it is in the inbox by now
                record = self.records[job_id]
            writes = Writes(now)
            if record.state is JobState.QUEUED:
                self.state.cancel(job_id)
            else:
                self._close_in_ledger(record, now)
                if record.state in HOLDING:
                    self.state.finish(job_id, now)
                writes.stops.append(Stop(job_id, record.attempt, StopReason.CANCELLED))
            self.state.retire(record.job, finished=False)
            self._change(
                record,
                writes,
                state=JobState.CANCELLED,
                ended_at=now,
                reason_code=CANCELLED,
                reason=f"cancelled by {actor}",
            )
            writes.event(ek.CANCELLED, record.job, attempt=record.attempt, actor=actor)
            self._commit(writes)
            self._act(writes)
            self._changed = True
            return self.job(job_id)

    # ------------------------------------------------------------------ operating the pool

    def set_node_state(self, node_id: str, state: NodeState, actor: str) -> Node:
        """Cordon, drain, take down or bring up a node (audited with `actor`). Cordoned and
        draining nodes keep their work and take no new work; taking a node down stops the
        attempts on it, which are queued again without counting as failures. (A draining node
        goes down by itself, at the first tick after its work has ended.) Raises UnknownNode."""
        with self._core_lock:
            self._check_running()
            if node_id not in self.pool.nodes:
                raise UnknownNode(f"node_id: no node {node_id!r} in the pool")
            now = self.clock.now()
            writes = Writes(now)
            self._take_reports(writes)
            with self._store_lock:
                node = self.store.set_node_state(node_id, state, now, actor)
            self.pool = replace(self.pool, nodes={**self.pool.nodes, node_id: node})
            self.state.set_node_state(node_id, state)
            if state is NodeState.DOWN:
                for record in self.records.values():
                    on_it = record.placement is not None and node_id in record.placement.nodes
                    if on_it and record.state in HOLDING:
                        writes.stops.append(
                            Stop(record.id, record.attempt, StopReason.NODE_DRAINED)
                        )
            self._commit(writes)
            self._act(writes)
            self._changed = True
            return node

    def register_node(
        self, node: Node, actor: str, state: NodeState | None = None
    ) -> tuple[Node, bool]:
        """Add a node, or replace the description of the node of its id (audited `node.put`);
        returns the node and whether it is new. `state` None: up for a new node, unchanged for
        a known one; a known node's new state is set as `set_node_state` sets it. A node that
        holds work may change only its labels (ChangeRefused)."""
        with self._core_lock:
            self._check_running()
            old = self.pool.nodes.get(node.id)
            wanted = state or (old.state if old is not None else NodeState.UP)
            node = node.with_state(old.state if old is not None else wanted)
            pool = with_node(self.pool, node, self._holds_work(node.id))
            if old != node:
                with self._store_lock:
                    self.store.put_nodes([node], self.clock.now(), actor)
                self._adopt(pool)
            if wanted is not node.state:
                node = self.set_node_state(node.id, wanted, actor)
            return node, old is None

    def remove_node(self, node_id: str, actor: str) -> Node:
        """Take a node out of the pool for good (audited `node.remove`). A node that still
        holds work, and the last node, stay (ChangeRefused); an unknown one: UnknownNode."""
        with self._core_lock:
            self._check_running()
            if node_id not in self.pool.nodes:
                raise UnknownNode(f"node_id: no node {node_id!r} in the pool")
            writes = Writes(self.clock.now())
            self._take_reports(writes)  # work that ended since the last tick frees the node
            self._commit(writes)
            self._act(writes)
            pool = without_node(self.pool, node_id, self._holds_work(node_id))
            with self._store_lock:
                node = self.store.remove_node(node_id, writes.at, actor)
            self._adopt(pool)
            return node

    def put_tenant(self, tenant: Tenant, actor: str) -> tuple[Tenant, bool]:
        """Add a tenant or replace one whole, quotas included (audited `tenant.put`); returns it
        and whether it is new. Its queued and running jobs stay; the next cycle holds them to
        the new quotas."""
        with self._core_lock:
            self._check_running()
            old = self.pool.tenants.get(tenant.id)
            pool = with_tenant(self.pool, tenant)
            if old != tenant:
                with self._store_lock:
                    self.store.put_tenants([tenant], self.clock.now(), actor)
                self._adopt(pool)
            return tenant, old is None

    def put_approval(self, approval: Approval, actor: str) -> tuple[Approval, bool]:
        """Add or replace a cross-border approval (audited `approval.put`); returns it and
        whether it is new."""
        with self._core_lock:
            self._check_running()
            old = self.pool.approvals.get(approval.id)
            pool = with_approval(self.pool, approval)
            if old != approval:
                now = self.clock.now()
                with self._store_lock:
                    self.store.put_approvals([approval], now, actor)
                self._adopt(pool)
                writes = Writes(now)
                self._take_reports(writes)  # attempts that ended meanwhile are not stopped
                self._stop_outside_approvals(writes)
                self._commit(writes)
                self._act(writes)
            return approval, old is None

    def put_program(self, program: Program, actor: str) -> tuple[Program, bool]:
        """Add a subsidy program or replace one whole (audited `program.put`); returns it and
        whether it is new. The ledger follows its budget: a new program is funded, a changed
        budget posts the difference (a cut takes back only what is neither paid nor reserved).
        Reservations already made keep the terms they were made on."""
        with self._core_lock:
            self._check_running()
            old = self.programs.get(program.id)
            check_program(program, self.pool, old)
            budget_change(self.ledger, program)  # refuses a cut into what is spent
            if old == program:
                return program, False
            now = self.clock.now()
            with self._store_lock:
                self.store.put_programs([program], now, actor)
            self.programs[program.id] = program
            # A new memo: a submitter still checking against the old programs keeps the old one.
            self._shapes = _Shapes(self.pool)
            fund_to(self.ledger, program, now)
            self._commit(Writes(now))
            self._changed = True
            return program, old is None

    # ------------------------------------------------------------------ reading

    def job(self, job_id: str) -> JobRecord:
        with self._store_lock:
            record = self.store.job(job_id)
        if record is None:
            raise UnknownJob(unknown_job_message(job_id))
        return record

    @property
    def waiting(self) -> int:
        """How many jobs wait: those queued, and those acknowledged since the last tick."""
        return len(self.state.pending) + len(self._inbox)

    def pending_reason(self, job_id: str) -> Reason | None:
        """Why a queued job waits, as the last cycle saw it (None before its first cycle)."""
        blocked = self._blocked
        if blocked is not None and job_id in self.state.pending:
            reason = blocked.blocked_reason(job_id)  # the run is newer than any entry
            if reason is not None:
                return reason
        return self.reasons.get(job_id)

    def job_money(self, job_id: str) -> tuple[MoneySoFar, ...]:
        """The job's cost so far per currency (settled attempts plus the running one's usage up
        to now, the programs' shares, the co-payment, what is still reserved). Raises UnknownJob.

        Read without the core lock, so that a long tick does not hold up a `GetJob`: the record
        is read first, then the job's postings at once (an immutable copy). A settlement a tick
        posts in between is either in that copy (and the attempt is no longer open) or not (and
        the attempt is counted as running): an attempt is never counted twice."""
        record = self.records.get(job_id) or self.job(job_id)
        return money_so_far(self.ledger, self.pool, record, self.clock.now())

    def progress(self, job_id: str) -> JobProgress | None:
        """How far the job got as its workers reported it (`job_progress` says which report
        counts), None before its current attempt reported anything. Raises UnknownJob.

        Read from the store alone, without the core lock: the record and its events in one
        hold of the store lock, so a tick's commit lands entirely before or after the read
        and the report is matched against the attempt it belongs to."""
        with self._store_lock:
            record = self.store.job(job_id)
            if record is None:
                raise UnknownJob(unknown_job_message(job_id))
            newest = self.store.last_event(job_id, REPORT_KINDS)
            checkpoint = (
                newest
                if newest is None or newest.kind == ek.CHECKPOINT
                else self.store.last_event(job_id, (ek.CHECKPOINT,))
            )
        return job_progress(record, newest, checkpoint)

    def jobs(
        self,
        *,
        tenant: str | None = None,
        states: Collection[JobState] | None = None,
        after_id: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[JobRecord]:
        with self._store_lock:
            return self.store.jobs(
                tenant=tenant,
                states=states,
                after_id=after_id,
                limit=limit,
                newest_first=newest_first,
            )

    def events(
        self, after_seq: int = 0, *, job_id: str | None = None, limit: int = 1000
    ) -> list[Event]:
        with self._store_lock:
            return self.store.events(after_seq, job_id=job_id, limit=limit)

    def audit(
        self,
        after_seq: int = 0,
        *,
        action: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Up to `limit` audit records with seq > `after_seq` (of one action, about one subject
        if given), in order."""
        with self._store_lock:
            return self.store.audit(after_seq, action=action, subject=subject, limit=limit)

    def reports(
        self, *, programs: bool = True, tenants: bool = True, owners: bool = True
    ) -> UsageReports:
        """The ledger's reports asked for (the others empty), read under the core lock so that
        no tick posts while they are read."""
        with self._core_lock:
            running = self._running_reports  # reads only the postings since the last call
            return UsageReports(
                programs=tuple(
                    running.programs(self.ledger, [self.programs[p] for p in sorted(self.programs)])
                )
                if programs
                else (),
                tenants=tuple(running.tenants(self.ledger)) if tenants else (),
                owners=tuple(running.owners(self.ledger)) if owners else (),
                as_of_posting=len(self.ledger),  # postings are numbered 1, 2, … with no gaps
            )

    def metrics_view(self) -> MetricsView:
        """The figures the metrics endpoint shows, read under the core lock (no tick or cancel
        moves them meanwhile; submissions acknowledged since the last tick count as waiting,
        for reasons `UNDECIDED`). Costs O(jobs held in memory): for scrapes, not hot paths."""
        with self._core_lock:
            state = self.state
            pending: Counter[tuple[str, str]] = Counter()
            for shape, count in state.pending_shapes().items():
                pending[(shape[0], shape[1])] += count  # tenant, priority class
            reasons: Counter[str]
            if self._blocked is None:
                # Scrapes come while submissions flood in: one pass in C over the waiting jobs,
                # no call per job.
                why = map(self.reasons.get, state.pending, itertools.repeat(_NO_REASON))
                reasons = Counter(map(_CODE_OF, why))
            else:  # strict FIFO's blocked run speaks for many jobs: ask job by job
                reasons = Counter()
                for job_id in state.pending:
                    reason = self.pending_reason(job_id)
                    reasons[UNDECIDED if reason is None else str(reason.code)] += 1
            inbox = list(self._inbox)  # submitters append under the store lock only
            for job in inbox:
                pending[(job.tenant, job.priority_class)] += 1
            if inbox:
                reasons[UNDECIDED] += len(inbox)
            running: Counter[str] = Counter()
            allocated: Counter[str] = Counter()
            for held in state.running.values():
                running[held.job.tenant] += 1
                for node, count in held.placement.workers:
                    allocated[node] += count
            index = state.index
            free = {node: index.free[i] for node, i in index.nid.items()}
            return MetricsView(
                pool=self.pool,
                tallies=self.tallies.snapshot(),
                pending=pending,
                pending_by_reason=reasons,
                running=running,
                allocated=allocated,
                free=free,
                reports=self.reports(),
                last_tick=self.last_tick,
                last_event_seq=self.last_event_seq,
                stopped=self._stopped is not None,
            )

    def evidence(
        self,
        after_posting: int = 0,
        *,
        program: str | None = None,
        tenant: str | None = None,
        supplier: str | None = None,
    ) -> list[EvidenceRow]:
        """The usage evidence (one row per settled attempt, in ledger order) after posting
        `after_posting`, of one program, tenant or supplier if given."""
        with self._core_lock:
            rows = evidence_rows(self.ledger, after_posting)
        return [
            row
            for row in rows
            if (program is None or any(p == program for p, _ in row.shares))
            and (tenant is None or row.tenant == tenant)
            and (supplier is None or row.supplier == supplier)
        ]

    # ------------------------------------------------------------------ the tick

    def tick(self) -> TickReport:
        """One round: executor reports, walltimes, one scheduling cycle; each step committed
        before its actions are taken."""
        with self._core_lock:
            self._check_running()
            try:
                return self._tick()
            except BaseException as exc:
                self._stopped = f"a tick failed: {exc!r}"
                raise

    def _tick(self) -> TickReport:
        now = self.clock.now()
        self._take_inbox()

        # 2. what the executor reports
        writes = Writes(now)
        reports = self._take_reports(writes)
        # 3. walltimes
        while self._deadlines and self._deadlines[0][0] <= now:
            _, job_id, attempt = heapq.heappop(self._deadlines)
            record = self.records.get(job_id)
            if record is not None and (record.attempt, record.state) == (attempt, RUNNING):
                writes.stops.append(Stop(job_id, attempt, StopReason.WALLTIME))
        # ... and attempts abroad whose approval ended since the last tick
        if self._expiry(self._zones_checked_at) <= now:
            self._stop_outside_approvals(writes)
        self._commit(writes)
        self._act(writes)
        self._down_drained(now)

        # 4. one scheduling cycle, when something it would see changed (or now and then: time
        # alone moves fair share, backfill windows and approvals' expiry)
        since = now - self._last_cycle
        if not self._changed and not self._arrivals and since < self.settings.idle_cycle_interval_s:
            return self._report(now, reports, None, 0.0)
        if not self._changed and since < self.settings.arrival_cycle_interval_s:
            return self._report(now, reports, None, 0.0)  # only new jobs: they wait a moment
        # Only new jobs since a cycle that changed nothing: the jobs that waited then meet the
        # very state they could not use, so a best-effort cycle need look at the new ones only
        # (every `idle_cycle_interval_s` a cycle looks at all of them again).
        only = (
            self._new_jobs
            if not self._changed
            and self._last_quiet
            and since < self.settings.idle_cycle_interval_s
            and self.policy.queue.discipline is Discipline.BEST_EFFORT
            else None
        )
        known = self._known_result(now, since)
        self._new_jobs = []
        self._cycled_all = only is None
        self._changed = self._arrivals = False
        self._last_cycle = now
        self.state.accrue_usage(now, self.policy.half_life_s)
        if known is not None:  # the cycle's outcome is known without running it
            self._last_quiet = True
            self._remember_reasons(known.pending)
            self._commit(Writes(now), FairShareUsage(now, self.state.usage))
            return self._report(now, reports, known, 0.0)
        if self.programs:
            self.state.set_budgets(budgets_from(self.ledger, self.programs.values()))
        started = time.perf_counter()
        snapshot = self.state.snapshot(only)
        result = run_cycle(snapshot, self.policy, now)
        cycle_ms = (time.perf_counter() - started) * 1000
        writes = Writes(now)
        waits: list[int] = []
        result = self._decide(result, writes, waits)
        self._last_quiet = not result.admissions and not result.preemptions
        # shapes the cycle judged feasible, all of them, when it blocked them as one run
        self._run_shapes = (
            frozenset(snapshot.shapes)
            if self._blocked is not None and only is None and snapshot.shapes is not None
            else frozenset()
        )
        self._commit(writes, FairShareUsage(now, self.state.usage))
        if waits:
            self.tallies.admission_waits(waits)
        self.state.apply(result, now, requeue_victims=False)
        self._act(writes)

        return self._report(now, reports, result, cycle_ms)

    def _known_result(self, now: int, since: int) -> CycleResult | None:
        """The outcome of this tick's cycle when it is known without running it, else None.

        No job waits: the cycle decides nothing, under any policy.

        Strict FIFO: the last cycle admitted and preempted nothing and blocked every job behind
        its head as one run (none of their shapes infeasible). When only new jobs came in since
        (no capacity, node, tenant, job or money change; no approval expired, the only way time
        moves feasibility; no idle cycle due), the head meets the very state it could not use
        and fails the same way, the jobs before it too, and the new jobs, later in arrival order
        than all of them and of shapes judged feasible then, join the blocked run: exactly what
        `run_cycle` would decide, without the per-cycle setup."""
        policy = self.policy
        if not self.skip_known_cycles:
            return None
        if not self.state.pending:  # nothing waits: nothing to decide, under any policy
            return CycleResult(now, policy.name, (), (), {}, {}, 0)
        blocked = self._blocked
        if (
            self._changed
            or blocked is None
            or blocked.blocked_by is None
            or not self._cycled_all
            or not self._last_quiet
            or since >= self.settings.idle_cycle_interval_s
            or self.programs
            or not policy.queue.arrival_order
            or policy.queue.discipline is not Discipline.STRICT
            or policy.reads_service
        ):
            return None
        if self._expiry(now - since) <= now:
            return None
        new = sorted(self._new_jobs, key=_seq)
        if not new:
            return None
        shapes = self._run_shapes
        last = blocked.blocked[-1].seq
        for job in new:
            if job.seq <= last or shape_of(job) not in shapes or job.id not in self.state.pending:
                return None
            last = job.seq
        return CycleResult(
            now=now,
            policy=policy.name,
            admissions=(),
            preemptions=(),
            pending=PendingReasons({}, (*blocked.blocked, *new), blocked.blocked_by),
            rejected={},
            considered=len(self.state.pending),
        )

    def _stop_outside_approvals(self, writes: Writes) -> None:
        """Stop every attempt placed abroad by an approval that no longer allows it (expired,
        or replaced by one of another tenant, origin or destination): a job's data may be
        processed only in its own zone or where an active approval of its tenant allows. The
        job is queued again, not failed; its next placement follows the approvals then."""
        now = writes.at
        self._zones_checked_at = now
        approvals = self.pool.approvals
        for record in self.records.values():
            placement = record.placement
            if placement is None or placement.approval is None or record.state not in HOLDING:
                continue
            approval = approvals.get(placement.approval)
            if not (
                approval is not None
                and approval.active(now)
                and approval.tenant == record.tenant
                and approval.from_zone is record.job.data_origin
                and approval.to_zone is placement.zone
            ):
                writes.stops.append(Stop(record.id, record.attempt, StopReason.APPROVAL_ENDED))
                details: dict[str, object] = {
                    "tenant": record.tenant,
                    "attempt": record.attempt,
                    "approval": placement.approval,
                    "from_zone": record.job.data_origin.value,
                    "to_zone": placement.zone.value,
                    "why": "expired"
                    if approval is not None and not approval.active(now)
                    else "no longer allows the zone",
                }
                writes.audits.append(NewAudit(SCHEDULER, CROSS_BORDER_STOP, record.id, details))

    def _expiry(self, after: int) -> int:
        """The first expiry of an approval of the pool later than `after` (a far future if
        none)."""
        pool = self.pool
        if self._expiries[0] is not pool:
            self._expiries = (pool, sorted({a.expires_at for a in pool.approvals.values()}))
        times = self._expiries[1]
        i = bisect.bisect_right(times, after)
        return times[i] if i < len(times) else 1 << 62

    def _report(
        self, now: int, events: int, result: CycleResult | None, cycle_ms: float
    ) -> TickReport:
        report = TickReport(
            at=now,
            executor_events=events,
            admitted=len(result.admissions) if result else 0,
            preempted=len(result.preemptions) if result else 0,
            rejected=len(result.rejected) if result else 0,
            pending=len(self.state.pending),
            running=len(self.state.running),
            cycle_ms=cycle_ms,
            cycled=result is not None,
            considered=result.considered if result else 0,
        )
        if result is not None:
            self.tallies.count_cycle(
                report.admitted, report.preempted, report.considered, round(cycle_ms * 1000)
            )
        self.last_tick = report
        return report

    def _deadline(self, job_id: str, attempt: int, started_at: int, job: Job) -> None:
        heapq.heappush(self._deadlines, (started_at + job.walltime_s, job_id, attempt))

    def _take_inbox(self) -> None:
        inbox = self._inbox
        if not inbox:
            return
        # Popped one by one: submitters append meanwhile (under the store lock only), and
        # `popleft` never loses one. A flood brings tens of thousands a tick, so the per-job
        # work is kept to the loop below and `ClusterState.submit_many`.
        pop = inbox.popleft
        jobs = [pop() for _ in range(len(inbox))]
        self._arrivals = True
        self._new_jobs.extend(jobs)
        records, submitted = self.records, JobRecord.submitted
        for job in jobs:
            records[job.id] = submitted(job, job.submitted_at)
        self.state.submit_many(jobs)

    def _decide(self, result: CycleResult, writes: Writes, waits: list[int]) -> CycleResult:
        """Turn a cycle's decisions into job changes, reservations and the actions to take;
        add to `waits` how long each admitted job waited: since it was queued for this attempt
        (its record's `updated_at`: nothing changes a queued job's record but what queued it, a
        submission or a requeue)."""
        now = writes.at
        for preemption in result.preemptions:
            victim = self.records[preemption.job_id]
            self._change(
                victim,
                writes,
                state=JobState.PREEMPTED,
                reason_code=str(preemption.cause),
                reason=preemption.message,
            )
            writes.event(
                ek.PREEMPTED,
                victim.job,
                attempt=victim.attempt,
                cause=str(preemption.cause),
                by_job=preemption.by_job,
                message=preemption.message,
            )
            writes.stops.append(Stop(victim.id, victim.attempt, StopReason.PREEMPTED))
        admitted: list[Admission] = []
        for admission in result.admissions:
            record = self.records[admission.job_id]
            attempt = record.attempt + 1
            if admission.funding is not None:
                try:
                    reserve(
                        self.ledger,
                        record.id,
                        attempt,
                        record.tenant,
                        admission.funding,
                        now,
                        programs=self.programs,
                    )
                except LedgerError as exc:  # the engine's view of money was stale
                    log.warning("admission of %s withdrawn: %s", record.id, exc)
                    continue
            admitted.append(admission)
            waits.append(now - record.updated_at)
            placement = admission.placement
            self.reasons.pop(record.id, None)
            self._change(
                record,
                writes,
                state=JobState.ADMITTED,
                attempt=attempt,
                placement=placement,
                started_at=None,
                reason_code=None,
                reason=None,
            )
            writes.event(
                ek.ADMITTED,
                record.job,
                attempt=attempt,
                model=placement.model,
                zone=str(placement.zone),
                workers=[[node, count] for node, count in placement.workers],
                approval=placement.approval,
            )
            writes.launches.append(Launch(record.job, attempt, placement))
        for job_id, reason in result.rejected.items():
            record = self.records[job_id]
            self.reasons.pop(job_id, None)
            self._change(
                record,
                writes,
                state=JobState.REJECTED,
                ended_at=now,
                reason_code=str(reason.code),
                reason=reason.message,
            )
            writes.event(
                ek.REJECTED, record.job, reason_code=str(reason.code), reason=reason.message
            )
        self._remember_reasons(result.pending)
        if len(admitted) != len(result.admissions):
            result = replace(result, admissions=tuple(admitted))
        return result

    def _remember_reasons(self, pending: Mapping[str, Reason]) -> None:
        blocked = self._blocked
        if blocked is not None and not self._cycled_all:
            # a cycle over some jobs only: the last run still speaks for the others
            assert blocked.blocked_by is not None
            for job in blocked.blocked:
                if job.id in self.state.pending and job.id not in pending:
                    self.reasons[job.id] = blocked.blocked_by
        if isinstance(pending, PendingReasons):
            self.reasons.update(pending.explicit)
            self._blocked = pending if pending.blocked else None
        else:
            self.reasons.update(pending)
            self._blocked = None

    # ------------------------------------------------------------------ executor reports

    def _on_executor_event(self, event: ExecutorEvent, writes: Writes) -> None:
        record = self.records.get(event.job_id)
        if record is None or not self._current(event.job_id, event.attempt):
            # An attempt already closed here (cancelled, or requeued by recovery) reporting
            # its end: nothing to change, and it was billed when it was closed.
            log.debug("ignored %s of %s attempt %d", event.kind, event.job_id, event.attempt)
            return
        kind = event.kind
        if event.terminal:
            self._changed = True  # capacity, money or a retry for the next cycle
        if kind is EventKind.STARTED:
            self._started(record, writes, event.at)
        elif kind in (EventKind.PROGRESS, EventKind.CHECKPOINT):
            what = ek.PROGRESS if kind is EventKind.PROGRESS else ek.CHECKPOINT
            writes.event(what, record.job, attempt=event.attempt, progress_bp=event.progress_bp)
        elif kind is EventKind.FINISHED:
            self._conclude(record, writes, event.at, JobState.SUCCEEDED, SUCCEEDED, None)
        elif kind is EventKind.FAILED:
            self._failed(record, event, writes, f"attempt {event.attempt} failed: {event.error}")
        elif kind is EventKind.NODE_LOST:
            if event.node is not None:
                writes.nodes_lost.append(event.node)
            self._failed(record, event, writes, f"attempt {event.attempt} lost node {event.node}")
        elif kind is EventKind.STOPPED:
            if event.reason is StopReason.WALLTIME:
                why = f"stopped at its walltime of {record.job.walltime_s} s"
                self._conclude(record, writes, event.at, JobState.FAILED, WALLTIME, why)
            elif record.state is JobState.PREEMPTED or event.reason is StopReason.PREEMPTED:
                self._requeue(
                    record, writes, PREEMPTED_REQUEUE, record.reason or "preempted", at=event.at
                )
            else:
                why = f"attempt {event.attempt} stopped ({event.reason})"
                if event.reason is StopReason.APPROVAL_ENDED and record.placement is not None:
                    why = (
                        f"attempt {event.attempt} stopped: approval {record.placement.approval}"
                        f" no longer allows its data ({record.job.data_origin}) in"
                        f" {record.placement.zone}"
                    )
                self._requeue(record, writes, STOPPED, why, at=event.at)

    def _started(self, record: JobRecord, writes: Writes, at: int) -> None:
        """The attempt runs since `at`: billed from then, stopped at `at` + walltime."""
        state = JobState.RUNNING if record.state is JobState.ADMITTED else record.state
        self._change(record, writes, state=state, started_at=at)
        self._deadline(record.id, record.attempt, at, record.job)
        writes.event(ek.STARTED, record.job, attempt=record.attempt)

    def _take_reports(self, writes: Writes) -> int:
        """Apply what the executor reported since the last poll; return how many reports."""
        reports, self._refused = [*self._refused, *self.executor.poll()], []
        for event in reports:
            self._on_executor_event(event, writes)
        return len(reports)

    def _current(self, job_id: str, attempt: int) -> bool:
        """True when `attempt` is the job's live attempt here: admitted, running, or being
        stopped after a preemption."""
        record = self.records.get(job_id)
        return (
            record is not None
            and record.attempt == attempt
            and (record.state in HOLDING or record.state is JobState.PREEMPTED)
        )

    def _failed(self, record: JobRecord, event: ExecutorEvent, writes: Writes, why: str) -> None:
        failures = record.failures + 1
        if failures <= self.settings.max_retries:
            self._requeue(
                record,
                writes,
                RETRY,
                f"{why}; retry {failures} of {self.settings.max_retries}",
                at=event.at,
                failures=failures,
            )
            return
        code = NODE_LOST if event.kind is EventKind.NODE_LOST else ATTEMPT_FAILED
        why = f"{why}; no retries left ({self.settings.max_retries} allowed)"
        self._conclude(record, writes, event.at, JobState.FAILED, code, why, failures)

    def _conclude(
        self,
        record: JobRecord,
        writes: Writes,
        at: int,
        state: JobState,
        code: str,
        why: str | None,
        failures: int | None = None,
    ) -> None:
        """The attempt ended and so did the job: bill the attempt, free its capacity, record
        the end and say so in the event log (`succeeded` or `failed`)."""
        self._end(record, at, writes.at)
        self.state.retire(record.job, finished=True)
        failures = record.failures if failures is None else failures
        self._change(
            record,
            writes,
            state=state,
            ended_at=at,
            reason_code=code,
            reason=why,
            failures=failures,
        )
        data: dict[str, object] = {"attempt": record.attempt}
        if state is not JobState.SUCCEEDED:
            data.update(reason_code=code, reason=why, failures=failures)
        kind = ek.SUCCEEDED if state is JobState.SUCCEEDED else ek.FAILED
        writes.event(kind, record.job, **data)

    def _requeue(
        self,
        record: JobRecord,
        writes: Writes,
        code: str,
        why: str,
        *,
        at: int | None = None,
        bill: bool = True,
        failures: int | None = None,
    ) -> None:
        """The attempt is over and the job waits again (the next admission is a new attempt).
        With `bill=False` its reservation is released instead of settled."""
        end = writes.at if at is None else at
        if bill:
            self._close_in_ledger(record, end)
        else:
            close_attempt(self.ledger, self.pool, record.job, record.attempt, None, None, end)
        if record.state in HOLDING:  # its attained service counts what was billed
            self.state.finish(record.id, writes.at if bill else None)
        record = self._change(
            record,
            writes,
            state=JobState.QUEUED,
            placement=None,
            started_at=None,
            reason_code=code,
            reason=why,
            failures=record.failures if failures is None else failures,
        )
        self.state.submit_requeued(record.job)
        writes.event(
            ek.REQUEUED,
            record.job,
            attempt=record.attempt,
            reason_code=code,
            reason=why,
            failures=record.failures,
        )

    def _end(self, record: JobRecord, at: int, released_at: int) -> None:
        """Close a finished attempt: bill it (up to `at`) and free its capacity (its attained
        service counts up to `released_at`, when the scheduler learnt of the end)."""
        self._close_in_ledger(record, at)
        if record.state in HOLDING:
            self.state.finish(record.id, released_at)

    def _close_in_ledger(self, record: JobRecord, at: int) -> None:
        close_attempt(
            self.ledger,
            self.pool,
            record.job,
            record.attempt,
            record.placement,
            record.started_at,
            at,
        )

    # ------------------------------------------------------------------ writing

    def _change(self, record: JobRecord, writes: Writes, **fields: Any) -> JobRecord:
        change = record.change(**fields)
        writes.changes.append(change)
        updated = record.changed(change, writes.at)
        if updated.state.terminal:
            self.records.pop(record.id, None)
            self.reasons.pop(record.id, None)
        else:
            self.records[record.id] = updated
        return updated

    def _commit(self, writes: Writes, fair_share: FairShareUsage | None = None) -> None:
        """Write the step's job changes, events, audits and the ledger's new postings (and the
        fair-share usage, after a cycle) in one transaction. Nothing is written when the step
        changed nothing."""
        postings = self.ledger.postings(self._committed_postings)
        if not (writes.changes or writes.events or writes.audits or postings or fair_share):
            return
        commit = Commit(
            at=writes.at,
            changes=tuple(writes.changes),
            postings=postings,
            events=tuple(writes.events),
            audits=tuple(writes.audits),
            fair_share=fair_share,
        )
        try:
            with self._store_lock:
                self.last_event_seq = self.store.commit(commit)
        except BaseException as exc:
            self._stopped = f"a commit failed: {exc!r}"
            raise
        self._committed_postings += len(postings)
        if commit.events:
            self.tallies.count_events(commit.events)

    def _act(self, writes: Writes) -> None:
        """Tell the executor what the committed step decided: stops first, to free nodes."""
        for stop in writes.stops:
            self.executor.stop(stop.job_id, stop.attempt, stop.reason)
        for launch in writes.launches:
            try:
                self.executor.launch(launch.job, launch.attempt, launch.placement)
            except ExecutorError as exc:
                # Reported like a failure of the attempt at the next tick: requeued (counted
                # against its retries) and its reservation released.
                log.warning(
                    "launch of %s attempt %d refused: %s", launch.job.id, launch.attempt, exc
                )
                self._refused.append(
                    ExecutorEvent(
                        EventKind.FAILED,
                        launch.job.id,
                        launch.attempt,
                        writes.at,
                        error=f"launch refused: {exc}",
                    )
                )
        for node_id in writes.nodes_lost:
            self._node_down(node_id, writes.at)

    def _adopt(self, pool: Pool) -> None:
        """Run on a pool an operator changed (already stored). Should that fail, memory no
        longer matches the store: the coordinator stops, and a restart reads the store."""
        try:
            self.state = self.state.with_pool(pool)
        except BaseException as exc:
            self._stopped = f"taking in a changed pool failed: {exc!r}"
            raise
        self.pool = pool
        self._changed = True

    def _held_nodes(self) -> set[str]:
        """The nodes an attempt holds (or is still stopping on)."""
        return {
            node
            for record in self.records.values()
            if record.placement is not None
            and (record.state in HOLDING or record.state is JobState.PREEMPTED)
            for node in record.placement.nodes
        }

    def _holds_work(self, node_id: str) -> bool:
        return node_id in self._held_nodes()

    def _down_drained(self, at: int) -> None:
        """Draining nodes whose work has all ended go down (audited, actor `scheduler`)."""
        pool = self.pool
        if self._draining[0] is not pool:  # the pool changes rarely: worked out once per pool
            self._draining = (pool, [n.id for n in pool.nodes.values() if n.state is DRAINING])
        draining = self._draining[1]
        if not draining:
            return
        held = self._held_nodes()
        for node_id in draining:
            if node_id not in held:
                self._node_down(node_id, at)

    def _node_down(self, node_id: str, at: int) -> None:
        """A node the executor lost takes no more work until an operator brings it back."""
        if node_id not in self.pool.nodes:
            return
        with self._store_lock:
            node = self.store.set_node_state(node_id, NodeState.DOWN, at, SCHEDULER)
        self.pool = replace(self.pool, nodes={**self.pool.nodes, node_id: node})
        self.state.set_node_state(node_id, NodeState.DOWN)
        self._changed = True

    def _check_running(self) -> None:
        if self._stopped is not None:
            raise CoordinatorStopped(f"{self._stopped}; restart the coordinator to recover")


def _seq(job: Job) -> int:
    return job.seq


REPLAY_PAGE = 10_000
_ATTEMPT_ENDS = frozenset({ek.PREEMPTED, ek.REQUEUED, ek.SUCCEEDED, ek.FAILED, ek.CANCELLED})


def replay_service(store: Store) -> ServiceHistory:
    """Attained service and finished run times as the event log has them, for a restart under a
    policy that reads them (one pass over the log). As `ClusterState` counts them live, an
    attempt holds its accelerators from its `admitted` event to the first of `preempted`,
    `requeued`, `succeeded`, `failed` or `cancelled`; an attempt requeued because it did not
    survive a restart (`RECOVERED`, not billed) does not count. Only an attempt that was running
    across a restart differs: live, it counts from the start the executor reported."""
    service = ServiceHistory()
    holding: dict[str, tuple[int, int]] = {}  # job id -> (admitted at, accelerators)
    size: dict[str, int] = {}  # job id -> accelerators of its attempts
    after = 0
    while page := store.events(after, limit=REPLAY_PAGE):
        for event in page:
            job_id = event.job_id
            if job_id is None:
                continue
            if event.kind == ek.ADMITTED:
                workers = event.data.get("workers")
                count = sum(int(w[1]) for w in workers) if isinstance(workers, list) else 0
                holding[job_id] = (event.at, count)
                size[job_id] = count
            elif event.kind in _ATTEMPT_ENDS:
                held = holding.pop(job_id, None)
                lost = event.kind == ek.REQUEUED and event.data.get("reason_code") == RECOVERED
                if held is not None and not lost:
                    service.attempt_ended(job_id, held[1], held[0], event.at)
                if event.kind in (ek.SUCCEEDED, ek.FAILED, ek.CANCELLED):
                    finished = event.kind != ek.CANCELLED
                    tenant = event.tenant or ""
                    service.job_ended(job_id, tenant, size.pop(job_id, 0), finished=finished)
            elif event.kind == ek.REJECTED:
                service.forget(job_id)
                size.pop(job_id, None)
        after = page[-1].seq
    return service
