"""What cycles keep from one to the next (intake's plans, strict FIFO's blocked run) decides
exactly what a cycle working everything out afresh decides."""

from __future__ import annotations

from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import Job
from scheduler.engine.cycle import run_cycle
from scheduler.engine.decisions import PendingReasons
from scheduler.engine.reasons import Reason, ReasonCode
from scheduler.engine.snapshot import Snapshot
from scheduler.engine.state import ClusterState
from scheduler.policy.registry import resolve_policy
from tests.builders import ASCEND, H800, a_job, a_pool, an_approval

FIFO = resolve_policy("fifo")
EXPIRES = 1_000

# Ascend in the mainland only; a Hong Kong tenant may send its data there until EXPIRES.
POOL = (
    a_pool()
    .nodes(2, ASCEND, prefix="n")
    .nodes(1, H800, city=City.HONG_KONG, prefix="h")
    .approval(
        an_approval("hk-out")
        .out_of(Jurisdiction.HONG_KONG)
        .into(Jurisdiction.MAINLAND)
        .expires_at(EXPIRES)
    )
    .build()
)


def jobs() -> list[Job]:
    return [
        a_job("head").gang(3, H800, 8).origin(Jurisdiction.HONG_KONG).seq(1).build(),
        a_job("hk-h800").gang(1, H800, 8).origin(Jurisdiction.HONG_KONG).seq(2).build(),
        a_job("via")
        .gang(1, ASCEND, 8)
        .origin(Jurisdiction.HONG_KONG)
        .approvals("hk-out")
        .seq(3)
        .build(),
    ]


def scratch(state: ClusterState) -> Snapshot:
    return Snapshot.build(
        state.pool, running=state.running.values(), pending=state.pending.values()
    )


def test_a_job_feasible_only_through_an_approval_is_rejected_once_it_expires() -> None:
    state = ClusterState(POOL)
    head = a_job("busy").gang(1, H800, 8).origin(Jurisdiction.HONG_KONG).seq(0).build()
    state.submit(head)
    state.apply(run_cycle(state.snapshot(), FIFO, 0), 0)  # the one H800 node is taken
    for job in jobs():
        state.submit(job)
    before = run_cycle(state.snapshot(), FIFO, EXPIRES - 1)
    # "head" can never fit (3 nodes of H800, there is one): rejected; "hk-h800" waits for the
    # H800 node and blocks "via", which may still use the approval
    assert before.rejected["head"].code is ReasonCode.GANG_TOO_LARGE
    assert before.pending["hk-h800"].code is ReasonCode.NO_CAPACITY
    assert before.pending["via"].code is ReasonCode.BLOCKED_BY_HEAD
    assert before == run_cycle(scratch(state), FIFO, EXPIRES - 1)
    state.apply(before, EXPIRES - 1)
    after = run_cycle(state.snapshot(), FIFO, EXPIRES)
    assert after.rejected["via"].code is ReasonCode.RESIDENCY
    assert after.pending["hk-h800"].code is ReasonCode.NO_CAPACITY
    assert after == run_cycle(scratch(state), FIFO, EXPIRES)


def test_jobs_behind_a_blocked_head_are_one_run_that_reads_as_a_mapping() -> None:
    state = ClusterState(POOL)
    state.submit(a_job("busy").gang(2, ASCEND, 8).seq(0).build())
    state.apply(run_cycle(state.snapshot(), FIFO, 0), 0)
    for i in range(1, 5):
        state.submit(a_job(f"j{i}").gang(1, ASCEND, 8).seq(i).build())
    result = run_cycle(state.snapshot(), FIFO, 1)
    pending = result.pending
    assert isinstance(pending, PendingReasons)
    assert list(pending.explicit) == ["j1"]
    assert [job.id for job in pending.blocked] == ["j2", "j3", "j4"]
    assert list(pending) == ["j1", "j2", "j3", "j4"]
    assert len(pending) == 4
    blocked = Reason(ReasonCode.BLOCKED_BY_HEAD, "waits behind job j1")
    assert pending["j3"] == blocked and "j4" in pending and "busy" not in pending
    assert pending.get("nope") is None
    assert dict(pending) == {
        "j1": pending["j1"],
        "j2": blocked,
        "j3": blocked,
        "j4": blocked,
    }
    assert result == run_cycle(scratch(state), FIFO, 1)
    assert result.considered == 4
