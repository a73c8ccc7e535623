"""The fake executor's scripted life (what the contract leaves to each executor) and the clocks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from scheduler.domain.clock import ManualClock, SystemClock
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, Placement
from scheduler.executor.base import EventKind, ExecutorEvent, StopReason
from scheduler.executor.errors import ExecutorClosed, UnknownAttempt
from scheduler.executor.fake import FakeExecutor
from tests.builders import ASCEND, a_job

T0 = 1_767_196_800
STARTED, PROGRESS, CHECKPOINT = EventKind.STARTED, EventKind.PROGRESS, EventKind.CHECKPOINT
FINISHED, FAILED, STOPPED, NODE_LOST = (
    EventKind.FINISHED,
    EventKind.FAILED,
    EventKind.STOPPED,
    EventKind.NODE_LOST,
)


def placed(job: Job, *nodes: str) -> Placement:
    return Placement(ASCEND, Jurisdiction.MAINLAND, tuple((n, job.gang.per_worker) for n in nodes))


def fake(runtime: int = 100, start_delay_s: int = 0) -> tuple[FakeExecutor, ManualClock]:
    clock = ManualClock(T0)
    return FakeExecutor(clock, lambda job: runtime, start_delay_s=start_delay_s), clock


def timeline(events: list[ExecutorEvent]) -> list[tuple[int, EventKind, int | None]]:
    """(seconds after T0, kind, progress) of each event."""
    return [(e.at - T0, e.kind, e.progress_bp) for e in events]


# ---------------------------------------------------------------------- a life by the clock


def test_an_attempt_reports_progress_at_a_quarter_half_and_three_quarters_then_finishes() -> None:
    executor, clock = fake(runtime=100)
    job = a_job("j").build()
    executor.launch(job, 1, placed(job, "n1"))

    clock.advance(100)

    assert timeline(executor.poll()) == [
        (0, STARTED, None),
        (25, PROGRESS, 2500),
        (50, PROGRESS, 5000),
        (75, PROGRESS, 7500),
        (100, FINISHED, 10_000),
    ]


def test_nothing_happens_before_its_time_and_each_event_comes_at_the_poll_after_it() -> None:
    executor, clock = fake(runtime=100)
    job = a_job("j").build()
    executor.launch(job, 1, placed(job, "n1"))

    assert timeline(executor.poll()) == [(0, STARTED, None)]
    clock.advance(24)
    assert executor.poll() == []
    clock.advance(1)
    assert timeline(executor.poll()) == [(25, PROGRESS, 2500)]


def test_an_attempt_starts_after_the_start_delay_and_runs_its_full_runtime_from_then() -> None:
    executor, clock = fake(runtime=100, start_delay_s=30)
    job = a_job("j").build()
    executor.launch(job, 1, placed(job, "n1"))

    clock.advance(29)
    assert executor.poll() == []
    assert executor.attempts() == {"j": 1}
    clock.advance(101)

    events = timeline(executor.poll())
    assert events[0] == (30, STARTED, None)
    assert events[-1] == (130, FINISHED, 10_000)


def test_a_job_that_checkpoints_reports_each_checkpoint_in_order_with_the_progress_marks() -> None:
    executor, clock = fake(runtime=100)
    job = replace(a_job("j").build(), checkpoint_interval_s=40)
    executor.launch(job, 1, placed(job, "n1"))

    clock.advance(100)

    assert timeline(executor.poll()) == [
        (0, STARTED, None),
        (25, PROGRESS, 2500),
        (40, CHECKPOINT, 4000),
        (50, PROGRESS, 5000),
        (75, PROGRESS, 7500),
        (80, CHECKPOINT, 8000),
        (100, FINISHED, 10_000),
    ]


def test_a_checkpoint_in_the_same_second_as_a_progress_mark_never_lowers_the_figure() -> None:
    executor, clock = fake(runtime=10)
    job = replace(a_job("j").build(), checkpoint_interval_s=2)
    executor.launch(job, 1, placed(job, "n1"))

    clock.advance(10)

    figures = [e.progress_bp for e in executor.poll() if e.progress_bp is not None]
    assert figures == sorted(figures)


def test_without_progress_reports_an_attempt_starts_checkpoints_and_finishes() -> None:
    clock = ManualClock(T0)
    executor = FakeExecutor(clock, lambda job: 100, progress=False)
    job = replace(a_job("j").build(), checkpoint_interval_s=40)
    executor.launch(job, 1, placed(job, "n1"))

    clock.advance(100)

    assert timeline(executor.poll()) == [
        (0, STARTED, None),
        (40, CHECKPOINT, 4000),
        (80, CHECKPOINT, 8000),
        (100, FINISHED, 10_000),
    ]


def test_a_placed_runtime_sees_where_the_attempt_runs() -> None:
    clock = ManualClock(T0)
    seen: list[tuple[str, Placement]] = []

    def runtime(job: Job, placement: Placement) -> int:
        seen.append((job.id, placement))
        return 10 * len(placement.workers)

    executor = FakeExecutor(clock, placed_runtime=runtime)
    job = a_job("j").gang(2, ASCEND, 1).build()
    executor.launch(job, 1, placed(job, "n1", "n2"))
    clock.advance(20)

    assert seen == [("j", placed(job, "n1", "n2"))]
    assert timeline(executor.poll())[-1] == (20, FINISHED, 10_000)


@pytest.mark.parametrize("both", [True, False])
def test_exactly_one_runtime_is_given(both: bool) -> None:
    with pytest.raises(InvalidField, match="runtime"):
        if both:
            FakeExecutor(ManualClock(T0), lambda job: 1, placed_runtime=lambda job, p: 1)
        else:
            FakeExecutor(ManualClock(T0))


def test_two_jobs_events_interleave_by_time_then_by_launch_order() -> None:
    executor, clock = fake(runtime=4)
    a, b = a_job("a").build(), a_job("b").build()
    executor.launch(a, 1, placed(a, "n1"))
    clock.advance(2)
    executor.launch(b, 1, placed(b, "n2"))
    clock.advance(10)

    events = executor.poll()

    assert [(e.at - T0, e.job_id, e.kind) for e in events if e.kind is not PROGRESS] == [
        (0, "a", STARTED),
        (2, "b", STARTED),
        (4, "a", FINISHED),
        (6, "b", FINISHED),
    ]
    assert [e.at for e in events] == sorted(e.at for e in events)


# ---------------------------------------------------------------------- scripted life


def test_a_failed_attempt_reports_the_error_text_at_the_next_poll_and_nothing_after() -> None:
    executor, clock = fake(runtime=100)
    job = a_job("j").build()
    executor.launch(job, 1, placed(job, "n1"))
    clock.advance(30)
    executor.poll()

    executor.fail("j", "CUDA error: an illegal memory access")
    clock.advance(200)

    [failed] = executor.poll()
    assert (failed.kind, failed.at - T0, failed.error) == (
        FAILED,
        30,
        "CUDA error: an illegal memory access",
    )
    assert failed.progress_bp == 2500
    assert executor.attempts() == {}
    assert executor.poll() == []


def test_losing_a_node_ends_every_gang_with_a_worker_there_once_and_spares_the_others() -> None:
    executor, clock = fake(runtime=100)
    gang = a_job("gang").gang(2, ASCEND, 8).build()
    neighbour = a_job("neighbour").accelerators(8).build()
    elsewhere = a_job("elsewhere").accelerators(8).build()
    executor.launch(gang, 1, placed(gang, "sz-001", "sz-002"))
    executor.launch(neighbour, 1, placed(neighbour, "sz-002"))
    executor.launch(elsewhere, 1, placed(elsewhere, "sz-003"))
    clock.advance(10)
    executor.poll()

    executor.lose_node("sz-002")
    executor.lose_node("sz-002")

    lost = executor.poll()
    assert [(e.kind, e.job_id, e.node, e.at - T0) for e in lost] == [
        (NODE_LOST, "gang", "sz-002", 10),
        (NODE_LOST, "neighbour", "sz-002", 10),
    ]
    assert executor.attempts() == {"elsewhere": 1}
    clock.advance(100)
    assert [(e.job_id, e.kind) for e in executor.poll()][-1] == ("elsewhere", FINISHED)


def test_a_hung_attempt_never_finishes_until_it_is_stopped_for_its_walltime() -> None:
    executor, clock = fake(runtime=100)
    job = a_job("j").walltime(500).build()
    executor.launch(job, 1, placed(job, "n1"))
    clock.advance(30)
    executor.hang("j")

    clock.advance(10_000)
    assert timeline(executor.poll()) == [(0, STARTED, None), (25, PROGRESS, 2500)]
    assert executor.attempts() == {"j": 1}

    executor.stop("j", 1, StopReason.WALLTIME)
    [stopped] = executor.poll()
    assert (stopped.kind, stopped.reason) == (STOPPED, StopReason.WALLTIME)
    assert executor.attempts() == {}


def test_a_hung_attempt_still_starts_when_hung_before_its_start() -> None:
    executor, clock = fake(runtime=100, start_delay_s=5)
    job = a_job("j").build()
    executor.launch(job, 1, placed(job, "n1"))
    executor.hang("j")

    clock.advance(1000)

    assert timeline(executor.poll()) == [(5, STARTED, None)]


def test_an_attempt_stopped_before_it_started_reports_stopped_without_started() -> None:
    executor, clock = fake(runtime=100, start_delay_s=60)
    job = a_job("j").build()
    executor.launch(job, 1, placed(job, "n1"))
    clock.advance(10)

    executor.stop("j", 1, StopReason.CANCELLED)
    clock.advance(1000)

    assert [(e.kind, e.at - T0) for e in executor.poll()] == [(STOPPED, 10)]


def test_an_attempt_that_finished_unpolled_cannot_be_failed_or_stopped_any_more() -> None:
    executor, clock = fake(runtime=100)
    job = a_job("j").build()
    executor.launch(job, 1, placed(job, "n1"))
    clock.advance(100)

    executor.stop("j", 1, StopReason.PREEMPTED)
    with pytest.raises(UnknownAttempt):
        executor.fail("j", "too late")

    assert executor.poll()[-1].kind is FINISHED


@pytest.mark.parametrize("hook", ["fail", "hang"])
def test_scripting_a_job_with_no_live_attempt_is_refused(hook: str) -> None:
    executor, _ = fake()
    with pytest.raises(UnknownAttempt):
        if hook == "fail":
            executor.fail("ghost", "boom")
        else:
            executor.hang("ghost")


def test_a_runtime_under_one_second_is_refused_naming_the_job() -> None:
    executor, _ = fake(runtime=0)
    job = a_job("j").build()

    with pytest.raises(InvalidField) as refused:
        executor.launch(job, 1, placed(job, "n1"))

    assert refused.value.field == "runtime(j)"
    assert executor.attempts() == {}


def test_a_closed_executor_refuses_every_call_and_closing_again_is_harmless() -> None:
    executor, _ = fake()
    with executor:
        pass
    executor.close()

    with pytest.raises(ExecutorClosed):
        executor.poll()


# ---------------------------------------------------------------------- clocks


def test_a_manual_clock_moves_only_forward_and_only_when_told() -> None:
    clock = ManualClock(T0)
    assert clock.now() == T0
    assert clock.advance(0) == T0
    assert clock.advance(5) == T0 + 5
    assert clock.set(T0 + 5) == T0 + 5
    assert clock.set(T0 + 60) == T0 + 60
    assert clock.now() == T0 + 60


@pytest.mark.parametrize(
    ("move", "field"),
    [
        (lambda clock: clock.advance(-1), "seconds"),
        (lambda clock: clock.set(T0 - 1), "t"),
        (lambda clock: ManualClock(-1), "start"),
    ],
)
def test_a_manual_clock_refuses_to_go_backwards_naming_the_field(
    move: Callable[[ManualClock], object], field: str
) -> None:
    clock = ManualClock(T0)
    with pytest.raises(InvalidField) as refused:
        move(clock)
    assert refused.value.field == field
    assert clock.now() == T0


def test_the_system_clock_reads_whole_epoch_seconds_and_never_goes_back() -> None:
    clock = SystemClock()
    first = clock.now()
    assert isinstance(first, int)
    assert abs(first - time.time()) <= 2
    assert clock.now() >= first
