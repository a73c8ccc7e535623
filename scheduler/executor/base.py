"""The executor port: runs placed gangs and reports what became of them.

Implementations: `FakeExecutor` (tests, simulator) and, in its own issue, the Ray executor. One
contract suite (tests/contract/test_executor_contract.py) runs unchanged against each; a new
implementation passes it before it is used.

The coordinator commits a decision to the store first and only then calls the executor
(principle 3), so every call here may be a repeat after a crash: launch and stop are idempotent by
(job id, attempt). Nothing is pushed at the coordinator; it polls, so the tick loop stays the
only place that changes state. An executor object is used from one thread; the coordinator owns
it.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import Job, Placement


class StopReason(enum.StrEnum):
    """Why the coordinator stopped an attempt; it decides what happens to the job next."""

    CANCELLED = "cancelled"
    PREEMPTED = "preempted"
    WALLTIME = "walltime"
    NODE_DRAINED = "node-drained"
    # The cross-border approval the attempt was placed by ended (expired, or was replaced by
    # one that no longer allows the zone): its data may no longer be processed there.
    APPROVAL_ENDED = "approval-ended"
    # Recovery found an attempt running that the store does not hold as running.
    ORPHANED = "orphaned"
    SHUTDOWN = "shutdown"


class EventKind(enum.StrEnum):
    STARTED = "started"
    PROGRESS = "progress"
    CHECKPOINT = "checkpoint"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    NODE_LOST = "node-lost"

    @property
    def terminal(self) -> bool:
        """The attempt is over: it holds no capacity and reports nothing more."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {EventKind.FINISHED, EventKind.FAILED, EventKind.STOPPED, EventKind.NODE_LOST}
)


@dataclass(frozen=True, slots=True)
class ExecutorEvent:
    """Something that happened to one attempt of a job at time `at` (epoch seconds).

    `progress_bp`: how far the attempt got, in basis points of its work (progress, checkpoint,
    finished). `error`: the failure's text (failed). `node`: the node that was lost (node-lost).
    `reason`: what the coordinator asked for (stopped)."""

    kind: EventKind
    job_id: str
    attempt: int
    at: int
    progress_bp: int | None = None
    error: str | None = None
    node: str | None = None
    reason: StopReason | None = None

    @property
    def terminal(self) -> bool:
        return self.kind.terminal


def check_launch(job: Job, attempt: int, placement: Placement) -> None:
    """Refuse a launch no executor can carry out faithfully: a gang is all or nothing, so the
    placement has one worker per rank, each with the accelerators the gang asks for."""
    if attempt < 1:
        raise InvalidField("attempt", f"attempts count from 1, got {attempt}")
    if len(placement.workers) != job.gang.workers:
        raise InvalidField(
            "placement.workers",
            f"{len(placement.workers)} workers placed for a gang of {job.gang.workers}",
        )
    for rank, (node, count) in enumerate(placement.workers):
        if count != job.gang.per_worker:
            raise InvalidField(
                f"placement.workers[{rank}]",
                f"{count} accelerators on {node}, the gang needs {job.gang.per_worker} per worker",
            )


class Executor(ABC):
    """Runs attempts of jobs on the nodes their placement names and reports their life as
    `ExecutorEvent`s."""

    @abstractmethod
    def launch(self, job: Job, attempt: int, placement: Placement) -> None:
        """Start attempt `attempt` (from 1) of `job`, its rank i on `placement.workers[i]`.

        MUST be idempotent by (job id, attempt): launching an attempt already launched (running
        or over) does nothing, whatever placement it names.
        MUST raise AttemptConflict, and launch nothing, when an older attempt of the job still
        runs (its terminal event has not happened) or a newer attempt was already launched.
        MUST raise InvalidField naming the field when the placement does not hold the gang
        (`check_launch`), or the attempt is below 1.
        MUST return without waiting for the gang to start: `started` comes through `poll`."""

    @abstractmethod
    def stop(self, job_id: str, attempt: int, reason: StopReason) -> None:
        """Stop attempt `attempt` of the job and free its nodes.

        MUST be idempotent: stopping an attempt that is unknown, already over, or already being
        stopped does nothing (and raises nothing).
        MUST make a running attempt report exactly one `stopped` event carrying `reason`, and
        nothing after it."""

    @abstractmethod
    def poll(self) -> list[ExecutorEvent]:
        """The events that happened since the last poll, in the order they happened (`at` never
        decreases along the list and across polls).

        MUST report each event exactly once, across all polls.
        MUST report, for every launched attempt, eventually exactly one terminal event
        (finished, failed, stopped or node-lost) as its last event, and at most one `started`,
        before every other event of the attempt. An attempt that ends before it started (stopped
        or failed while waiting for nodes) reports its terminal event without a `started`.
        MUST report `progress_bp` on progress and checkpoint events, never decreasing within an
        attempt, and 10000 on finished."""

    @abstractmethod
    def attempts(self) -> dict[str, int]:
        """Job id -> attempt, of every attempt launched whose terminal event has not happened:
        what recovery reconciles the store against.

        An attempt whose terminal event happened but was not polled yet is NOT listed, so
        recovery polls first, then reconciles."""

    @abstractmethod
    def started_at(self, job_id: str, attempt: int) -> int | None:
        """When a live attempt (one `attempts` lists) started, or None while it waits for its
        nodes or when it is not live.

        MUST equal the `at` of the attempt's `started` event, whether or not that event was
        polled: a coordinator that lost a polled report in a crash learns from this that a
        re-attached attempt runs, and since when (to bill it and enforce its walltime)."""

    @abstractmethod
    def close(self) -> None:
        """Release the executor's own resources (connections, handles). MUST be idempotent.
        Running attempts are left running: a restarted coordinator re-attaches them."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
