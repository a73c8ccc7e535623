"""The coordinator under the service-based policies, with a manual clock, a real store and the
fake executor: under `las` a short job preempts a long one, which resumes later; attained service
and finished run times are rebuilt from the store's event log after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.domain.jobs import JobState
from scheduler.policy.service import ServiceHistory
from scheduler.store.base import Store
from scheduler.store.memory import MemoryStore
from scheduler.store.sqlite import SqliteStore
from tests.service_builders import World, a_world, small_pool

HOUR = 3600
QUEUED, ADMITTED, RUNNING = JobState.QUEUED, JobState.ADMITTED, JobState.RUNNING
PREEMPTED, SUCCEEDED = JobState.PREEMPTED, JobState.SUCCEEDED


def service(world: World) -> ServiceHistory:
    return world.coordinator.state.service


def long_then_short(world: World) -> tuple[str, str]:
    """A 10-hour job runs two hours (16 accelerator-hours: past the 8-hour threshold), then a
    10-minute job arrives. Jobs run half their walltime."""
    long = world.submit(walltime_s=20 * HOUR)
    world.run()
    world.run(2 * HOUR)
    assert world.state(long) is RUNNING
    short = world.submit(walltime_s=1200)
    world.run()
    return long, short


def test_a_las_coordinator_preempts_a_long_job_for_a_short_one_and_the_long_one_resumes() -> None:
    world = a_world(small_pool(nodes=1), policy="las")
    long, short = long_then_short(world)

    assert world.state(short) is ADMITTED
    assert world.state(long) is PREEMPTED
    assert world.record(long).reason_code == "ATTAINED_SERVICE"
    world.run()
    assert world.state(long) is QUEUED
    assert service(world).past[long].accelerator_s == 8 * 2 * HOUR

    world.run(600)  # the short job ends; the long one comes back as attempt 2
    assert world.state(short) is SUCCEEDED
    assert world.record(long).attempt == 2
    world.run(10 * HOUR)
    assert world.state(long) is SUCCEEDED
    kinds = world.kinds(long)
    assert kinds.count("admitted") == 2 and kinds[-1] == "succeeded"
    # both are over: attained service forgotten, run times in the tenant's history
    assert service(world).past == {}
    assert list(service(world).by_shape[("t1", 8)].runs) == [600, 12 * HOUR]


def test_a_priority_fairshare_coordinator_lets_the_long_job_run() -> None:
    world = a_world(small_pool(nodes=1))
    long, short = long_then_short(world)
    assert world.state(long) is RUNNING
    assert world.state(short) is QUEUED


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "las.db")


def test_attained_service_and_run_times_survive_a_restart(store: Store) -> None:
    world = a_world(small_pool(nodes=1), policy="las", store=store)
    quick = world.submit("t2", walltime_s=600)
    world.run()
    world.run(300)  # t2's job ran 5 minutes
    assert world.state(quick) is SUCCEEDED
    long, short = long_then_short(world)
    world.run()  # the long job is queued again after 2 hours; the short one runs
    before = service(world)
    assert before.past == {long: before.past[long]}

    world.restart()  # a new executor: the short job's attempt is lost and not counted
    after = service(world)

    assert after.past == before.past
    assert list(after.by_shape[("t2", 8)].runs) == list(before.by_shape[("t2", 8)].runs) == [300]
    assert after.mean_runtime("t1", 8) == before.mean_runtime("t1", 8) == 300  # the pool's
    # the rebuilt figures rank as before: the long job waits behind the short one
    world.run()
    assert world.state(short) in (ADMITTED, RUNNING)
    assert world.state(long) is QUEUED


def test_a_restart_under_another_policy_rebuilds_nothing() -> None:
    world = a_world(small_pool(nodes=1), policy="las")
    long_then_short(world)
    world.run()
    world.policy = "priority-fairshare:binpack"
    world.restart()
    assert service(world).past == {}
