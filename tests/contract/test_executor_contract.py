"""The executor contract: every test runs unchanged against each executor.

The fake and the Ray executor (on the test session's Ray, tests/ray_session.py): the rig hides
how time passes (a manual clock for the fake, real seconds for Ray)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scheduler.domain.clock import Clock, ManualClock, SystemClock
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, Placement
from scheduler.executor.base import EventKind, Executor, ExecutorEvent, StopReason
from scheduler.executor.errors import AttemptConflict
from scheduler.executor.fake import FakeExecutor
from tests.builders import ASCEND, a_job

# One xdist worker runs every Ray test (`--dist loadgroup`): one Ray cluster on the machine,
# not one per worker, whose raylets starved each other past Ray's 30 s start-up wait.
pytestmark = pytest.mark.xdist_group("ray")

T0 = 1_767_196_800


@dataclass
class Rig:
    """An executor under test, its clock, and how to let its time pass."""

    executor: Executor
    clock: Clock
    advance: Callable[[int], object]
    run_s: int
    """How long every job runs once started, on this executor."""

    def events_until(
        self, done: Callable[[list[ExecutorEvent]], bool], within_s: int | None = None
    ) -> list[ExecutorEvent]:
        """Poll, letting a second pass between polls, until `done(events so far)`."""
        events = self.executor.poll()
        for _ in range(within_s if within_s is not None else 3 * self.run_s):
            if done(events):
                return events
            self.advance(1)
            events += self.executor.poll()
        assert done(events), f"not done within the time allowed: {events}"
        return events

    def run_out(self, *job_ids: str) -> list[ExecutorEvent]:
        """Every event until each of the jobs' attempts has ended."""
        return self.events_until(lambda events: _ended(events) >= set(job_ids))


def _ended(events: list[ExecutorEvent]) -> set[str]:
    return {e.job_id for e in events if e.terminal}


RAY_RUN_S = 4
"""tests.ray_workloads:steady runs 2 s; the rest is room for the actors to start on a busy
2-core machine (the suite gives a job 3 * run_s polls of 1 s to run out)."""


