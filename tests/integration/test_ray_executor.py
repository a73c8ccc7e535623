"""The Ray executor on a real (small, local) Ray cluster: what the contract suite cannot say.

Gangs land on the Ray nodes that are their pool nodes; a rank's exception fails the attempt with
its text; a preempted sample training run resumes from its checkpoint to the same weights as an
uninterrupted one; a lost node ends its attempts as node-lost; a pending group is reported by the
watchdog; a new executor re-attaches what an earlier one launched, and only what one of its own
Ray namespace launched; a separate coordinator process reaches the cluster through RAY_ADDRESS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from scheduler.domain.clock import SystemClock
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, Placement
from scheduler.executor.base import EventKind, ExecutorEvent, StopReason
from scheduler.executor.ray import RayExecutor
from scheduler.workloads.sample import final_weights
from tests.builders import ASCEND, a_job
from tests.ray_session import RaySession

# One xdist worker runs every Ray test (`--dist loadgroup`): one Ray cluster on the machine,
# not one per worker, whose raylets starved each other past Ray's 30 s start-up wait.
pytestmark = pytest.mark.xdist_group("ray")

WITHIN_S = 60.0


def placed(job: Job, *nodes: str) -> Placement:
    return Placement(ASCEND, Jurisdiction.MAINLAND, tuple((n, job.gang.per_worker) for n in nodes))


def _executor(root: Path, entrypoint: str, **options: float) -> RayExecutor:
    return RayExecutor(
        SystemClock(),
        root,
        entrypoint_for=lambda job: f"tests.ray_workloads:{entrypoint}",
        attach=False,
        **options,  # type: ignore[arg-type]
    )


def _until(
    executor: RayExecutor, done: Callable[[list[ExecutorEvent]], bool]
) -> list[ExecutorEvent]:
    """Poll every 0.1 s until `done(events so far)`, for at most WITHIN_S seconds."""
    events: list[ExecutorEvent] = []
    deadline = time.monotonic() + WITHIN_S
    while time.monotonic() < deadline:
        events += executor.poll()
        if done(events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"not done within {WITHIN_S} s: {events}")


def _ended(job_id: str) -> Callable[[list[ExecutorEvent]], bool]:
    return lambda events: any(e.terminal and e.job_id == job_id for e in events)


def _seen(job_id: str, kind: EventKind) -> Callable[[list[ExecutorEvent]], bool]:
    return lambda events: any(e.kind is kind and e.job_id == job_id for e in events)


@pytest.fixture
def stop_all() -> Iterator[list[RayExecutor]]:
    """Executors a test registers here have their live attempts stopped afterwards."""
    executors: list[RayExecutor] = []
    yield executors
    for executor in executors:
        for job_id, attempt in executor.attempts().items():
            executor.stop(job_id, attempt, StopReason.SHUTDOWN)
        executor.close()


@pytest.fixture(scope="module")
def two_ray_nodes(ray_session: RaySession) -> dict[str, str]:
    """Pool nodes gz-001 and gz-002, each a Ray node of its own: pool node -> Ray node id."""
    return {n: node.node_id for n, node in ray_session.pool_nodes("gz-001", "gz-002").items()}


def test_each_rank_runs_on_the_ray_node_that_is_its_pool_node(
    two_ray_nodes: dict[str, str], tmp_path: Path, stop_all: list[RayExecutor]
) -> None:
    executor = _executor(tmp_path, "short_training")
    stop_all.append(executor)
    job = a_job("gang").gang(2, ASCEND, 8).build()

    # Ranks in the opposite order to the nodes' creation, so landing right is not an accident.
    executor.launch(job, 1, placed(job, "gz-002", "gz-001"))
    _until(executor, _seen("gang", EventKind.STARTED))

    assert executor.ray_nodes("gang") == [two_ray_nodes["gz-002"], two_ray_nodes["gz-001"]]
    assert _until(executor, _ended("gang"))[-1].kind is EventKind.FINISHED


def test_an_exception_in_one_rank_fails_the_attempt_with_its_text(
    ray_session: RaySession, tmp_path: Path, stop_all: list[RayExecutor]
) -> None:
    executor = _executor(tmp_path, "fail_on_rank_1")
    stop_all.append(executor)
    job = a_job("nan").gang(2, ASCEND, 8).build()

    executor.launch(job, 1, placed(job, "sz-001", "sz-002"))
    events = _until(executor, _ended("nan"))

    last = events[-1]
    assert last.kind is EventKind.FAILED
    assert last.error == "rank 1: RuntimeError: the loss went NaN on rank 1"
    assert executor.attempts() == {}


def test_a_preempted_training_run_resumes_to_the_weights_of_an_uninterrupted_one(
    ray_session: RaySession, tmp_path: Path, stop_all: list[RayExecutor]
) -> None:
    executor = _executor(tmp_path, "short_training")
    stop_all.append(executor)
    whole, cut = a_job("whole").build(), a_job("cut").build()

    executor.launch(whole, 1, placed(whole, "sz-001"))
    executor.launch(cut, 1, placed(cut, "sz-002"))
    first = _until(
        executor,
        lambda events: any(
            e.job_id == "cut" and e.kind is EventKind.CHECKPOINT and (e.progress_bp or 0) >= 3000
            for e in events
        ),
    )
    executor.stop("cut", 1, StopReason.PREEMPTED)
    executor.launch(cut, 2, placed(cut, "sz-003"))
    second = _until(
        executor,
        lambda events: (
            any(e.terminal and e.attempt == 2 for e in events) and _ended("whole")(first + events)
        ),
    )

    of_cut = [e for e in first + second if e.job_id == "cut"]
    assert [e.kind for e in of_cut if e.terminal] == [EventKind.STOPPED, EventKind.FINISHED]
    saved_before = max(e.progress_bp or 0 for e in of_cut if e.attempt == 1)
    resumed_checkpoints = [
        e.progress_bp or 0 for e in of_cut if e.attempt == 2 and e.kind is EventKind.CHECKPOINT
    ]
    # Resumed, not restarted: attempt 2 never checkpoints what attempt 1 had already saved.
    assert min(resumed_checkpoints) > saved_before
    np.testing.assert_array_equal(
        final_weights(tmp_path / "cut"), final_weights(tmp_path / "whole")
    )


def test_a_lost_ray_node_ends_its_attempt_as_node_lost_and_the_job_runs_elsewhere(
    ray_session: RaySession, tmp_path: Path, stop_all: list[RayExecutor]
) -> None:
    doomed = ray_session.add_pool_node("doomed-001")
    executor = _executor(tmp_path, "long_training")
    stop_all.append(executor)
    job = a_job("far").build()
    executor.launch(job, 1, placed(job, "doomed-001"))
    _until(executor, _seen("far", EventKind.STARTED))

    ray_session.cluster.remove_node(doomed)
    events = _until(executor, _ended("far"))

    assert (events[-1].kind, events[-1].node) == (EventKind.NODE_LOST, "doomed-001")
    executor.launch(job, 2, placed(job, "sz-004"))
    assert executor.attempts() == {"far": 2}


def test_a_gang_whose_group_stays_pending_is_failed_by_the_watchdog(
    ray_session: RaySession, tmp_path: Path, stop_all: list[RayExecutor]
) -> None:
    executor = _executor(tmp_path, "steady", start_timeout_s=1.0)
    stop_all.append(executor)
    job = a_job("nowhere").build()

    executor.launch(job, 1, placed(job, "nowhere-001"))
    [event] = _until(executor, _ended("nowhere"))

    assert event.kind is EventKind.FAILED
    assert event.error is not None
    assert "not started within 1 s" in event.error
    assert "no live Ray node declares gba_node:nowhere-001" in event.error


def test_a_new_executor_re_attaches_what_an_earlier_one_left_running(
    ray_session: RaySession, tmp_path: Path, stop_all: list[RayExecutor]
) -> None:
    before = _executor(tmp_path, "long_training")
    job = a_job("kept").gang(2, ASCEND, 4).build()
    before.launch(job, 3, placed(job, "sz-001", "sz-002"))
    [started] = [
        e for e in _until(before, _seen("kept", EventKind.STARTED)) if e.kind is EventKind.STARTED
    ]
    before.close()

    after = RayExecutor(SystemClock(), tmp_path)
    stop_all.append(after)

    # Only "kept" is running (other tests stopped theirs), but actors killed a moment ago may
    # still be listed by Ray; they end as failed at once and are not what is checked here.
    attempts = after.attempts()
    assert attempts.get("kept") == 3, f"re-attached {attempts}"
    assert after.started_at("kept", 3) == started.at
    progress = _until(after, _seen("kept", EventKind.CHECKPOINT))
    kinds = [e.kind for e in progress]
    assert EventKind.STARTED not in kinds, progress  # reported once, by `before`
    after.stop("kept", 3, StopReason.ORPHANED)
    assert after.attempts() == {}


_ADDRESS_DRIVER = """
import sys, time
from pathlib import Path
from scheduler.domain.clock import SystemClock
from scheduler.executor import ray_cluster
from scheduler.executor.ray import RayExecutor
from tests.builders import a_job
from tests.integration.test_ray_executor import placed

