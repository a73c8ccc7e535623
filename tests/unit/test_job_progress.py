"""A job's progress as its workers reported it (`Coordinator.progress`), told with a manual clock
and the fake executor, whose attempts report 25, 50 and 75 % of their runtime and a checkpoint
every `checkpoint_interval_s`. Every report here reaches the store by the coordinator's own path
(executor event -> `progress` / `checkpoint` event), none is written by hand.

A job of walltime 3600 s runs 1800 s once started: progress at +450, +900 and +1350 s;
with checkpoints every 600 s, checkpoints at +600 (3333 bp) and +1200 s (6666 bp)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.domain.jobs import JobState
from scheduler.service.job_progress import JobProgress, job_progress
from scheduler.store.base import Store
from scheduler.store.errors import UnknownJob
from scheduler.store.memory import MemoryStore
from scheduler.store.records import Event
from scheduler.store.sqlite import SqliteStore
from tests.service_builders import T0, World, a_world, small_pool


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "p.db")
    yield made
    made.close()


def started(world: World, **submit: int) -> str:
    """A job admitted at T0 and running (its attempt 1 started at T0); the clock at T0 + 1."""
    job = world.submit(**submit)
    world.run()
    world.run(1)
    assert world.state(job) is JobState.RUNNING
    return job


# ---------------------------------------------------------------------- one attempt


def test_progress_follows_the_reports_and_a_succeeded_job_shows_all_of_it(store: Store) -> None:
    world = a_world(store=store)
    job = world.submit()
    assert world.coordinator.progress(job) is None  # queued: no attempt yet
    world.run()
    world.run(1)
    assert world.coordinator.progress(job) is None  # running, nothing reported yet

    world.run(449)  # T0 + 450: 25 %
    assert world.coordinator.progress(job) == JobProgress(1, 2500, T0 + 450, None)
    world.run(500)  # T0 + 950: 50 %, recorded at this tick
    assert world.coordinator.progress(job) == JobProgress(1, 5000, T0 + 950, None)

    world.run(850)  # T0 + 1800: finished
    assert world.state(job) is JobState.SUCCEEDED
    assert world.coordinator.progress(job) == JobProgress(1, 10_000, T0 + 1800, None)


def test_the_newest_report_counts_whether_progress_or_checkpoint() -> None:
    world = a_world()
    job = started(world, checkpoint_interval_s=600)

    world.run(649)  # T0 + 650: progress 25 % at +450, then the checkpoint at +600
    assert world.coordinator.progress(job) == JobProgress(1, 3333, T0 + 650, 3333)
    world.run(300)  # T0 + 950: progress 50 %; the checkpoint stays the last resumable point
    assert world.coordinator.progress(job) == JobProgress(1, 5000, T0 + 950, 3333)


def test_progress_survives_a_restart_because_it_is_read_from_the_store(tmp_path: Path) -> None:
    world = a_world(store=SqliteStore(tmp_path / "restart.db"))
    job = started(world, checkpoint_interval_s=600)
    world.run(949)
    before = world.coordinator.progress(job)
    assert before == JobProgress(1, 5000, T0 + 950, 3333)

    world.restart()  # the attempt is gone with the old executor; the job waits again

    assert world.record(job).attempt == 1
    assert world.coordinator.progress(job) == before
    world.store.close()


# ---------------------------------------------------------------------- attempts


def test_a_new_attempt_starts_over_and_keeps_the_checkpoint_of_the_one_before() -> None:
    world = a_world(max_retries=1)
    job = started(world, checkpoint_interval_s=600)
    world.run(949)  # attempt 1: checkpoint 3333 at +600, progress 5000 at +900

    world.executor.fail(job, "CUDA error")
    world.run()  # requeued and admitted again in the same tick: attempt 2, launched at T0 + 950
    assert (world.record(job).attempt, world.state(job)) == (2, JobState.ADMITTED)
    assert world.coordinator.progress(job) is None  # attempt 1's 50 % is not attempt 2's

    world.run(450)  # T0 + 1400: attempt 2 at 25 %, before its own first checkpoint
    assert world.coordinator.progress(job) == JobProgress(2, 2500, T0 + 1400, 3333)
    world.run(200)  # T0 + 1600: attempt 2's first checkpoint
    assert world.coordinator.progress(job) == JobProgress(2, 3333, T0 + 1600, 3333)


def test_a_job_waiting_again_shows_its_last_attempts_report() -> None:
    world = a_world(small_pool(nodes=1), max_retries=1)
    job = started(world)
    world.run(449)  # 25 %
    world.executor.lose_node(world.nodes_of(job)[0])

    world.run()  # requeued; its only node is down, so it waits with attempt 1 as its last

    record = world.record(job)
    assert (record.state, record.attempt) == (JobState.QUEUED, 1)
    assert world.coordinator.progress(job) == JobProgress(1, 2500, T0 + 450, None)


def test_a_job_that_failed_or_was_cancelled_shows_its_last_attempts_report() -> None:
    world = a_world(max_retries=0)
    failing = started(world)
    cancelled = world.submit()
    world.run()
    world.run(899)  # T0 + 900: both at 50 % (the second started a second later, at 25 %)

    world.executor.fail(failing, "out of memory")
    world.coordinator.cancel(cancelled, "t1")
    world.run()

    assert world.state(failing) is JobState.FAILED
    assert world.coordinator.progress(failing) == JobProgress(1, 5000, T0 + 900, None)
    assert world.state(cancelled) is JobState.CANCELLED
    assert world.coordinator.progress(cancelled) == JobProgress(1, 2500, T0 + 900, None)


def test_an_unknown_job_is_refused() -> None:
    world = a_world()
    with pytest.raises(UnknownJob, match="nobody"):
        world.coordinator.progress("nobody")


# ---------------------------------------------------------------------- the rule alone


def _record(world: World, state: JobState) -> tuple[World, str]:
    job = started(world)
    world.run(449)
    if state is JobState.SUCCEEDED:
        world.run(1400)
    assert world.state(job) is state
    return world, job


def _event(kind: str, at: int, **data: object) -> Event:
    return Event(seq=1, at=at, kind=kind, job_id="j", tenant="t1", data=data)


def test_a_report_without_a_usable_figure_or_of_another_attempt_shows_nothing() -> None:
    world, job = _record(a_world(), JobState.RUNNING)
    record = world.record(job)  # attempt 1

    stale = _event("progress", T0, attempt=0, progress_bp=4000)
    no_figure = _event("progress", T0, attempt=1)
    not_a_number = _event("progress", T0, attempt=1, progress_bp="40")
    assert job_progress(record, stale, None) is None
    assert job_progress(record, no_figure, None) is None
    assert job_progress(record, not_a_number, None) is None


def test_a_figure_past_either_end_is_clamped() -> None:
    world, job = _record(a_world(), JobState.RUNNING)
    record = world.record(job)

    over = _event("checkpoint", T0 + 5, attempt=1, progress_bp=12_000)
    under = _event("progress", T0 + 6, attempt=1, progress_bp=-3)
    assert job_progress(record, over, over) == JobProgress(1, 10_000, T0 + 5, 10_000)
    assert job_progress(record, under, over) == JobProgress(1, 0, T0 + 6, 10_000)


def test_a_succeeded_job_shows_all_of_it_even_without_a_report() -> None:
    world, job = _record(a_world(), JobState.SUCCEEDED)
    record = world.record(job)

    assert job_progress(record, None, None) == JobProgress(1, 10_000, T0 + 1800, None)
