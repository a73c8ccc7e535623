"""Attained service and finished run times, as `ClusterState` keeps them between cycles: an
attempt counts accelerators × the time it held them, over every attempt of a job; a finished job's
run time joins its tenant's rolling history; what ends for good is forgotten."""

from __future__ import annotations

from scheduler.domain.jobs import RunningJob
from scheduler.engine.decisions import CycleResult, Preemption
from scheduler.engine.reasons import PreemptionCause, Reason, ReasonCode
from scheduler.engine.state import ClusterState
from scheduler.policy.service import HISTORY_WINDOW, Past
from tests.builders import ASCEND, a_history, a_job, a_pool

POOL = a_pool().nodes(2, ASCEND, prefix="n").build()


def running(job_id: str, count: int = 8, *, started_at: int = 0, node: str = "n-000") -> RunningJob:
    return a_job(job_id).accelerators(count).running_on((node, count), started_at=started_at)


def test_an_ended_attempt_counts_accelerators_times_the_time_held() -> None:
    state = ClusterState(POOL)
    state.start(running("j", 4, started_at=100))
    state.finish("j", 400)
    assert state.service.past["j"] == Past(4 * 300, 400)
    assert state.snapshot().service.attained(a_job("j").build()) == 1200


def test_attempts_add_up_and_the_running_one_grows_with_now() -> None:
    state = ClusterState(POOL)
    first = running("j", 8, started_at=0)
    state.start(first)
    state.finish("j", 100)
    state.submit_requeued(first.job)
    state.start(running("j", 8, started_at=500))
    current = state.running["j"]
    assert state.service.attained(first.job) == 800
    assert state.service.attained_running(current, 600) == 800 + 8 * 100


def test_a_finish_without_a_time_counts_nothing() -> None:
    state = ClusterState(POOL)
    state.start(running("j"))
    state.finish("j")
    assert state.service.past == {}


def test_a_preemption_counts_up_to_the_cycle_that_decided_it() -> None:
    state = ClusterState(POOL)
    state.start(running("victim", started_at=10))
    result = CycleResult(
        now=70,
        policy="las:binpack",
        admissions=(),
        preemptions=(Preemption("victim", "t1", "other", PreemptionCause.PRIORITY, ""),),
        pending={},
        rejected={},
        considered=0,
    )
    state.apply(result, 70)
    assert state.service.past["victim"] == Past(8 * 60, 70)
    assert "victim" in state.pending


def test_a_finished_job_joins_its_tenants_history_and_its_attained_service_is_forgotten() -> None:
    state = ClusterState(POOL)
    job = running("j", 8, started_at=0)
    state.start(job)
    state.finish("j", 600)
    state.retire(job.job, finished=True)
    assert state.service.past == {}
    assert state.service.mean_runtime("t1", 8) == 600


def test_cancelled_and_rejected_jobs_leave_no_history() -> None:
    state = ClusterState(POOL)
    cancelled = running("c", 8)
    state.start(cancelled)
    state.cancel("c", 300)
    queued = a_job("q").build()
    state.submit(queued)
    state.service.past["q"] = Past(50, 0)
    result = CycleResult(
        now=0,
        policy="las:binpack",
        admissions=(),
        preemptions=(),
        pending={},
        rejected={"q": Reason(ReasonCode.NO_FLAVOR, "none")},
        considered=1,
    )
    state.apply(result, 0)
    assert state.service.past == {}
    assert state.service.mean_runtime("t1", 8) is None


def test_the_estimate_falls_back_from_the_shape_to_the_tenant_to_the_pool() -> None:
    service = a_history().finished("a", 8, 100, 300).finished("a", 1, 1000).finished("b", 2, 50)
    history = service.build()
    assert history.mean_runtime("a", 8) == 200  # same tenant, same size
    assert history.mean_runtime("a", 16) == (100 + 300 + 1000) // 3  # the tenant's jobs
    assert history.mean_runtime("c", 8) == (100 + 300 + 1000 + 50) // 4  # the pool's jobs
    assert a_history().build().mean_runtime("a", 8) is None


def test_the_history_is_a_rolling_window_of_the_last_jobs() -> None:
    history = (
        a_history()
        .finished("a", 8, *([10_000] * HISTORY_WINDOW))
        .finished("a", 8, *([100] * HISTORY_WINDOW))
        .build()
    )
    assert history.mean_runtime("a", 8) == 100


def test_a_snapshot_shares_the_states_service_and_a_new_pool_keeps_it() -> None:
    state = ClusterState(POOL)
    state.start(running("j"))
    state.finish("j", 60)
    assert state.snapshot().service is state.service
    assert state.with_pool(POOL).service.past == state.service.past