@pytest.fixture(params=["fake", "ray"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    if request.param == "fake":
        manual = ManualClock(T0)
        fake = FakeExecutor(manual, lambda job: 20)
        yield Rig(fake, manual, manual.advance, 20)
        fake.close()
        return
    request.getfixturevalue("ray_session")
    from scheduler.executor.ray import RayExecutor

    clock = SystemClock()
    executor = RayExecutor(
        clock, tmp_path, entrypoint_for=lambda job: "tests.ray_workloads:steady", attach=False
    )
    yield Rig(executor, clock, time.sleep, RAY_RUN_S)
    # Attempts outlive their executor (detached actors): stop what the test left running so
    # the next test starts on a clean cluster.
    for job_id, attempt in executor.attempts().items():
        executor.stop(job_id, attempt, StopReason.SHUTDOWN)
    executor.close()


def placed(job: Job, *nodes: str) -> Placement:
    """The job's gang with rank i on nodes[i], as the cycle would place it."""
    return Placement(ASCEND, Jurisdiction.MAINLAND, tuple((n, job.gang.per_worker) for n in nodes))


def of(events: list[ExecutorEvent], job_id: str, attempt: int = 1) -> list[EventKind]:
    return [e.kind for e in events if e.job_id == job_id and e.attempt == attempt]


GANG = a_job("j").gang(2, ASCEND, 8).build()
ON_TWO_NODES = placed(GANG, "sz-001", "sz-002")


# ---------------------------------------------------------------------- a life


def test_a_launched_gang_starts_then_finishes_with_exactly_one_terminal_event(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)

    kinds = of(rig.run_out("j"), "j")

    assert kinds[0] is EventKind.STARTED
    assert kinds[-1] is EventKind.FINISHED
    assert kinds.count(EventKind.STARTED) == 1
    assert sum(kind.terminal for kind in kinds) == 1


def test_progress_never_decreases_and_the_finished_attempt_did_all_its_work(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)

    events = rig.run_out("j")

    figures = [bp for e in events if (bp := e.progress_bp) is not None]
    assert figures == sorted(figures)
    assert events[-1].kind is EventKind.FINISHED
    assert events[-1].progress_bp == 10_000


def test_events_come_in_the_order_they_happened_and_never_twice(rig: Rig) -> None:
    one = a_job("one").build()
    two = a_job("two").gang(2, ASCEND, 4).build()
    rig.executor.launch(one, 1, placed(one, "sz-001"))
    rig.advance(3)
    rig.executor.launch(two, 1, placed(two, "sz-002", "sz-003"))

    events = rig.run_out("one", "two")
    rig.advance(rig.run_s)

    assert [e.at for e in events] == sorted(e.at for e in events)
    assert len(set(events)) == len(events)
    assert rig.executor.poll() == []


# ---------------------------------------------------------------------- launch


def test_launching_the_same_attempt_again_is_a_no_op(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    rig.advance(1)
    rig.executor.launch(GANG, 1, ON_TWO_NODES)

    events = rig.run_out("j")
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    rig.advance(2 * rig.run_s)

    assert of(events, "j").count(EventKind.STARTED) == 1
    assert rig.executor.poll() == []
    assert rig.executor.attempts() == {}


def test_a_new_attempt_is_refused_while_an_older_one_still_runs(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)

    with pytest.raises(AttemptConflict) as refused:
        rig.executor.launch(GANG, 2, placed(GANG, "sz-003", "sz-004"))

    assert (refused.value.job_id, refused.value.attempt) == ("j", 2)
    assert rig.executor.attempts() == {"j": 1}


def test_a_new_attempt_is_accepted_once_the_previous_one_ended(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    rig.run_out("j")

    rig.executor.launch(GANG, 2, placed(GANG, "sz-003", "sz-004"))
    events = rig.run_out("j")

    assert of(events, "j", 2)[0] is EventKind.STARTED
    assert of(events, "j", 2)[-1] is EventKind.FINISHED


def test_an_attempt_older_than_one_already_launched_is_refused(rig: Rig) -> None:
    rig.executor.launch(GANG, 2, ON_TWO_NODES)
    rig.run_out("j")

    with pytest.raises(AttemptConflict):
        rig.executor.launch(GANG, 1, ON_TWO_NODES)

    assert rig.executor.attempts() == {}


@pytest.mark.parametrize(
    ("attempt", "placement", "field"),
    [
        (1, placed(GANG, "sz-001"), "placement.workers"),
        (1, Placement(ASCEND, Jurisdiction.MAINLAND, (("a", 8), ("b", 4))), "placement.workers[1]"),
        (0, ON_TWO_NODES, "attempt"),
    ],
)
def test_a_launch_that_does_not_hold_the_gang_is_refused_naming_the_field(
    rig: Rig, attempt: int, placement: Placement, field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        rig.executor.launch(GANG, attempt, placement)

    assert refused.value.field == field
    assert rig.executor.attempts() == {}


# ---------------------------------------------------------------------- stop


def test_a_stopped_attempt_reports_stopped_with_the_reason_and_then_nothing(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    rig.events_until(lambda events: EventKind.STARTED in of(events, "j"))

    rig.executor.stop("j", 1, StopReason.PREEMPTED)
    events = rig.run_out("j")
    rig.advance(2 * rig.run_s)

    assert [(e.kind, e.reason) for e in events] == [(EventKind.STOPPED, StopReason.PREEMPTED)]
    assert rig.executor.poll() == []


def test_stopping_an_attempt_twice_reports_one_stopped_event(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    rig.executor.stop("j", 1, StopReason.CANCELLED)
    rig.executor.stop("j", 1, StopReason.CANCELLED)

    events = rig.run_out("j")
    rig.advance(2 * rig.run_s)

    assert of(events, "j").count(EventKind.STOPPED) == 1
    assert rig.executor.poll() == []


def test_stopping_an_unknown_finished_or_other_attempt_is_a_no_op(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    rig.run_out("j")

    rig.executor.stop("ghost", 1, StopReason.CANCELLED)
    rig.executor.stop("j", 1, StopReason.CANCELLED)
    rig.executor.stop("j", 7, StopReason.CANCELLED)

    assert rig.executor.poll() == []


# ---------------------------------------------------------------------- attempts (recovery)


def test_attempts_lists_what_runs_and_drops_what_ended(rig: Rig) -> None:
    short = a_job("short").build()
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    rig.executor.launch(short, 3, placed(short, "sz-003"))
    assert rig.executor.attempts() == {"j": 1, "short": 3}

    rig.executor.stop("short", 3, StopReason.WALLTIME)
    assert rig.executor.attempts() == {"j": 1}

    rig.run_out("j", "short")
    assert rig.executor.attempts() == {}


def test_a_live_attempt_says_when_it_started_even_before_its_report_is_polled(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    assert rig.executor.started_at("j", 2) is None  # not this attempt

    events = rig.events_until(lambda seen: EventKind.STARTED in of(seen, "j"))
    [started] = [e for e in events if e.kind is EventKind.STARTED]
    assert rig.executor.started_at("j", 1) == started.at

    rig.executor.stop("j", 1, StopReason.CANCELLED)
    assert rig.executor.started_at("j", 1) is None  # over: not live


def test_started_at_does_not_need_the_report_to_be_polled(rig: Rig) -> None:
    rig.executor.launch(GANG, 1, ON_TWO_NODES)
    for _ in range(rig.run_s // 2):
        rig.advance(1)
        if rig.executor.started_at("j", 1) is not None:
            break

    started = rig.executor.started_at("j", 1)

    assert started is not None
    [report] = [e for e in rig.executor.poll() if e.kind is EventKind.STARTED]
    assert report.at == started