assert ray_cluster.connect({}) is False, "started a Ray of its own instead of connecting"
executor = RayExecutor(
    SystemClock(), Path(sys.argv[1]), entrypoint_for=lambda job: "tests.ray_workloads:steady",
    attach=False,
)
job = a_job("remote").build()
executor.launch(job, 1, placed(job, "sz-004"))
kinds = []
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not any(k in ("finished", "failed") for k in kinds):
    kinds += [str(e.kind) for e in executor.poll()]
    time.sleep(0.1)
print(" ".join(kinds))
"""


def test_a_coordinator_connects_to_the_cluster_named_by_ray_address(
    ray_session: RaySession, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "RAY_ADDRESS": ray_session.cluster.address,
        "RAY_AUTH_MODE": "disabled",
    }
    run = subprocess.run(
        [sys.executable, "-c", _ADDRESS_DRIVER, str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["started", "progress", "progress", "progress", "finished"]


_OTHER_NAMESPACE_DRIVER = """
import sys, time
from pathlib import Path
from scheduler.domain.clock import SystemClock
from scheduler.executor import ray_cluster
from scheduler.executor.base import EventKind, StopReason
from scheduler.executor.ray import RayExecutor
from tests.builders import a_job
from tests.integration.test_ray_executor import placed

assert ray_cluster.connect({}, namespace=sys.argv[2]) is False
def executor(attach):
    return RayExecutor(
        SystemClock(), Path(sys.argv[1]),
        entrypoint_for=lambda job: "tests.ray_workloads:long_training", attach=attach,
    )
