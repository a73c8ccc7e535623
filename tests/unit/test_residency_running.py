"""A job's data may be processed only in its own zone or where an active approval of its tenant
allows, for as long as it runs, not only when it is placed: an attempt placed abroad by an
approval is stopped when that approval expires or is replaced by one that no longer allows the
zone, and the job waits again (not failed; billed for what it ran) for a placement the approvals
then allow."""

from __future__ import annotations

from dataclasses import replace

from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import JobState
from scheduler.domain.requests import JobRequest
from tests.builders import ASCEND, a_pool, a_tenant, an_approval
from tests.service_builders import T0, World, a_world

EXPIRES = T0 + 1000
OPS = "ops@pool"


def a_world_with_a_job_abroad() -> tuple[World, str]:
    """One Shenzhen node taken by t2's job; t1's mainland job placed in Hong Kong by approval
    `ap1` (expiring at EXPIRES) and running."""
    pool = (
        a_pool()
        .nodes(1, ASCEND, owner="sz-gov")
        .nodes(1, ASCEND, owner="hk-gov", city=City.HONG_KONG)
        .tenant(a_tenant("t1"))
        .tenant(a_tenant("t2"))
        .approval(an_approval("ap1").held_by("t1").expires_at(EXPIRES))
        .build()
    )
    world = a_world(pool)
    world.submit("t2", walltime_s=10 * 3600)  # runs 5 h on the Shenzhen node
    world.run()
    request = JobRequest(
        tenant="t1",
        workers=1,
        per_worker=8,
        walltime_s=3600,
        data_origin=Jurisdiction.MAINLAND,
        models=(ASCEND,),
        approvals=("ap1",),
    )
    [outcome] = world.coordinator.submit([request])
    world.run()
    world.run(1)
    placement = world.record(outcome.job_id).placement
    assert placement is not None and (placement.zone, placement.approval) == (
        Jurisdiction.HONG_KONG,
        "ap1",
    )
    assert world.state(outcome.job_id) is JobState.RUNNING
    return world, outcome.job_id


def test_an_attempt_abroad_is_stopped_when_its_approval_expires_and_waits_at_home() -> None:
    world, job = a_world_with_a_job_abroad()
    world.run(EXPIRES - world.clock.now() - 1)
    assert world.state(job) is JobState.RUNNING  # a second before the expiry

    world.run(1)  # the approval has expired: stopped
    assert job not in world.executor.attempts()
    world.run()  # the executor reports the stop: queued again

    record = world.record(job)
    assert record.state is JobState.QUEUED
    assert record.failures == 0  # not the job's fault: retries are not spent
    assert record.reason == (
        "attempt 1 stopped: approval ap1 no longer allows its data (mainland) in hong-kong"
    )
    world.run(60)
    assert world.state(job) is JobState.QUEUED  # home is full and abroad is closed to it
    [audit] = world.store.audit(action="placement.approval-ended")
    assert (audit.actor, audit.subject) == ("scheduler", job)
    assert audit.details == {
        "tenant": "t1",
        "attempt": 1,
        "approval": "ap1",
        "from_zone": "mainland",
        "to_zone": "hong-kong",
        "why": "expired",
    }


def test_an_approval_replaced_by_one_that_no_longer_allows_the_zone_stops_the_attempt_at_once() -> (
    None
):
    world, job = a_world_with_a_job_abroad()
    approval = world.coordinator.pool.approvals["ap1"]

    world.coordinator.put_approval(replace(approval, to_zone=Jurisdiction.MACAO), OPS)

    assert job not in world.executor.attempts()  # stopped by the put, not a tick later
    world.run()
    assert world.state(job) is JobState.QUEUED
    assert "approval ap1 no longer allows" in (world.record(job).reason or "")
    [audit] = world.store.audit(action="placement.approval-ended")
    assert audit.details["why"] == "no longer allows the zone"


def test_an_approval_extended_or_replaced_alike_keeps_the_attempt_running() -> None:
    world, job = a_world_with_a_job_abroad()
    approval = world.coordinator.pool.approvals["ap1"]

    world.coordinator.put_approval(replace(approval, expires_at=EXPIRES + 86_400), OPS)
    world.run(EXPIRES - world.clock.now() + 10)

    assert world.state(job) is JobState.RUNNING
    assert world.executor.attempts()[job] == 1


def test_a_coordinator_restarted_after_the_expiry_stops_the_attempt_it_finds_abroad() -> None:
    world, job = a_world_with_a_job_abroad()
    survivor = world.executor  # the attempt outlives the coordinator (as Ray's detached actors)
    world.coordinator.close()
    world.clock.advance(EXPIRES - world.clock.now() + 60)

    world.restart(executor=survivor)
    assert world.state(job) is JobState.RUNNING  # recovered as running, re-attached
    world.run()
    world.run()

    assert world.state(job) is JobState.QUEUED
    assert "approval ap1 no longer allows" in (world.record(job).reason or "")
