"""The coordinator driving the real Ray executor: jobs submitted, placed by the engine, run as Ray
actors on the Ray nodes that are their pool nodes, and billed, over a SQLite store and the
system clock.

A 2-worker gang runs where the engine placed it and its progress shows; a preempted training
run resumes from its checkpoint to the weights of an uninterrupted one; a worker's exception
is the job's reason; a lost Ray node requeues its job, which finishes elsewhere, each attempt
billed once; a coordinator restarted mid-run re-attaches the running attempt, or requeues one
that did not survive. After every tick of every test, no accelerator is booked twice.

Real seconds pass: every job is a few seconds long and every wait has a deadline."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from scheduler.domain.clock import SystemClock
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import JobState
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.domain.requests import JobRequest
from scheduler.executor.base import StopReason
from scheduler.executor.ray import RayExecutor
from scheduler.executor.ray_cluster import NAMESPACE, alive_pool_nodes
from scheduler.ledger.book import Ledger, Posting, PostingKind
from scheduler.ledger.config import ProgramsConfig
from scheduler.policy.registry import resolve_policy
from scheduler.service.coordinator import Coordinator
from scheduler.service.job_progress import FULL_BP
from scheduler.service.settings import CoordinatorSettings
from scheduler.store.records import JobRecord
from scheduler.store.sqlite import SqliteStore
from scheduler.workloads.sample import final_weights
from tests.builders import ASCEND, a_pool, a_tenant
from tests.ray_session import RaySession
from tests.service_builders import money

# One xdist worker runs every Ray test (`--dist loadgroup`): one Ray cluster on the machine,
# not one per worker, whose raylets starved each other past Ray's 30 s start-up wait.
pytestmark = pytest.mark.xdist_group("ray")

WITHIN_S = 30.0
TICK_S = 0.1
OWNER = "sz-gov"
HOLDING = (JobState.ADMITTED, JobState.RUNNING)


def ray_pool(*nodes: str) -> Pool:
    """Pool nodes of 8 Ascend with these ids (`<prefix>-<nnn>`, numbered from 000 per prefix,
    as the pool builder numbers them): ids the Ray nodes of this module declare."""
    builder = a_pool()
    for node in nodes:
        builder.nodes(1, ASCEND, owner=OWNER, prefix=node.rpartition("-")[0])
    pool = builder.tenant(a_tenant("t1")).tenant(a_tenant("t2")).build()
    assert sorted(pool.nodes) == sorted(nodes), f"asked for {nodes}, built {sorted(pool.nodes)}"
    return pool


@dataclass
class Deployment:
    """A coordinator over a SQLite file, executing on the session's Ray; ticked by hand."""

    db: Path
    checkpoints: Path
    pool: Pool
    programs: ProgramsConfig
    settings: CoordinatorSettings
    store: SqliteStore
    executor: RayExecutor
    coordinator: Coordinator
    peak: Counter[str] = field(default_factory=Counter)
    """The most accelerators of each node that live attempts held at once, over the run."""
    ticks: int = 0

    # ------------------------------------------------------------------ acting

    def submit(
        self,
        entrypoint: str,
        *,
        workers: int = 1,
        per_worker: int = 8,
        priority: str = "standard",
        tenant: str = "t1",
    ) -> str:
        request = JobRequest(
            tenant=tenant,
            workers=workers,
            per_worker=per_worker,
            walltime_s=600,
            data_origin=Jurisdiction.MAINLAND,
            models=(ASCEND,),
            priority_class=priority,
            preemptible=True,
            entrypoint=f"tests.ray_workloads:{entrypoint}",
            programs=tuple(self.programs.programs),
        )
        [outcome] = self.coordinator.submit([request])
        return outcome.job_id

    def tick(self) -> None:
        self.coordinator.tick()
        self.ticks += 1
        self.check_no_accelerator_is_double_booked()

    def until(self, done: Callable[[], bool], what: str, within: float = WITHIN_S) -> None:
        """Tick every TICK_S until `done()`, for at most `within` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.tick()
            if done():
                return
            time.sleep(TICK_S)
        raise AssertionError(f"{what}: not within {within:g} s; jobs: {self.describe()}")

    def until_state(self, job_id: str, *states: JobState, within: float = WITHIN_S) -> JobRecord:
        self.until(lambda: self.record(job_id).state in states, f"{job_id} {states}", within)
        return self.record(job_id)

    def restart(self, *, executor: RayExecutor | None = None) -> None:
        """What a new coordinator process does: the old one is gone without stopping anything;
        the store is opened again from its file, and a new executor connects to the same Ray."""
        self.coordinator.close()
        self.executor.close()
        self.store.close()
        self.store = SqliteStore(self.db)
        self.executor = executor or RayExecutor(SystemClock(), self.checkpoints)
        self.coordinator = open_coordinator(
            self.store, self.executor, self.pool, self.programs, self.settings
        )

    # ------------------------------------------------------------------ looking

    def record(self, job_id: str) -> JobRecord:
        return self.coordinator.job(job_id)

    def nodes_of(self, job_id: str) -> list[str]:
        placement = self.record(job_id).placement
        assert placement is not None, f"{job_id} is not placed: {self.record(job_id)}"
        return [node for node, _ in placement.workers]

    def checkpoint_bp(self, job_id: str) -> int | None:
        """The newest checkpoint's figure, as `Coordinator.progress` shows it."""
        progress = self.coordinator.progress(job_id)
        return None if progress is None else progress.checkpoint_bp

    def kinds(self, job_id: str, attempt: int | None = None) -> list[str]:
        return [
            e.kind
            for e in self.coordinator.events(job_id=job_id)
            if attempt is None or e.data.get("attempt") == attempt
        ]

    def attempt_postings(self, job_id: str) -> list[Posting]:
        """The job's reservations, settlements and releases, as the store holds them."""
        return [
            p for p in self.store.postings() if p.key.kind.of_attempt and p.key.subject == job_id
        ]

    def describe(self) -> str:
        jobs = "; ".join(
            f"{r.id} {r.state} attempt {r.attempt} on {r.placement and r.placement.nodes}"
            f" ({r.reason_code}: {r.reason})"
            for r in self.coordinator.jobs()
        )
        return f"{jobs}; pool nodes alive on Ray: {sorted(alive_pool_nodes())}"

    def check_no_accelerator_is_double_booked(self) -> None:
        """Two views, both checked against every node's size: the engine's books (attempts
        admitted or running in the store) and what runs on Ray (the executor's live attempts,
        each of which must be the attempt the store placed)."""
        sizes = {node.id: node.accelerators for node in self.pool.nodes.values()}
        booked: Counter[str] = Counter()
        for record in self.coordinator.jobs(states=HOLDING):
            assert record.placement is not None, record
            for node, count in record.placement.workers:
                booked[node] += count
        running: Counter[str] = Counter()
        for job_id, attempt in self.executor.attempts().items():
            record = self.record(job_id)
            assert record.attempt == attempt and record.placement is not None, (
                f"Ray runs {job_id} attempt {attempt}, the store has {record}"
            )
            for node, count in record.placement.workers:
                running[node] += count
        for view, counts in (("booked", booked), ("running on Ray", running)):
            over = {n: c for n, c in counts.items() if c > sizes[n]}
            assert not over, f"accelerators {view} beyond node sizes {over}: {self.describe()}"
        for node, count in running.items():
            self.peak[node] = max(self.peak[node], count)


