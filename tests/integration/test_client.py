"""`scheduler.api.client.SchedulerClient` against a real server on loopback (a coordinator on a
SQLite file, the fake executor on a manual clock): submit, follow, page, cancel, watch; every
refusal is one `ApiError` with the status name and the server's message naming the field."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from scheduler.api.client import ApiError, EventView, JobSpec, SchedulerClient, Submission
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import JobState
from tests.api_builders import (
    OPERATOR_TOKEN,
    Served,
    a_token_book,
    free_port,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND
from tests.service_builders import World

SPEC = JobSpec(workers=1, per_worker=8, walltime_s=3600, models=(ASCEND,))
T2_SPEC = replace(SPEC, priority_class="low")  # t2 may use only "low"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "client.db")


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1", "t2"))


@pytest.fixture
def t1(api: Served) -> Iterator[SchedulerClient]:
    with SchedulerClient(api.address, tenant_token("t1")) as client:
        yield client


@pytest.fixture
def ops(api: Served) -> Iterator[SchedulerClient]:
    with SchedulerClient(api.address, OPERATOR_TOKEN) as client:
        yield client


def refused(call: object, *args: object, **kwargs: object) -> ApiError:
    assert callable(call)
    with pytest.raises(ApiError) as raised:
        call(*args, **kwargs)
    return raised.value


# ---------------------------------------------------------------------- a job's life


def test_a_job_is_submitted_followed_and_finished(t1: SchedulerClient, world: World) -> None:
    result = t1.submit(SPEC, client_key="k1")
    assert result.created

    queued = t1.job(result.job_id)
    assert (queued.id, queued.tenant, queued.state) == (result.job_id, "t1", JobState.QUEUED)
    assert (queued.client_key, queued.workers, queued.per_worker) == ("k1", 1, 8)
    assert queued.placement is None and queued.placement_summary == ""
    assert queued.started_at is None and queued.ended_at is None

    world.run()
    world.run(1)
    running = t1.job(result.job_id)
    assert (running.state, running.attempt) == (JobState.RUNNING, 1)
    assert running.placement is not None
    assert running.placement.model == ASCEND
    assert running.placement.zone is Jurisdiction.MAINLAND
    assert [n for _, n in running.placement.workers] == [8]
    assert running.placement_summary.startswith(f"1x8 {ASCEND} in mainland on ")

    world.run(1800)
    done = t1.job(result.job_id)
    assert done.state is JobState.SUCCEEDED
    assert running.started_at is not None
    assert done.ended_at == running.started_at + 1800


def test_a_waiting_job_says_why(t1: SchedulerClient, world: World) -> None:
    t1.submit(SPEC)
    waiting = t1.submit(SPEC).job_id
    world.run()

    job = t1.job(waiting)

    assert job.state is JobState.QUEUED
    assert job.reason_code == "NO_CAPACITY"
    assert job.reason


def test_the_same_key_gives_the_same_job(t1: SchedulerClient) -> None:
    first = t1.submit(SPEC, client_key="nightly")
    again = t1.submit(SPEC, client_key="nightly")

    assert (again.job_id, again.created) == (first.job_id, False)


def test_a_batch_comes_back_in_order(ops: SchedulerClient) -> None:
    results = ops.submit_many([Submission(SPEC, tenant="t1", client_key=f"b{i}") for i in range(3)])

    listed = list(ops.jobs())
    assert [r.job_id for r in results] == [j.id for j in listed]
    assert [j.client_key for j in listed] == ["b0", "b1", "b2"]


def test_listing_follows_every_page_and_filters(
    t1: SchedulerClient, ops: SchedulerClient, world: World
) -> None:
    ids = [t1.submit(SPEC, client_key=f"p{i}").job_id for i in range(5)]
    ops.submit(T2_SPEC, tenant="t2", client_key="theirs")
    world.run()
    world.run(1)

    assert [j.id for j in t1.jobs(page_size=2)] == ids  # 3 pages, t1's jobs only
    assert [j.id for j in t1.jobs(states=[JobState.RUNNING])] == ids[:1]
    assert [j.tenant for j in ops.jobs(tenant="t2")] == ["t2"]
    assert len(list(ops.jobs(page_size=1))) == 6


def test_cancel_returns_the_cancelled_job(t1: SchedulerClient, world: World) -> None:
    finished = t1.submit(SPEC).job_id
    queued = t1.submit(SPEC).job_id
    world.run()

    cancelled = t1.cancel(queued)
    world.run(1)
    world.run(1800)
    error = refused(t1.cancel, finished)

    assert cancelled.state is JobState.CANCELLED
    assert t1.job(queued).state is JobState.CANCELLED
    assert error.code == "FAILED_PRECONDITION"
    assert "succeeded" in error.details


# ---------------------------------------------------------------------- watching


def test_watch_sees_a_job_live_and_resumes_with_no_gap(t1: SchedulerClient, world: World) -> None:
    job = t1.submit(SPEC, client_key="w1").job_id
    first: list[EventView] = []
    events = t1.watch(job_id=job)

    def read_until_started() -> None:
        for event in events:
            first.append(event)
            if event.kind == "started":
                return

    reader = threading.Thread(target=read_until_started)
    reader.start()
    world.run()
    world.run(1)
    reader.join(30)
    events.close()  # hang up mid-run

    world.run(1800)
    rest: list[EventView] = []
    for event in t1.watch(after_seq=first[-1].seq, job_id=job):
        rest.append(event)
        if event.kind == "succeeded":
            break

    kinds = [e.kind for e in first + rest]
    assert kinds[:3] == ["submitted", "admitted", "started"]
    assert kinds[-1] == "succeeded"
    assert [e.seq for e in first + rest] == [e.seq for e in world.store.events(job_id=job)]
    assert {(e.job_id, e.tenant) for e in first} == {(job, "t1")}
    admitted = first[1].data
    assert admitted["attempt"] == 1 and isinstance(admitted["attempt"], int)
    assert admitted["workers"][0][1] == 8


def test_watch_filters_by_job_set_and_ends_at_its_deadline(ops: SchedulerClient) -> None:
    in_set = {
        ops.submit(SPEC, tenant="t1", client_key="sweep/a").job_id,
        ops.submit(T2_SPEC, tenant="t2", client_key="sweep/b").job_id,
    }
    ops.submit(SPEC, tenant="t1", client_key="other")

    seen: list[EventView] = []
    with pytest.raises(ApiError) as ended:
        seen.extend(ops.watch(client_key_prefix="sweep/", timeout_s=1.5))

    assert ended.value.code == "DEADLINE_EXCEEDED"
    assert {e.job_id for e in seen} == in_set


# ---------------------------------------------------------------------- refusals


def test_unknown_jobs_are_not_found(t1: SchedulerClient) -> None:
    for call in (t1.job, t1.cancel):
        error = refused(call, "job-404")
        assert error.code == "NOT_FOUND"
        assert "job-404" in error.details


def test_another_tenants_job_is_not_found(api: Served, ops: SchedulerClient) -> None:
    theirs = ops.submit(T2_SPEC, tenant="t2").job_id
    with SchedulerClient(api.address, tenant_token("t1")) as t1:
        assert refused(t1.job, theirs).code == "NOT_FOUND"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_no_or_a_wrong_token_is_unauthenticated(api: Served, token: str | None) -> None:
    with SchedulerClient(api.address, token) as client:
        error = refused(client.submit, SPEC)
        assert error.code == "UNAUTHENTICATED"
        assert refused(lambda: list(client.jobs())).code == "UNAUTHENTICATED"
        assert refused(lambda: next(client.watch())).code == "UNAUTHENTICATED"
    if token:
        assert token not in error.details


def test_a_bad_submission_names_its_field(t1: SchedulerClient) -> None:
    error = refused(t1.submit, JobSpec(workers=1, per_worker=8, walltime_s=0, models=(ASCEND,)))

    assert error.code == "INVALID_ARGUMENT"
    assert error.details.startswith("spec.walltime_s: ")
    assert str(error).startswith("INVALID_ARGUMENT: spec.walltime_s: ")
    assert list(t1.jobs()) == []


def test_one_bad_job_refuses_the_batch_naming_it(t1: SchedulerClient) -> None:
    bad = JobSpec(workers=1, per_worker=8, walltime_s=3600, models=("tpu-v5",))

    error = refused(t1.submit_many, [Submission(SPEC), Submission(bad)])

    assert error.code == "INVALID_ARGUMENT"
    assert error.details.startswith("jobs[1].spec.models[0]: ")
    assert list(t1.jobs()) == []


def test_bad_listing_and_watch_requests_name_their_field(t1: SchedulerClient) -> None:
    page = refused(lambda: list(t1.jobs(page_size=5000)))
    resume = refused(lambda: next(t1.watch(after_seq=-1)))

    assert (page.code, resume.code) == ("INVALID_ARGUMENT", "INVALID_ARGUMENT")
    assert page.details.startswith("page_size: ")
    assert resume.details.startswith("after_seq: ")


def test_naming_another_tenant_is_permission_denied(t1: SchedulerClient) -> None:
    error = refused(t1.submit, SPEC, tenant="t2")

    assert error.code == "PERMISSION_DENIED"
    assert error.details.startswith("tenant: ")


def test_nothing_listening_is_unavailable() -> None:
    with SchedulerClient(f"127.0.0.1:{free_port()}", "x", timeout_s=5) as client:
        assert refused(client.job, "job-1").code == "UNAVAILABLE"


@pytest.mark.parametrize("address", ["10.0.0.1:50051", "example.com:50051", "no-port"])
def test_only_loopback_addresses_are_accepted(address: str) -> None:
    with pytest.raises(InvalidField) as raised:
        SchedulerClient(address, "x")
    assert raised.value.field == "address"


@pytest.mark.parametrize("address", ["localhost:1", "[::1]:1", "127.0.0.2:1"])
def test_loopback_addresses_are_accepted(address: str) -> None:
    SchedulerClient(address, "x").close()
