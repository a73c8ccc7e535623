"""The coordinator's life of a job, told with a manual clock, the memory store and the fake
executor: submit, admit, run, finish; retries; preemption; cancel; walltime; recovery."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from scheduler.domain.clock import Clock
from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, JobState
from scheduler.domain.nodes import NodeState
from scheduler.domain.requests import JobRequest
from scheduler.executor.base import ExecutorEvent, StopReason
from scheduler.executor.fake import FakeExecutor
from scheduler.ledger.book import AccountKind, Ledger
from scheduler.ledger.config import ProgramsConfig
from scheduler.ledger.flows import open_attempts
from scheduler.service.errors import CoordinatorStopped, JobAlreadyEnded
from scheduler.store.errors import UnknownJob, UnknownNode
from scheduler.store.memory import MemoryStore
from tests.builders import ASCEND, a_program
from tests.service_builders import a_world, money, small_pool

QUEUED, ADMITTED, RUNNING = JobState.QUEUED, JobState.ADMITTED, JobState.RUNNING
SUCCEEDED, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
PREEMPTED, REJECTED = JobState.PREEMPTED, JobState.REJECTED


def ledger_is_sound(world_ledger: Ledger, stored: Ledger) -> None:
    assert world_ledger.check() == []
    assert stored.balances() == world_ledger.balances()


# ---------------------------------------------------------------------- submitting


def test_a_submission_is_stored_before_it_is_acknowledged_and_before_any_cycle() -> None:
    world = a_world()

    job = world.submit()

    stored = world.store.job(job)
    assert stored is not None and stored.state is QUEUED
    assert world.kinds(job) == ["submitted"]


def test_the_same_client_key_returns_the_first_job_and_stores_nothing_more() -> None:
    world = a_world()

    first = world.submit(client_key="k-1")
    again = world.submit(client_key="k-1")
    other_tenant = world.submit("t2", client_key="k-1")

    assert again == first
    assert other_tenant != first
    assert len(world.store.jobs(limit=10)) == 2


def test_a_bad_request_in_a_batch_names_its_index_and_field_and_stores_nothing() -> None:
    world = a_world()
    good = JobRequest("t1", 1, 8, 3600, Jurisdiction.MAINLAND, models=(ASCEND,))
    unknown_model = replace(good, models=("tpu-v5",))

    with pytest.raises(UnknownReference) as raised:
        world.coordinator.submit([good, unknown_model])

    assert raised.value.field == "requests[1].models[0]"
    assert world.store.jobs(limit=10) == []

    # and it took no job number: the next jobs are numbered as if it had never come
    outcomes = world.coordinator.submit([good, good])
    assert [o.job_id for o in outcomes] == ["job-0", "job-1"]


GOOD = JobRequest("t1", 1, 8, 3600, Jurisdiction.MAINLAND, models=(ASCEND,))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tenant": "nobody"}, "requests[0].tenant"),
        ({"workers": 0}, "requests[0].gang.workers"),
        ({"walltime_s": -5}, "requests[0].job.walltime_s"),
        ({"priority_class": "urgent"}, "requests[0].priority_class"),
        ({"approvals": ("none",)}, "requests[0].approvals[0]"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    world = a_world()
    request = replace(
        JobRequest("t1", 1, 8, 3600, Jurisdiction.MAINLAND, models=(ASCEND,)), **change
    )

    with pytest.raises(InvalidField) as raised:
        world.coordinator.submit([request])

    assert raised.value.field == field
    assert world.store.jobs(limit=10) == []
    [outcome] = world.coordinator.submit(
        [replace(request, **{k: getattr(GOOD, k) for k in change})]
    )
    assert outcome.job_id == "job-0", "a refused request takes no job number"


def test_job_numbers_continue_after_a_restart() -> None:
    world = a_world()
    first = world.submit()

    world.restart()
    second = world.submit()

    assert second != first
    assert world.record(second).job.seq > world.record(first).job.seq


# ---------------------------------------------------------------------- a life


def test_a_job_is_admitted_started_and_finished_and_billed_once_with_the_subsidy() -> None:
    world = a_world(programs=money())
    job = world.submit(walltime_s=3600)  # runs 1800 s: half its walltime

    world.run()
    assert world.state(job) is ADMITTED
    reserved = world.balance(AccountKind.PROGRAM_RESERVED, "sz-voucher")
    assert reserved > 0
    world.run(1)
    assert world.state(job) is RUNNING
    world.run(1800)

    record = world.record(job)
    assert record.state is SUCCEEDED
    assert record.ended_at == record.started_at + 1800 if record.started_at else False
    assert world.kinds(job) == [
        "submitted",
        "admitted",
        "started",
        "progress",
        "progress",
        "progress",
        "succeeded",
    ]
    # 8 accelerators × 1800 s at 1000 fen/h = 4000 fen; the program pays half.
    assert world.balance(AccountKind.PROGRAM_PAID, "sz-voucher") == 2000
    assert world.balance(AccountKind.TENANT_SPENT, "t1") == 2000
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 4000
    assert world.balance(AccountKind.PROGRAM_RESERVED, "sz-voucher") == 0
    ledger_is_sound(world.coordinator.ledger, Ledger.replay(world.store.postings()))


def test_a_gang_the_whole_pool_could_never_hold_is_refused_naming_the_field() -> None:
    world = a_world()
    fits = world.submit()  # one that fits goes through

    for too_big, field, message in (
        (
            {"workers": 3},
            "workers",
            "the pool's 2 nodes of huawei-ascend-910b hold at most 2 such workers",
        ),
        ({"per_worker": 9}, "per_worker", "the largest node of huawei-ascend-910b has 8"),
        ({"models": ("nvidia-h20",)}, "models", "the pool has no node of nvidia-h20"),
    ):
        with pytest.raises(InvalidField) as refused:
            world.submit(**too_big)
        assert refused.value.field == f"requests[0].{field}"
        assert message in refused.value.message

    assert [record.id for record in world.coordinator.jobs()] == [fits]
    assert [e.kind for e in world.coordinator.events()] == ["submitted"]


def test_with_refusal_off_a_job_that_can_never_fit_is_rejected_by_its_cycle_with_its_reason() -> (
    None
):
    world = a_world(refuse_oversize=False)  # as a trace replay runs
    job = world.submit(workers=3)  # three 8-accelerator workers; the pool has two nodes

    world.run()

    record = world.record(job)
    assert record.state is REJECTED
    assert record.reason_code == "GANG_TOO_LARGE"
    assert world.kinds(job)[-1] == "rejected"


def test_a_waiting_job_has_a_pending_reason_that_is_not_written_to_the_store() -> None:
    world = a_world(small_pool(nodes=1))
    world.submit()
    waiting = world.submit()

    world.run()

    reason = world.coordinator.pending_reason(waiting)
    assert reason is not None and reason.code == "NO_CAPACITY"
    assert world.state(waiting) is QUEUED


def test_under_fifo_the_jobs_behind_a_blocked_head_say_so_until_they_leave_the_queue() -> None:
    world = a_world(small_pool(nodes=1), policy="fifo")
    first = world.submit()
    head, behind, last = world.submit(), world.submit(), world.submit()

    world.run()

    assert world.state(first) is ADMITTED
    assert world.coordinator.pending_reason(first) is None
    reason = world.coordinator.pending_reason(head)
    assert reason is not None and reason.code == "NO_CAPACITY"
    for job in (behind, last):
        reason = world.coordinator.pending_reason(job)
        assert reason is not None and reason.code == "BLOCKED_BY_HEAD"
        assert reason.message == f"waits behind job {head}"
    world.coordinator.cancel(behind, "t1")
    assert world.coordinator.pending_reason(behind) is None
    world.run(1800)  # the first job ends (half its walltime); the head starts
    world.run()
    assert world.state(head) in (ADMITTED, RUNNING)
    assert world.coordinator.pending_reason(head) is None
    reason = world.coordinator.pending_reason(last)
    assert reason is not None and reason.code == "NO_CAPACITY"


# ---------------------------------------------------------------------- failures


def test_a_failed_attempt_is_retried_up_to_the_limit_then_the_job_fails() -> None:
    world = a_world(max_retries=2, programs=money())
    job = world.submit()
    for attempt in (1, 2, 3):
        world.run()
        world.run(1)
        assert world.record(job).attempt == attempt
        world.executor.fail(job, f"CUDA error {attempt}")
        world.run()

    record = world.record(job)
    assert record.state is FAILED
    assert record.failures == 3
    assert record.reason_code == "ATTEMPT_FAILED"
    assert "CUDA error 3" in (record.reason or "")
    assert world.kinds(job).count("requeued") == 2
    assert open_attempts(world.coordinator.ledger) == set()
    ledger_is_sound(world.coordinator.ledger, Ledger.replay(world.store.postings()))


def test_a_lost_node_requeues_the_job_and_takes_the_node_out_of_service() -> None:
    world = a_world()
    job = world.submit()
    world.run()
    node = world.nodes_of(job)[0]
    world.run(10)

    world.executor.lose_node(node)
    world.run()

    assert [n.state for n in world.store.nodes() if n.id == node] == [NodeState.DOWN]
    assert world.store.audit(action="node.state")[-1].actor == "scheduler"
    record = world.record(job)
    assert record.failures == 1
    # It ran again at once, elsewhere.
    assert record.state is ADMITTED
    assert record.attempt == 2
    assert node not in world.nodes_of(job)


# ---------------------------------------------------------------------- preemption


def test_a_preempted_job_waits_for_its_stop_then_is_queued_again_and_billed_for_its_run() -> None:
    world = a_world(small_pool(nodes=1), programs=money())
    low = world.submit(priority="low", walltime_s=36_000)
    world.run()
    world.run(600)
    assert world.state(low) is RUNNING

    high = world.submit(priority="high")
    world.run()

    assert world.state(high) is ADMITTED
    assert world.state(low) is PREEMPTED  # stop asked; not queued before the executor confirms
    world.run()
    low_record = world.record(low)
    assert low_record.state is QUEUED
    assert low_record.reason_code == "PREEMPTED"
    assert low_record.failures == 0
    kinds = world.kinds(low)
    assert kinds[kinds.index("preempted") + 1] == "requeued"
    # Attempt 1 paid for its 600 s: 8 × 600 s at 1000 fen/h = 1333 fen.
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 1333

    world.run(3600)  # the high job ends; the low one comes back as attempt 2
    world.run()
    assert world.record(low).attempt == 2


# ---------------------------------------------------------------------- cancelling


def test_cancelling_a_queued_job_takes_it_out_of_the_queue() -> None:
    world = a_world(small_pool(nodes=1))
    world.submit()
    waiting = world.submit()

    record = world.coordinator.cancel(waiting, actor="t1")
    world.run()

    assert record.state is CANCELLED
    assert world.state(waiting) is CANCELLED
    assert world.kinds(waiting) == ["submitted", "cancelled"]


def test_cancelling_a_running_job_stops_it_and_bills_the_time_it_ran() -> None:
    world = a_world(programs=money())
    job = world.submit()
    world.run()
    world.run(900)

    world.coordinator.cancel(job, actor="t1")
    world.run(5)

    assert world.state(job) is CANCELLED
    assert world.executor.attempts() == {}
    # 8 × 900 s at 1000 fen/h, billed once even though the executor reported the stop after.
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 2000
    assert open_attempts(world.coordinator.ledger) == set()


def test_cancel_is_idempotent_and_refuses_jobs_that_ended_otherwise() -> None:
    world = a_world()
    cancelled = world.submit()
    finished = world.submit()
    world.coordinator.cancel(cancelled, actor="t1")
    world.run()
    world.run(1)
    world.run(3600)

    assert world.coordinator.cancel(cancelled, actor="t1").state is CANCELLED
    with pytest.raises(JobAlreadyEnded, match="succeeded"):
        world.coordinator.cancel(finished, actor="t1")
    with pytest.raises(UnknownJob):
        world.coordinator.cancel("job-404", actor="t1")


# ---------------------------------------------------------------------- walltime


def test_a_job_that_outruns_its_walltime_is_stopped_and_fails() -> None:
    world = a_world(programs=money())
    job = world.submit(walltime_s=600)
    world.run()
    world.run(1)
    world.executor.hang(job)

    world.run(600)  # the tick that sees the walltime asks for the stop
    world.run()  # and the next one reads it

    record = world.record(job)
    assert record.state is FAILED
    assert record.reason_code == "WALLTIME"
    # Billed for its walltime: 8 × 600 s at 1000 fen/h.
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 1333


# ---------------------------------------------------------------------- recovery


def test_after_a_restart_attempts_the_executor_still_runs_are_reattached() -> None:
    world = a_world(programs=money())
    job = world.submit()
    world.run()
    world.run(1)
    executor = world.executor

    world.restart(executor)  # the same executor: its attempts lived on
    world.run(1800)

    record = world.record(job)
    assert record.state is SUCCEEDED
    assert record.attempt == 1
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 4000


def test_after_a_restart_lost_attempts_are_requeued_and_their_reservations_released() -> None:
    world = a_world(programs=money())
    job = world.submit()
    world.run()
    world.run(100)
    assert world.balance(AccountKind.PROGRAM_RESERVED, "sz-voucher") > 0

    world.restart()  # a new executor knows nothing of attempt 1

    record = world.record(job)
    assert record.state is QUEUED
    assert record.reason_code == "RECOVERED"
    assert record.failures == 0
    assert world.balance(AccountKind.PROGRAM_RESERVED, "sz-voucher") == 0
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 0
    world.run()
    world.run(1)
    world.run(1800)
    assert world.state(job) is SUCCEEDED
    assert world.record(job).attempt == 2
    ledger_is_sound(world.coordinator.ledger, Ledger.replay(world.store.postings()))


def test_after_a_restart_an_attempt_nobody_holds_is_stopped() -> None:
    world = a_world()
    job = world.submit()
    world.run()
    executor = world.executor
    world.coordinator.close()
    # Behind the coordinator's back, the job's record is lost (a store restored from backup).
    store = MemoryStore()
    world.store = store

    world.restart(executor)

    assert executor.attempts() == {}
    [stopped] = [e for e in executor.poll() if e.job_id == job and e.reason]
    assert stopped.reason is StopReason.ORPHANED


# ---------------------------------------------------------------------- threads


class StuckExecutor(FakeExecutor):
    """A fake executor whose `poll` blocks until released: a tick that takes its time."""

    def __init__(self, clock: Clock, runtime: Callable[[Job], int]) -> None:
        super().__init__(clock, runtime)
        self.inside = threading.Event()
        self.release = threading.Event()
        self.stuck = False

    def poll(self) -> list[ExecutorEvent]:
        if self.stuck:
            self.inside.set()
            assert self.release.wait(30), "the test never released the poll"
        return super().poll()


def test_submissions_are_acknowledged_while_a_tick_is_busy() -> None:
    world = a_world()
    executor = StuckExecutor(world.clock, world.runtime)
    world.restart(executor)
    world.coordinator.start()
    try:
        executor.stuck = True
        world.coordinator.wake()
        assert executor.inside.wait(10)

        jobs = [world.submit(client_key=f"k{i}") for i in range(20)]

        assert all(world.store.job(job) is not None for job in jobs)
    finally:
        executor.release.set()
        world.coordinator.close()


def test_a_closed_coordinator_takes_no_more_work() -> None:
    world = a_world()
    world.coordinator.close()

    with pytest.raises(CoordinatorStopped):
        world.submit()
    with pytest.raises(CoordinatorStopped):
        world.run()


def test_a_tick_runs_a_cycle_only_when_something_it_would_see_changed() -> None:
    world = a_world()
    world.submit()

    assert world.coordinator.tick().cycled  # a new job
    assert not world.coordinator.tick().cycled  # nothing new
    world.run(1)  # the attempt started: no capacity moved
    assert world.coordinator.last_tick is not None and not world.coordinator.last_tick.cycled
    world.clock.advance(world.settings.idle_cycle_interval_s)
    assert world.coordinator.tick().cycled  # time alone, now and then
    world.run(1800)  # the job finished: capacity came back
    assert world.coordinator.last_tick.cycled


def test_fair_share_history_survives_a_restart() -> None:
    world = a_world()
    world.submit()
    world.run()
    world.run(1)
    world.run(900)  # a job finished: its use is history now
    world.clock.advance(world.settings.idle_cycle_interval_s)
    world.coordinator.tick()
    before = dict(world.coordinator.state.usage)
    assert before.get("t1", 0) > 0

    world.restart()

    assert world.coordinator.state.usage == before


# ---------------------------------------------------------------------- operating nodes


def test_a_cordoned_node_keeps_its_work_and_takes_no_more_until_it_is_up_again() -> None:
    world = a_world(small_pool(nodes=1))
    running = world.submit(per_worker=4)  # half the node: room is left
    world.run()
    node = world.store.nodes()[0].id

    world.coordinator.set_node_state(node, NodeState.CORDONED, actor="ops@pool")
    waiting = world.submit(per_worker=1)
    world.run(1)

    assert world.state(running) is RUNNING
    assert world.state(waiting) is QUEUED
    assert world.store.audit(action="node.state")[-1].actor == "ops@pool"
    world.coordinator.set_node_state(node, NodeState.UP, actor="ops@pool")
    world.run()
    assert world.state(waiting) is ADMITTED


def test_taking_a_node_down_requeues_its_work_without_counting_a_failure() -> None:
    world = a_world(programs=money())
    job = world.submit()
    world.run()
    world.run(60)
    node = world.nodes_of(job)[0]

    world.coordinator.set_node_state(node, NodeState.DOWN, actor="ops@pool")
    world.run()

    record = world.record(job)
    assert record.failures == 0
    assert record.attempt == 2  # queued again and admitted elsewhere at once
    assert node not in world.nodes_of(job)
    assert "requeued" in world.kinds(job)
    # Attempt 1 was billed for its 60 s: 8 × 60 s at 1000 fen/h.
    assert world.balance(AccountKind.OWNER_RECEIVABLE, "sz-gov") == 133


def test_an_unknown_node_is_refused() -> None:
    world = a_world()

    with pytest.raises(UnknownNode):
        world.coordinator.set_node_state("nowhere", NodeState.DOWN, actor="ops@pool")


def test_a_job_may_ask_only_programs_that_exist_and_pay_for_its_tenant() -> None:
    program = a_program("t2-only").rate(5000).for_tenants("t2").build()
    world = a_world(programs=ProgramsConfig({program.id: program}, {}))

    with pytest.raises(UnknownReference) as unknown:
        world.submit("t1", programs=("no-such-program",))
    with pytest.raises(InvalidField) as not_eligible:
        world.submit("t1", programs=("t2-only",))

    assert unknown.value.field == "requests[0].programs[0]"
    assert not_eligible.value.field == "requests[0].programs[0]"
    assert "not eligible" in not_eligible.value.message
    assert world.store.jobs() == []
    assert world.coordinator.job(world.submit("t2", programs=("t2-only",))).job.programs == (
        "t2-only",
    )


def test_a_saturated_pool_cycles_new_arrivals_once_a_clock_second_and_freed_room_at_once() -> None:
    world = a_world(small_pool(nodes=1), runtime=lambda job: 1800)
    world.coordinator.settings = replace(world.settings, arrival_cycle_interval_s=1)
    world.submit()
    world.run()  # the one node is full
    waiting = world.submit()
    world.run()  # this cycle admits nothing: the pool is saturated

    world.submit()
    world.run()  # the same second, only a new job: no cycle yet
    assert world.coordinator.last_tick is not None
    assert not world.coordinator.last_tick.cycled
    world.run(1)
    assert world.coordinator.last_tick.cycled  # a clock second later it is looked at

    world.run(1800)  # the first job ends: room, a cycle at once
    assert world.coordinator.last_tick.cycled
    assert world.state(waiting) is ADMITTED


def test_start_tunes_the_garbage_collector_only_when_told() -> None:
    threshold = gc.get_threshold()
    frozen = gc.get_freeze_count()
    world = a_world()
    try:
        world.coordinator.start()  # default settings: the collector is left as it was
        assert gc.get_threshold() == threshold
        assert gc.get_freeze_count() == frozen
        world.settings = replace(world.settings, gc_young_threshold=12_345, gc_freeze=True)
        world.restart().start()
        assert gc.get_threshold() == (12_345, *threshold[1:])
        assert gc.get_freeze_count() > frozen  # the recovered state is out of the collector's way
        assert world.state(world.submit()) is JobState.QUEUED  # and still serves
    finally:
        world.coordinator.close()
        gc.set_threshold(*threshold)
        gc.unfreeze()