first = executor(False)
job = a_job("elsewhere-0").build()
first.launch(job, 1, placed(job, "sz-004"))
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    if any(e.kind is EventKind.STARTED for e in first.poll()):
        break
    time.sleep(0.1)
first.close()  # the attempt runs on, detached
print("started", flush=True)
sys.stdin.readline()  # the other namespace's executor has looked
again = executor(True)
print("re-attached", sorted(again.attempts().items()), flush=True)
again.stop("elsewhere-0", 1, StopReason.SHUTDOWN)
again.close()
"""


def test_an_executor_re_attaches_nothing_another_namespace_launched(
    ray_session: RaySession, tmp_path: Path, stop_all: list[RayExecutor]
) -> None:
    # Two databases' coordinators on one cluster: each its own namespace (`gbasched serve` uses
    # `namespace_of(store identity)`), job ids that both start at job-0.
    env = {
        **os.environ,
        "RAY_ADDRESS": ray_session.cluster.address,
        "RAY_AUTH_MODE": "disabled",
    }
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_NAMESPACE_DRIVER, str(tmp_path), "gba-other-database"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        if other.stdout.readline().strip() != "started":
            raise AssertionError(other.communicate(timeout=60)[1][-2000:])
        here = RayExecutor(SystemClock(), tmp_path)  # this session's namespace, attaching
        stop_all.append(here)
        assert "elsewhere-0" not in here.attempts()
        out, err = other.communicate("looked\n", timeout=120)
    finally:
        if other.poll() is None:
            other.kill()
    assert other.returncode == 0, err[-2000:]
    assert out.strip() == "re-attached [('elsewhere-0', 1)]"
