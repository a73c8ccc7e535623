"""A deterministic executor driven only by a `Clock`: tests and the simulator.

An attempt starts `start_delay_s` after its launch, reports progress at 25, 50 and 75 % of its
runtime (unless made with `progress=False`: the simulator reads none), a checkpoint every
`job.checkpoint_interval_s` (when set), and finishes at its runtime.
Test hooks script the rest of life: `fail`, `lose_node`, `hang`. No threads, no sleeping, no
randomness: the same calls at the same clock readings give the same events.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.domain.clock import Clock
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import Job, Placement
from scheduler.executor.base import (
    EventKind,
    Executor,
    ExecutorEvent,
    StopReason,
    check_launch,
)
from scheduler.executor.errors import AttemptConflict, ExecutorClosed, UnknownAttempt

_PROGRESS_PERCENT = (25, 50, 75)
FULL_BP = 10_000


@dataclass(slots=True)
class _Attempt:
    job_id: str
    attempt: int
    placement: Placement
    # Its life as planned at launch, in order; `next` is the first not yet happened.
    plan: list[ExecutorEvent]
    next: int = 0
    started: bool = False
    hung: bool = False


class FakeExecutor(Executor):
    """`runtime(job)` says how many seconds an attempt of the job runs once started (at least 1);
    or, given instead as `placed_runtime(job, placement)`, also sees where the attempt runs.
    `progress=False`: no progress reports (checkpoints and the rest of life are unchanged).

    Events are computed lazily from the clock: every call first catches up with `clock.now()`,
    so an event "happens" at its planned time whether or not anyone polled then."""

    def __init__(
        self,
        clock: Clock,
        runtime: Callable[[Job], int] | None = None,
        *,
        start_delay_s: int = 0,
        placed_runtime: Callable[[Job, Placement], int] | None = None,
        progress: bool = True,
    ) -> None:
        if start_delay_s < 0:
            raise InvalidField("start_delay_s", f"must not be negative, got {start_delay_s}")
        if (runtime is None) == (placed_runtime is None):
            raise InvalidField("runtime", "give exactly one of runtime and placed_runtime")
        self._clock = clock
        self._runtime = runtime
        self._placed_runtime = placed_runtime
        self._progress = progress
        self._start_delay_s = start_delay_s
        self._live: dict[str, _Attempt] = {}
        # Highest attempt ever launched per job: makes launch idempotent and refuses stale ones.
        self._launched: dict[str, int] = {}
        # (time of the attempt's next planned event, launch order, job id): the launch order
        # breaks ties between attempts so equal clocks give equal event orders.
        self._due: list[tuple[int, int, str]] = []
        self._order: dict[str, int] = {}
        self._launches = 0
        self._outbox: list[ExecutorEvent] = []
        self._closed = False

    # ------------------------------------------------------------------ the port

    def launch(self, job: Job, attempt: int, placement: Placement) -> None:
        self._catch_up()
        check_launch(job, attempt, placement)
        newest = self._launched.get(job.id, 0)
        if attempt == newest:
            return
        if attempt < newest:
            raise AttemptConflict(job.id, attempt, f"attempt {newest} was already launched")
        running = self._live.get(job.id)
        if running is not None:
            raise AttemptConflict(job.id, attempt, f"attempt {running.attempt} still runs")
        if self._runtime is not None:
            runtime = self._runtime(job)
        else:
            assert self._placed_runtime is not None
            runtime = self._placed_runtime(job, placement)
        if runtime < 1:
            raise InvalidField(f"runtime({job.id})", f"must be at least 1 second, got {runtime}")
        start = self._clock.now() + self._start_delay_s
        self._launched[job.id] = attempt
        self._launches += 1
        self._order[job.id] = self._launches
        plan = _plan(job, attempt, start, runtime, self._progress)
        live = _Attempt(job.id, attempt, placement, plan)
        self._live[job.id] = live
        self._schedule(live)

    def stop(self, job_id: str, attempt: int, reason: StopReason) -> None:
        self._catch_up()
        live = self._live.get(job_id)
        if live is None or live.attempt != attempt:
            return
        self._end(live, EventKind.STOPPED, reason=reason)

    def poll(self) -> list[ExecutorEvent]:
        self._catch_up()
        out, self._outbox = self._outbox, []
        return out

    def attempts(self) -> dict[str, int]:
        self._catch_up()
        return {job_id: live.attempt for job_id, live in self._live.items()}

    def started_at(self, job_id: str, attempt: int) -> int | None:
        self._catch_up()
        live = self._live.get(job_id)
        if live is None or live.attempt != attempt or not live.started:
            return None
        return live.plan[0].at  # a plan starts with its `started` event

    def close(self) -> None:
        self._closed = True

    # ------------------------------------------------------------------ test hooks

    def fail(self, job_id: str, error: str) -> None:
        """The job's live attempt fails now with `error` (reported at the next poll)."""
        self._end(self._live_attempt(job_id), EventKind.FAILED, error=error)

    def lose_node(self, node_id: str) -> None:
        """Every live attempt with a worker on `node_id` reports node-lost now, once each."""
        self._catch_up()
        hit = [live for live in self._live.values() if node_id in live.placement.nodes]
        for live in sorted(hit, key=lambda live: self._order[live.job_id]):
            self._end(live, EventKind.NODE_LOST, node=node_id)

    def hang(self, job_id: str) -> None:
        """The job's live attempt makes no more progress and never finishes (it still starts if
        it has not yet): only stop, fail or a lost node end it. For walltime tests."""
        self._live_attempt(job_id).hung = True

    # ------------------------------------------------------------------ inside

    def _live_attempt(self, job_id: str) -> _Attempt:
        self._catch_up()
        live = self._live.get(job_id)
        if live is None:
            raise UnknownAttempt(f"job {job_id}: no live attempt")
        return live

    def _schedule(self, live: _Attempt) -> None:
        at = live.plan[live.next].at
        heapq.heappush(self._due, (at, self._order[live.job_id], live.job_id))

    def _catch_up(self) -> None:
        """Move every planned event up to now into the outbox, in time order."""
        if self._closed:
            raise ExecutorClosed("the executor is closed")
        now = self._clock.now()
        while self._due and self._due[0][0] <= now:
            _, order, job_id = heapq.heappop(self._due)
            live = self._live.get(job_id)
            # An entry left behind by an attempt that already ended, or by an earlier attempt.
            if live is None or self._order[job_id] != order:
                continue
            event = live.plan[live.next]
            if live.hung and event.kind is not EventKind.STARTED:
                continue
            live.next += 1
            self._outbox.append(event)
            if event.kind is EventKind.STARTED:
                live.started = True
            if event.terminal:
                del self._live[job_id]
            else:
                self._schedule(live)

    def _end(
        self,
        live: _Attempt,
        kind: EventKind,
        *,
        error: str | None = None,
        node: str | None = None,
        reason: StopReason | None = None,
    ) -> None:
        bp = _last_bp(live)
        self._outbox.append(
            ExecutorEvent(
                kind,
                live.job_id,
                live.attempt,
                self._clock.now(),
                progress_bp=bp,
                error=error,
                node=node,
                reason=reason,
            )
        )
        # Its heap entry stays behind and is skipped: removing from the middle of a heap costs
        # more than skipping one stale entry.
        del self._live[live.job_id]