def open_coordinator(
    store: SqliteStore,
    executor: RayExecutor,
    pool: Pool,
    programs: ProgramsConfig,
    settings: CoordinatorSettings,
) -> Coordinator:
    return Coordinator.open(
        store,
        executor,
        pool,
        resolve_policy("priority-fairshare:binpack"),
        SystemClock(),
        programs=programs,
        settings=settings,
    )


def _gba_actors() -> list[str]:
    return [
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == NAMESPACE and entry["name"].startswith("gba/job-")
    ]


def wait_for_no_attempts(within: float = WITHIN_S) -> None:
    """Until Ray lists none of the attempts' actors (killing one is asynchronous)."""
    deadline = time.monotonic() + within
    while (left := _gba_actors()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"attempt actors still listed after {within:g} s: {left}"


@pytest.fixture(scope="module")
def module_ray_nodes(ray_session: RaySession) -> dict[str, Any]:
    """Pool nodes cr-000 and cr-001, each a Ray node of its own: pool node -> Ray's node."""
    return ray_session.pool_nodes("cr-000", "cr-001")


@pytest.fixture
def ray_nodes(ray_session: RaySession, module_ray_nodes: dict[str, Any]) -> dict[str, str]:
    """Pool node -> Ray node id, for cr-000 and cr-001, both alive as the test starts."""
    ray_session.revive(module_ray_nodes)
    return {node_id: node.node_id for node_id, node in module_ray_nodes.items()}


@pytest.fixture
def deploy(ray_nodes: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """`deploy(pool, max_retries=1)`: a coordinator on a new SQLite file. Afterwards every
    attempt still on Ray is stopped, and the test waits for their actors to be gone: job ids
    (`job-1`, …) repeat from one test's store to the next, and so would the actors' names."""
    made: list[Deployment] = []

    def make(pool: Pool, *, max_retries: int = 1) -> Deployment:
        db, checkpoints = tmp_path / "scheduler.db", tmp_path / "checkpoints"
        programs = money()
        settings = CoordinatorSettings(max_retries=max_retries)
        store = SqliteStore(db)
        executor = RayExecutor(SystemClock(), checkpoints, attach=False)
        coordinator = open_coordinator(store, executor, pool, programs, settings)
        deployment = Deployment(
            db, checkpoints, pool, programs, settings, store, executor, coordinator
        )
        made.append(deployment)
        return deployment

    wait_for_no_attempts()  # what another module's tests left behind
    yield make
    for deployment in made:
        deployment.coordinator.close()
        deployment.executor.close()
        deployment.store.close()
        # A new executor finds every attempt left running, whichever executor launched it.
        sweeper = RayExecutor(SystemClock(), deployment.checkpoints)
        for job_id, attempt in sweeper.attempts().items():
            sweeper.stop(job_id, attempt, StopReason.SHUTDOWN)
        sweeper.close()
    wait_for_no_attempts()


# ---------------------------------------------------------------------- tests


def test_a_gang_runs_on_the_ray_nodes_the_engine_chose_and_its_progress_shows(
    deploy: Callable[..., Deployment], ray_nodes: dict[str, str]
) -> None:
    world = deploy(ray_pool("cr-000", "cr-001"))
    job = world.submit("short_training", workers=2, per_worker=8)

    world.until_state(job, JobState.RUNNING)
    placed = world.nodes_of(job)
    assert sorted(placed) == ["cr-000", "cr-001"]  # 2 × 8 on nodes of 8: one rank on each
    assert world.executor.ray_nodes(job) == [ray_nodes[node] for node in placed]

    seen: list[int] = []

    def progressed() -> bool:
        progress = world.coordinator.progress(job)
        if progress is not None and world.record(job).state is JobState.RUNNING:
            assert progress.attempt == 1
            seen.append(progress.progress_bp)
        return world.record(job).state.terminal

    world.until(progressed, f"{job} ended")

    record = world.record(job)
    assert record.state is JobState.SUCCEEDED, world.describe()
    assert record.attempt == 1
    assert any(0 < bp < FULL_BP for bp in seen), f"no progress seen while it ran: {seen}"
    assert seen == sorted(seen)
    final = world.coordinator.progress(job)
    assert final is not None
    assert (final.attempt, final.progress_bp, final.checkpoint_bp) == (1, FULL_BP, FULL_BP)


def test_a_preempted_job_resumes_from_its_checkpoint_to_the_weights_of_an_uninterrupted_run(
    deploy: Callable[..., Deployment],
) -> None:
    world = deploy(ray_pool("cr-000"))
    low = world.submit("short_training", priority="low")

    world.until(lambda: (world.checkpoint_bp(low) or 0) >= 2000, f"{low} checkpointed 20 %")
    saved_before = world.checkpoint_bp(low)
    # The only node is taken: a higher-priority job of the same training preempts the low one.
    high = world.submit("short_training", priority="high")
    requeued = world.until_state(low, JobState.QUEUED)
    assert requeued.reason_code == "PREEMPTED", world.describe()
    assert requeued.failures == 0
    assert not (world.checkpoints / low / "final.npz").exists(), "attempt 1 ran to its end"

    world.until_state(low, JobState.SUCCEEDED, JobState.FAILED)

    assert world.record(high).state is JobState.SUCCEEDED, world.describe()
    assert world.record(low).state is JobState.SUCCEEDED, world.describe()
    assert world.record(low).attempt == 2
    assert world.kinds(low, attempt=1)[-2:] == ["preempted", "requeued"]
    # Resumed, not restarted: attempt 2's first checkpoint is past what attempt 1 saved.
    resumed = [
        bp
        for e in world.coordinator.events(job_id=low)
        if e.kind == "checkpoint"
        and e.data.get("attempt") == 2
        and isinstance(bp := e.data.get("progress_bp"), int)
    ]
    assert saved_before is not None
    assert resumed and min(resumed) > saved_before, (saved_before, resumed)
    # `high` ran the same training from scratch without interruption.
    np.testing.assert_array_equal(
        final_weights(world.checkpoints / low), final_weights(world.checkpoints / high)
    )
    # Both of the low job's attempts were billed, once each.
    kinds = [(p.key.kind, p.key.attempt) for p in world.attempt_postings(low)]
    assert kinds == [
        (PostingKind.RESERVE, 1),
        (PostingKind.SETTLE, 1),
        (PostingKind.RESERVE, 2),
        (PostingKind.SETTLE, 2),
    ]


def test_a_worker_exception_fails_the_attempt_with_its_message_in_the_jobs_reason(
    deploy: Callable[..., Deployment],
) -> None:
    world = deploy(ray_pool("cr-000", "cr-001"), max_retries=1)
    job = world.submit("fail_on_rank_1", workers=2, per_worker=8)

    record = world.until_state(job, JobState.FAILED, JobState.SUCCEEDED)

    message = "rank 1: RuntimeError: the loss went NaN on rank 1"
    assert record.state is JobState.FAILED
    assert record.reason_code == "ATTEMPT_FAILED"
    assert record.reason == f"attempt 2 failed: {message}; no retries left (1 allowed)"
    assert record.failures == 2
    [retried] = [e for e in world.coordinator.events(job_id=job) if e.kind == "requeued"]
    assert retried.data["reason"] == f"attempt 1 failed: {message}; retry 1 of 1"
    assert world.executor.attempts() == {}


def test_a_lost_ray_node_requeues_its_job_which_finishes_elsewhere_billed_once_per_attempt(
    deploy: Callable[..., Deployment], ray_session: RaySession
) -> None:
    doomed = ray_session.add_pool_node("lost-000")
    world = deploy(ray_pool("cr-000", "lost-000"))
    # Cordoned until the job is placed, so that the engine can choose only the doomed node.
    world.coordinator.set_node_state("cr-000", NodeState.CORDONED, "test")
    job = world.submit("medium_training")
    world.until(
        lambda: world.checkpoint_bp(job) is not None,
        f"{job} checkpointed",
    )
    assert world.nodes_of(job) == ["lost-000"]
    assert world.executor.ray_nodes(job) == [doomed.node_id]
    world.coordinator.set_node_state("cr-000", NodeState.UP, "test")

    ray_session.cluster.remove_node(doomed)
    world.until(lambda: world.record(job).attempt == 2, f"{job} requeued and admitted again")

    requeued = [e for e in world.coordinator.events(job_id=job) if e.kind == "requeued"]
    assert [e.data["reason_code"] for e in requeued] == ["RETRY"], world.kinds(job)
    assert "attempt 1 lost node lost-000" in str(requeued[0].data["reason"])
    assert world.coordinator.pool.nodes["lost-000"].state is NodeState.DOWN
    record = world.until_state(job, JobState.SUCCEEDED, JobState.FAILED)
    assert record.state is JobState.SUCCEEDED, world.describe()
    assert world.nodes_of(job) == ["cr-000"]
    kinds = [(p.key.kind, p.key.attempt) for p in world.attempt_postings(job)]
    assert kinds == [
        (PostingKind.RESERVE, 1),
        (PostingKind.SETTLE, 1),
        (PostingKind.RESERVE, 2),
        (PostingKind.SETTLE, 2),
    ]
    settled = [p for p in world.attempt_postings(job) if p.key.kind is PostingKind.SETTLE]
    assert [p.usage and p.usage.nodes for p in settled] == [("lost-000",), ("cr-000",)]
    assert Ledger.replay(world.store.postings()).balances() == world.coordinator.ledger.balances()


def test_no_accelerator_is_double_booked_while_gangs_and_single_jobs_compete(
    deploy: Callable[..., Deployment],
) -> None:
    world = deploy(ray_pool("cr-000", "cr-001"))
    jobs = [
        world.submit("steady", workers=2, per_worker=4),
        world.submit("steady", per_worker=8, tenant="t2"),
        world.submit("steady", workers=2, per_worker=4, tenant="t2"),
        world.submit("steady", per_worker=8),
    ]

    # check_no_accelerator_is_double_booked runs after every tick.
    world.until(
        lambda: all(world.record(job).state.terminal for job in jobs), "every job ended", 45
    )

    assert [world.record(job).state for job in jobs] == [JobState.SUCCEEDED] * 4, world.describe()
    assert world.peak == {"cr-000": 8, "cr-001": 8}, "the nodes were never full: a weak test"


def test_a_restarted_coordinator_re_attaches_the_running_attempt_which_is_billed_once(
    deploy: Callable[..., Deployment],
) -> None:
    world = deploy(ray_pool("cr-000", "cr-001"))
    job = world.submit("medium_training")
    world.until(lambda: world.coordinator.progress(job) is not None, f"{job} reported")
    before = world.record(job)
    assert before.state is JobState.RUNNING

    world.restart()

    after = world.record(job)
    assert (after.state, after.attempt, after.started_at) == (
        JobState.RUNNING,
        1,
        before.started_at,
    )
    assert world.executor.attempts() == {job: 1}
    shown = world.coordinator.progress(job)  # read from the store: it survives the restart
    assert shown is not None and shown.attempt == 1
    record = world.until_state(job, JobState.SUCCEEDED, JobState.FAILED)
    assert record.state is JobState.SUCCEEDED, world.describe()
    assert record.attempt == 1
    assert world.kinds(job).count("started") == 1
    kinds = [(p.key.kind, p.key.attempt) for p in world.attempt_postings(job)]
    assert kinds == [(PostingKind.RESERVE, 1), (PostingKind.SETTLE, 1)]
    [settled] = [p for p in world.attempt_postings(job) if p.key.kind is PostingKind.SETTLE]
    assert record.ended_at is not None and before.started_at is not None
    assert settled.usage is not None
    assert settled.usage.accelerator_seconds == 8 * (record.ended_at - before.started_at)


def test_a_restarted_coordinator_requeues_an_attempt_that_did_not_survive(
    deploy: Callable[..., Deployment],
) -> None:
    world = deploy(ray_pool("cr-000", "cr-001"))
    job = world.submit("medium_training")
    world.until(
        lambda: world.checkpoint_bp(job) is not None,
        f"{job} checkpointed",
    )
    # The attempt dies while no coordinator runs (here: stopped by the old executor).
    world.executor.stop(job, 1, StopReason.SHUTDOWN)
    wait_for_no_attempts()

    world.restart()

    requeued = world.record(job)
    assert (requeued.state, requeued.reason_code, requeued.failures) == (
        JobState.QUEUED,
        "RECOVERED",
        0,
    )
    record = world.until_state(job, JobState.SUCCEEDED, JobState.FAILED)
    assert record.state is JobState.SUCCEEDED, world.describe()
    assert record.attempt == 2
    # Nothing proves how long the lost attempt ran: released, not billed.
    kinds = [(p.key.kind, p.key.attempt) for p in world.attempt_postings(job)]
    assert kinds == [
        (PostingKind.RESERVE, 1),
        (PostingKind.RELEASE, 1),
        (PostingKind.RESERVE, 2),
        (PostingKind.SETTLE, 2),
    ]
