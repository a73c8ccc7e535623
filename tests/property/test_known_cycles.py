"""A cycle whose outcome the coordinator takes without running it (`_known_result`: nothing
waits, under any policy; or, under strict FIFO, only new jobs behind a blocked head) decides
exactly what running it would: two coordinators over the same random lives of jobs, one that
skips such cycles and one that runs every cycle, agree after every tick on the tick's report,
every stored record, the whole event log, the stored fair-share usage and every waiting job's
pending reason."""

from __future__ import annotations

from contextlib import suppress

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scheduler.domain.clock import ManualClock
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, JobState
from scheduler.domain.requests import JobRequest
from scheduler.executor.fake import FakeExecutor
from scheduler.service.coordinator import Coordinator
from scheduler.service.errors import JobAlreadyEnded
from scheduler.service.settings import CoordinatorSettings
from scheduler.store.memory import MemoryStore
from tests.builders import ASCEND
from tests.service_builders import T0, open_coordinator, small_pool

REQUEST = st.builds(
    JobRequest,
    tenant=st.sampled_from(("t1", "t2")),
    workers=st.integers(1, 2),
    per_worker=st.sampled_from((1, 4, 8, 8, 8, 16)),  # 16: more than a node has (rejected)
    walltime_s=st.integers(60, 3600),
    data_origin=st.just(Jurisdiction.MAINLAND),
    models=st.just((ASCEND,)),
    priority_class=st.sampled_from(("low", "standard", "standard", "standard", "high")),
    preemptible=st.booleans(),
)
STEP = st.one_of(
    st.tuples(st.just("submit"), st.lists(REQUEST, min_size=1, max_size=3), st.booleans()),
    st.tuples(st.just("submit"), st.lists(REQUEST, min_size=1, max_size=2), st.just(True)),
    st.tuples(st.just("submit"), st.lists(REQUEST, min_size=1, max_size=2), st.just(True)),
    st.tuples(st.just("advance"), st.integers(0, 30), st.just(True)),
    st.tuples(st.just("advance"), st.integers(0, 1800), st.booleans()),
    st.tuples(st.just("cancel"), st.integers(0, 99), st.booleans()),
)


def runtime(job: Job) -> int:
    return 600 + (job.seq * 37) % 3000


class Side:
    def __init__(self, skip: bool, nodes: int, policy: str) -> None:
        self.clock = ManualClock(T0)
        self.store = MemoryStore()
        executor = FakeExecutor(self.clock, runtime)
        # Gangs too big for the pool are stored, as a trace replay stores them, so that known
        # cycles are checked against the cycles that reject them too.
        settings_ = CoordinatorSettings(
            max_retries=1, idle_cycle_interval_s=3600, refuse_oversize=False
        )
        self.coordinator: Coordinator = open_coordinator(
            self.store, executor, small_pool(nodes), self.clock, None, settings_, policy
        )
        self.coordinator.skip_known_cycles = skip
        self.skipped = 0

    def tick(self) -> tuple[object, ...]:
        report = self.coordinator.tick()
        if report.cycled and report.cycle_ms == 0.0 and self.coordinator.skip_known_cycles:
            self.skipped += 1
        return (
            report.at,
            report.executor_events,
            report.admitted,
            report.preempted,
            report.rejected,
            report.pending,
            report.running,
            report.cycled,
        )

    def seen(self) -> tuple[object, ...]:
        c = self.coordinator
        records = c.jobs(limit=10_000)
        reasons = {r.id: c.pending_reason(r.id) for r in records if r.state is JobState.QUEUED}
        return (records, c.events(0, limit=100_000), self.store.fair_share(), reasons)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    nodes=st.integers(1, 2),
    policy=st.sampled_from(
        (
            "fifo:binpack",
            "fifo:binpack",
            "fifo:spread",
            "priority-fairshare:binpack",
            "backfill:binpack",
            "las:binpack",
        )
    ),
    steps=st.lists(STEP, min_size=1, max_size=40),
)
def test_a_known_cycle_decides_what_running_it_would(
    nodes: int, policy: str, steps: list[tuple[str, object, bool]]
) -> None:
    fast, slow = Side(True, nodes, policy), Side(False, nodes, policy)
    ids: list[str] = []
    for kind, arg, flag in steps:
        for side in (fast, slow):
            if kind == "submit":
                assert isinstance(arg, list)
                outcomes = side.coordinator.submit(arg)
                if side is fast:
                    ids.extend(o.job_id for o in outcomes)
            elif kind == "advance":
                assert isinstance(arg, int)
                side.clock.advance(arg)
            elif ids:
                assert isinstance(arg, int)
                job_id = ids[arg % len(ids)]
                with suppress(JobAlreadyEnded):  # on both sides alike
                    side.coordinator.cancel(job_id, "someone")
        if kind != "submit" or flag:
            assert fast.tick() == slow.tick()
            assert fast.seen() == slow.seen()
    for _ in range(3):  # and time runs on
        for side in (fast, slow):
            side.clock.advance(1800)
        assert fast.tick() == slow.tick()
        assert fast.seen() == slow.seen()
    event(f"cycles taken as known: {min(fast.skipped, 3)}{'+' if fast.skipped > 3 else ''}")


def _request(per_worker: int) -> JobRequest:
    return JobRequest(
        tenant="t1",
        workers=1,
        per_worker=per_worker,
        walltime_s=3600,
        data_origin=Jurisdiction.MAINLAND,
        models=(ASCEND,),
        priority_class="standard",
        preemptible=False,
    )


def test_new_jobs_behind_a_blocked_head_are_decided_without_a_cycle() -> None:
    fast, slow = Side(True, 1, "fifo:binpack"), Side(False, 1, "fifo:binpack")
    # 16 is rejected: that tick and the next cycle in full (no run was blocked)
    for batch in ([4], [8, 1], [1], [1, 16], [1], [1]):
        for side in (fast, slow):
            side.coordinator.submit([_request(p) for p in batch])
        assert fast.tick() == slow.tick()
        assert fast.seen() == slow.seen()
    assert fast.skipped == 2  # the third and the sixth batch
    reason = fast.coordinator.pending_reason("job-7")
    assert reason is not None and reason.message == "waits behind job job-1"
