"""The Scheduler service over a real gRPC server on loopback, a coordinator on a SQLite file and
the fake executor on a manual clock: submit, follow, page, cancel, watch (live, resumed after a
reconnect with no gap, filtered); bad requests answered with the status code and the field,
changing nothing; health checking and reflection (open without a token). Calls are made as an
operator unless a test says otherwise; who may do what is in test_api_auth.py."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from scheduler.api.servicers import wire_path
from scheduler.api.v1 import common_pb2
from scheduler.api.v1 import scheduler_pb2 as pb
from tests.api_builders import Served, a_token_book, serving, tenant_token, world_on_sqlite
from tests.builders import ASCEND
from tests.service_builders import World

MAINLAND = "JURISDICTION_MAINLAND"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "api.db")


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1", "t2"))


def spec(**change: Any) -> pb.JobSpec:
    fields: dict[str, Any] = {
        "workers": 1,
        "per_worker": 8,
        "models": [ASCEND],
        "walltime_s": 3600,
        "data_origin": MAINLAND,
    }
    fields.update(change)
    return pb.JobSpec(**fields)


def submit(api: Served, tenant: str = "t1", key: str = "", **change: Any) -> pb.SubmitJobResponse:
    request = pb.SubmitJobRequest(tenant=tenant, client_key=key, spec=spec(**change))
    reply: pb.SubmitJobResponse = api.scheduler.SubmitJob(request)
    return reply


def refused(call: Any, *args: Any) -> grpc.Call:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args)
    error = raised.value
    assert isinstance(error, grpc.Call)
    return error


# ---------------------------------------------------------------------- a job's life


def test_a_submitted_job_is_followed_from_queued_to_succeeded(api: Served, world: World) -> None:
    t1 = api.as_(tenant_token("t1"))
    request = pb.SubmitJobRequest(client_key="k1", spec=spec())  # no tenant: the caller's own
    reply = t1.SubmitJob(request)
    assert reply.created

    job = t1.GetJob(pb.GetJobRequest(job_id=reply.job_id))
    assert job.state == common_pb2.JOB_STATE_QUEUED
    assert (job.tenant, job.client_key, job.spec.workers) == ("t1", "k1", 1)

    world.run()
    world.run(1)
    running = api.scheduler.GetJob(pb.GetJobRequest(job_id=reply.job_id))
    assert running.state == common_pb2.JOB_STATE_RUNNING
    assert running.attempt == 1
    assert [w.accelerators for w in running.placement.workers] == [8]

    world.run(1800)
    done = api.scheduler.GetJob(pb.GetJobRequest(job_id=reply.job_id))
    assert done.state == common_pb2.JOB_STATE_SUCCEEDED
    assert done.ended_at == running.started_at + 1800


def test_a_waiting_job_shows_why_it_waits(api: Served, world: World) -> None:
    submit(api)
    waiting = submit(api).job_id

    world.run()

    job = api.scheduler.GetJob(pb.GetJobRequest(job_id=waiting))
    assert job.state == common_pb2.JOB_STATE_QUEUED
    assert job.reason_code == "NO_CAPACITY"
    assert job.reason


def test_the_same_client_key_returns_the_same_job(api: Served) -> None:
    first = submit(api, key="nightly-7")
    again = submit(api, key="nightly-7", per_worker=4)  # the spec is not compared

    assert (again.job_id, again.created) == (first.job_id, False)


def test_a_batch_is_submitted_in_order(api: Served) -> None:
    batch = pb.SubmitJobsRequest(
        jobs=[pb.SubmitJobRequest(tenant="t1", client_key=f"b{i}", spec=spec()) for i in range(3)]
    )

    results = api.scheduler.SubmitJobs(batch).results

    listed = api.scheduler.ListJobs(pb.ListJobsRequest()).jobs
    assert [r.job_id for r in results] == [j.id for j in listed]
    assert [j.client_key for j in listed] == ["b0", "b1", "b2"]


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        (pb.SubmitJobRequest(tenant="t1"), "INVALID_ARGUMENT", "spec"),
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(workers=0)),
            "INVALID_ARGUMENT",
            "spec.workers",
        ),
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(models=["tpu-v5"])),
            "INVALID_ARGUMENT",
            "spec.models[0]",
        ),
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(data_origin=0)),
            "INVALID_ARGUMENT",
            "spec.data_origin",
        ),
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(walltime_s=0)),
            "INVALID_ARGUMENT",
            "spec.walltime_s",
        ),
        (pb.SubmitJobRequest(tenant="nobody", spec=spec()), "INVALID_ARGUMENT", "tenant"),
        (
            pb.SubmitJobRequest(tenant="t2", spec=spec(priority_class="standard")),
            "PERMISSION_DENIED",
            "spec.priority_class",
        ),
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(min_tflops_fp16=-1, models=[])),
            "INVALID_ARGUMENT",
            "spec.min_tflops_fp16",
        ),
        # the pool has one node of 8 Ascend
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(workers=2)),
            "INVALID_ARGUMENT",
            "spec.workers",
        ),
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(per_worker=16)),
            "INVALID_ARGUMENT",
            "spec.per_worker",
        ),
        (
            pb.SubmitJobRequest(tenant="t1", spec=spec(models=["nvidia-h800"])),
            "INVALID_ARGUMENT",
            "spec.models",
        ),
    ],
)
def test_a_bad_submission_names_its_field_and_creates_nothing(
    api: Served, request_: pb.SubmitJobRequest, code: str, field: str
) -> None:
    error = refused(api.scheduler.SubmitJob, request_)

    assert error.code().name == code
    assert (error.details() or "").startswith(f"{field}: ")
    assert list(api.scheduler.ListJobs(pb.ListJobsRequest()).jobs) == []


@pytest.mark.parametrize(
    ("bad", "field"),
    [(spec(walltime_s=-1), "spec.walltime_s"), (spec(workers=2), "spec.workers")],
)
def test_one_bad_job_refuses_the_whole_batch(api: Served, bad: pb.JobSpec, field: str) -> None:
    batch = pb.SubmitJobsRequest(
        jobs=[
            pb.SubmitJobRequest(tenant="t1", spec=spec()),
            pb.SubmitJobRequest(tenant="t1", spec=bad),
        ]
    )

    error = refused(api.scheduler.SubmitJobs, batch)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(f"jobs[1].{field}: ")
    assert list(api.scheduler.ListJobs(pb.ListJobsRequest()).jobs) == []


@pytest.mark.parametrize("rpc", ["GetJob", "CancelJob"])
def test_a_job_call_without_a_job_id_names_the_field(api: Served, rpc: str) -> None:
    submit(api)
    request = pb.GetJobRequest() if rpc == "GetJob" else pb.CancelJobRequest()

    error = refused(getattr(api.scheduler, rpc), request)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "job_id: required"


@pytest.mark.parametrize(
    ("domain", "prefix", "wire"),
    [
        ("requests[0].gang.workers", "", "spec.workers"),
        ("requests[3].job.walltime_s", "jobs[3].", "jobs[3].spec.walltime_s"),
        ("requests[0].models[2]", "", "spec.models[2]"),
        ("requests[1].tenant", "jobs[1].", "jobs[1].tenant"),
        ("requests[0].priority_class", "", "spec.priority_class"),
    ],
)
def test_domain_field_paths_become_the_wire_paths(domain: str, prefix: str, wire: str) -> None:
    assert wire_path(domain, prefix) == wire


def test_unknown_jobs_are_not_found(api: Served) -> None:
    assert refused(api.scheduler.GetJob, pb.GetJobRequest(job_id="job-404")).code() is (
        grpc.StatusCode.NOT_FOUND
    )
    assert refused(api.scheduler.CancelJob, pb.CancelJobRequest(job_id="job-404")).code() is (
        grpc.StatusCode.NOT_FOUND
    )


# ---------------------------------------------------------------------- listing and cancelling


@pytest.mark.parametrize("newest_first", [False, True])
def test_pages_visit_every_job_once_in_submission_order(api: Served, newest_first: bool) -> None:
    ids = [submit(api, key=f"p{i}").job_id for i in range(5)]

    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = api.scheduler.ListJobs(
            pb.ListJobsRequest(page_size=2, page_token=token, newest_first=newest_first)
        )
        seen += [job.id for job in page.jobs]
        pages += 1
        token = page.next_page_token
        if not token:
            break

    assert seen == (ids[::-1] if newest_first else ids)
    assert pages == 3


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListJobsRequest(page_size=5000), "page_size"),
        (pb.ListJobsRequest(page_size=-1), "page_size"),
        (pb.ListJobsRequest(page_token="job-404"), "page_token"),
        (pb.ListJobsRequest(states=["JOB_STATE_UNSPECIFIED"]), "states[0]"),
    ],
)
def test_bad_listing_requests_name_their_field(
    api: Served, request_: pb.ListJobsRequest, field: str
) -> None:
    error = refused(api.scheduler.ListJobs, request_)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(f"{field}: ")


def test_listing_filters_by_tenant_and_state(api: Served, world: World) -> None:
    running = submit(api).job_id
    submit(api, tenant="t2", priority_class="low")
    world.run()
    world.run(1)

    mine = api.scheduler.ListJobs(pb.ListJobsRequest(tenant="t1")).jobs
    running_now = api.scheduler.ListJobs(
        pb.ListJobsRequest(states=[common_pb2.JOB_STATE_RUNNING])
    ).jobs

    assert [j.tenant for j in mine] == ["t1"]
    assert [j.id for j in running_now] == [running]


def test_a_cancelled_job_says_so_and_a_finished_one_cannot_be_cancelled(
    api: Served, world: World
) -> None:
    finished = submit(api).job_id
    queued = submit(api).job_id
    world.run()

    reply = api.scheduler.CancelJob(pb.CancelJobRequest(job_id=queued))
    again = api.scheduler.CancelJob(pb.CancelJobRequest(job_id=queued))
    world.run(1)
    world.run(1800)
    error = refused(api.scheduler.CancelJob, pb.CancelJobRequest(job_id=finished))

    assert reply.job.state == again.job.state == common_pb2.JOB_STATE_CANCELLED
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "succeeded" in (error.details() or "")


# ---------------------------------------------------------------------- standard services


def test_health_checking_says_serving(api: Served) -> None:
    health = health_pb2_grpc.HealthStub(api.channel)
    for service in ("", "gba.scheduler.v1.Scheduler"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_scheduler_service(api: Served) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(api.channel)
    replies = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert "gba.scheduler.v1.Scheduler" in names


# ---------------------------------------------------------------------- watching


def watch(api: Served, **fields: Any) -> Iterator[pb.JobEvent]:
    stream: Iterator[pb.JobEvent] = api.scheduler.WatchEvents(
        pb.WatchEventsRequest(**fields), timeout=30
    )
    return stream


def test_a_watch_sees_a_job_live_and_resumes_after_a_reconnect_with_no_gap(
    api: Served, world: World
) -> None:
    job = submit(api, key="w1").job_id
    first: list[pb.JobEvent] = []
    stream = api.scheduler.WatchEvents(pb.WatchEventsRequest(job_id=job), timeout=30)

    def read_until(kind: str, into: list[pb.JobEvent], events: Any) -> None:
        for one in events:
            into.append(one)
            if one.kind == kind:
                return

    reader = threading.Thread(target=read_until, args=("started", first, stream))
    reader.start()
    world.run()
    world.run(1)
    reader.join(30)
    stream.cancel()  # the client goes away mid-run

    world.run(1800)  # the job finishes while nobody watches
    rest: list[pb.JobEvent] = []
    read_until("succeeded", rest, watch(api, job_id=job, after_seq=first[-1].seq))

    kinds = [e.kind for e in first + rest]
    assert kinds == [
        "submitted",
        "admitted",
        "started",
        "progress",
        "progress",
        "progress",
        "succeeded",
    ]
    stored = [e.seq for e in world.store.events(job_id=job)]
    assert [e.seq for e in first + rest] == stored
    admitted = first[1]
    assert admitted.data["attempt"] == 1
    assert admitted.data["workers"][0][1] == 8


def everything_within(api: Served, seconds: float, **fields: Any) -> list[pb.JobEvent]:
    """What a watch yields until its deadline ends it (a watch never ends by itself)."""
    seen: list[pb.JobEvent] = []
    stream = api.scheduler.WatchEvents(pb.WatchEventsRequest(**fields), timeout=seconds)
    with pytest.raises(grpc.RpcError) as ended:
        seen.extend(stream)
    assert isinstance(ended.value, grpc.Call)
    assert ended.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    return seen


def test_watches_ending_at_their_deadline_log_no_error(
    api: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """A watch whose handler sent its status after the deadline had passed could find the call
    closed by gRPC already: grpc.aio then logged an ExecuteBatchError with a traceback (about
    one watch in 200 here; the test failed in two runs of three before the fix)."""
    caplog.set_level(logging.ERROR, logger="grpc")

    def watch(_: int) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as ended:
            list(api.scheduler.WatchEvents(pb.WatchEventsRequest(), timeout=0.2))
        assert isinstance(ended.value, grpc.Call)
        return ended.value.code()

    with ThreadPoolExecutor(20) as pool:
        codes = set(pool.map(watch, range(200)))

    assert codes == {grpc.StatusCode.DEADLINE_EXCEEDED}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_watch_filters_by_tenant_and_job_set(api: Served, world: World) -> None:
    in_set = [submit(api, key="sweep-7/a").job_id]
    in_set.append(submit(api, tenant="t2", key="sweep-7/b", priority_class="low").job_id)
    submit(api, key="other")
    world.run()

    of_t2 = everything_within(api, 1.5, tenant="t2")
    of_set = everything_within(api, 1.5, client_key_prefix="sweep-7/")

    assert of_t2 and {e.tenant for e in of_t2} == {"t2"}
    assert [e.seq for e in of_t2] == [e.seq for e in world.store.events() if e.tenant == "t2"]
    assert {e.job_id for e in of_set} == set(in_set)
    assert [e.kind for e in of_set].count("submitted") == 2


def test_a_server_stopping_ends_its_watches_at_once_saying_where_to_resume(
    api: Served, world: World
) -> None:
    job = submit(api, key="w").job_id
    seen: list[pb.JobEvent] = []
    ended: list[grpc.RpcError] = []

    def follow() -> None:
        try:
            seen.extend(api.scheduler.WatchEvents(pb.WatchEventsRequest(job_id=job), timeout=60))
        except grpc.RpcError as exc:
            ended.append(exc)

    watcher = threading.Thread(target=follow)
    watcher.start()
    while not seen:  # caught up: the watch waits for new events
        watcher.join(0.05)
    # A graceful stop: calls get 30 s to end. A watch never ends by itself, so it is told to.
    stopping = asyncio.run_coroutine_threadsafe(api.server.stop(30), api.loop)
    watcher.join(10)
    stopping.result(10)

    [error] = ended
    assert isinstance(error, grpc.Call)
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert error.details() == f"the server is shutting down; resume after seq {seen[-1].seq}"


def test_a_negative_resume_point_is_refused(api: Served) -> None:
    error = refused(lambda: list(watch(api, after_seq=-1)))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith("after_seq: ")