def _plan(
    job: Job, attempt: int, start: int, runtime: int, progress: bool = True
) -> list[ExecutorEvent]:
    """The attempt's life if nothing interrupts it, in the order it happens."""
    events = [ExecutorEvent(EventKind.STARTED, job.id, attempt, start)]
    for percent in _PROGRESS_PERCENT if progress else ():
        at = start + runtime * percent // 100
        events.append(ExecutorEvent(EventKind.PROGRESS, job.id, attempt, at, percent * 100))
    interval = job.checkpoint_interval_s
    if interval > 0:
        for elapsed in range(interval, runtime, interval):
            bp = elapsed * FULL_BP // runtime
            events.append(ExecutorEvent(EventKind.CHECKPOINT, job.id, attempt, start + elapsed, bp))
    end = start + runtime
    events.append(ExecutorEvent(EventKind.FINISHED, job.id, attempt, end, FULL_BP))
    # By time, started first, then by figure: a progress mark is rounded up to its milestone, so
    # a checkpoint in the same second can carry a lower figure and must come before it.
    events.sort(key=lambda e: (e.at, e.kind is not EventKind.STARTED, e.progress_bp or 0))
    return events


def _last_bp(live: _Attempt) -> int | None:
    """How far the attempt got before it was cut short, as its last reported figure."""
    for event in reversed(live.plan[: live.next]):
        if event.progress_bp is not None:
            return event.progress_bp
    return None
