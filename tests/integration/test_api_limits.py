"""The Scheduler service's limits over a real gRPC server on loopback: a tenant over its rate
limit is RESOURCE_EXHAUSTED with `retry-after-ms` while other tenants and operators get through;
a message over the size limit is RESOURCE_EXHAUSTED and the server keeps serving; a batch of too
many jobs is INVALID_ARGUMENT naming `jobs`; a call whose deadline passed before its work began
does not do it; a watch ends at its deadline. Refused calls store nothing. `gbasched serve`
limits tenants by its `--rate-limit` and `--rate-burst` flags. A second server cannot bind a
port the first listens on (no SO_REUSEPORT, which would split the first one's connections)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from scheduler.api.auth import bearer
from scheduler.api.ratelimit import RETRY_AFTER_MS, RateLimit
from scheduler.api.server import MAX_MESSAGE_BYTES, Server
from scheduler.api.servicers import MAX_SUBMIT_JOBS
from scheduler.api.v1 import common_pb2, scheduler_pb2_grpc
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.domain.jobs import JobState
from tests.api_builders import (
    DEMO_OPERATOR,
    READY_TIMEOUT_S,
    Served,
    a_token_book,
    demo_token,
    free_port,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND
from tests.service_builders import World

WAIT_S = 10
SERVE = [sys.executable, "-m", "scheduler.cli", "serve", "--executor", "fake"]
MAINLAND = "JURISDICTION_MAINLAND"


class ManualTime:
    """The rate limit's monotonic clock: it moves only when told, and `read` is set whenever
    the server reads it (a tenant's call was just authenticated)."""

    def __init__(self) -> None:
        self.at = 0.0
        self.read = threading.Event()

    def __call__(self) -> float:
        self.read.set()
        return self.at


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "limits.db")


@pytest.fixture
def clock() -> ManualTime:
    return ManualTime()


@pytest.fixture
def api(world: World, clock: ManualTime) -> Iterator[Served]:
    """Every tenant may make 3 calls at once and 1 a second; the clock stands still."""
    yield from serving(world, a_token_book("t1", "t2"), rate_limit=RateLimit(1, 3, clock))


def a_job(tenant: str = "", key: str = "", **spec: Any) -> pb.SubmitJobRequest:
    fields: dict[str, Any] = {
        "workers": 1,
        "per_worker": 8,
        "models": [ASCEND],
        "walltime_s": 3600,
        "data_origin": MAINLAND,
    }
    fields.update(spec)
    return pb.SubmitJobRequest(tenant=tenant, client_key=key, spec=pb.JobSpec(**fields))


def a_batch(jobs: int, tenant: str = "") -> pb.SubmitJobsRequest:
    return pb.SubmitJobsRequest(jobs=[a_job(tenant, key=f"b{i}") for i in range(jobs)])


def refused(call: Any, *args: Any, **kwargs: Any) -> grpc.Call:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, **kwargs)
    error = raised.value
    assert isinstance(error, grpc.Call)
    return error


def stored_jobs(world: World) -> int:
    return len(world.store.jobs(limit=10_000))


def retry_after_ms(error: grpc.Call) -> str | None:
    trailing = dict(error.trailing_metadata() or ())
    value = trailing.get(RETRY_AFTER_MS)
    return None if value is None else str(value)


# ---------------------------------------------------------------------- rate limit


def test_a_tenant_over_its_limit_is_refused_while_others_get_through(
    api: Served, clock: ManualTime
) -> None:
    t1, t2 = api.as_(tenant_token("t1")), api.as_(tenant_token("t2"))
    for _ in range(3):
        t1.ListJobs(pb.ListJobsRequest())

    error = refused(t1.ListJobs, pb.ListJobsRequest())

    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == (
        "rate limit: tenant 't1' is over 1 calls/s (burst 3); retry in 1000 ms"
    )
    assert retry_after_ms(error) == "1000"
    for _ in range(3):  # t2 has its own bucket
        t2.ListJobs(pb.ListJobsRequest())
    for _ in range(20):  # operators are not limited
        api.scheduler.ListJobs(pb.ListJobsRequest())
    clock.at += 1.0  # a second later t1 has one call again
    t1.ListJobs(pb.ListJobsRequest())
    assert refused(t1.ListJobs, pb.ListJobsRequest()).code() is (grpc.StatusCode.RESOURCE_EXHAUSTED)


def test_every_scheduler_call_of_a_tenant_counts(api: Served) -> None:
    t1 = api.as_(tenant_token("t1"))
    job = t1.SubmitJob(a_job(key="one")).job_id
    t1.GetJob(pb.GetJobRequest(job_id=job))
    t1.CancelJob(pb.CancelJobRequest(job_id=job))

    error = refused(lambda: list(t1.WatchEvents(pb.WatchEventsRequest(), timeout=WAIT_S)))

    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_after_ms(error) == "1000"


def test_a_refused_call_changes_nothing(api: Served, world: World, clock: ManualTime) -> None:
    t1 = api.as_(tenant_token("t1"))
    # 201 jobs cost 3 tokens (one per started 100): the whole burst.
    assert len(t1.SubmitJobs(a_batch(201)).results) == 201

    single = refused(t1.SubmitJob, a_job(key="late"))
    batch = refused(
        t1.SubmitJobs, pb.SubmitJobsRequest(jobs=[a_job(key=f"late{i}") for i in range(2)])
    )

    assert single.code() is batch.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stored_jobs(world) == 201
    clock.at += 1.0  # the refusals took nothing: one second buys exactly one call
    assert t1.SubmitJob(a_job(key="late")).created
    assert stored_jobs(world) == 202


def test_a_batch_of_more_jobs_than_the_burst_still_passes_once_the_bucket_is_full(
    api: Served, world: World
) -> None:
    t1 = api.as_(tenant_token("t1"))

    reply = t1.SubmitJobs(a_batch(MAX_SUBMIT_JOBS))  # 10 tokens, charged as the burst of 3

    assert len(reply.results) == MAX_SUBMIT_JOBS
    assert stored_jobs(world) == MAX_SUBMIT_JOBS


# ---------------------------------------------------------------------- sizes


def test_a_message_over_the_size_limit_is_refused_and_the_server_keeps_serving(
    api: Served, world: World
) -> None:
    huge = a_job("t1", key="huge", entrypoint="x" * (MAX_MESSAGE_BYTES + 1024))

    error = refused(api.scheduler.SubmitJob, huge, timeout=WAIT_S)

    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stored_jobs(world) == 0
    assert api.scheduler.SubmitJob(a_job("t1", key="small"), timeout=WAIT_S).created
    assert stored_jobs(world) == 1


def test_a_batch_of_too_many_jobs_is_refused_naming_jobs(api: Served, world: World) -> None:
    error = refused(api.scheduler.SubmitJobs, a_batch(MAX_SUBMIT_JOBS + 1, "t1"))

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        f"jobs: at most {MAX_SUBMIT_JOBS} jobs per call, got {MAX_SUBMIT_JOBS + 1}: "
        "split the requests into several calls"
    )
    assert stored_jobs(world) == 0


# ---------------------------------------------------------------------- deadlines


def test_a_watch_ends_at_its_deadline(api: Served) -> None:
    started = time.monotonic()
    stream = api.scheduler.WatchEvents(pb.WatchEventsRequest(), timeout=1.0)

    error = refused(lambda: list(stream))

    took = time.monotonic() - started
    assert error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0.9 <= took < 5


@pytest.mark.parametrize(("timeout_s", "done"), [(0.5, 0), (WAIT_S, 1)])
def test_work_whose_deadline_passed_while_it_waited_for_a_thread_is_not_done(
    world: World, timeout_s: float, done: int
) -> None:
    """A cancel is authenticated, then waits for the only (busy) worker thread. The worker is
    freed while the server's event loop is held, so that grpc cannot cancel the waiting work
    when the deadline passes: only the servicer's own check keeps it from being done. With a
    long deadline the same steps cancel the job (the test cannot pass by doing nothing).
    (Submissions hold no worker thread: they are validated and queued on the event loop.)"""
    job = world.submit("t1")
    clock = ManualTime()
    limit = RateLimit(1000, 1000, clock)  # never refuses; its clock says "authenticated"
    served = Served(world.coordinator, a_token_book("t1"), rate_limit=limit, workers=1)
    worker_free, loop_free, loop_held = threading.Event(), threading.Event(), threading.Event()
    outcome: list[Any] = []

    def hold_the_loop() -> None:
        loop_held.set()
        loop_free.wait(WAIT_S)

    def submit() -> None:
        try:
            outcome.append(
                served.as_(tenant_token("t1")).CancelJob(
                    pb.CancelJobRequest(job_id=job), timeout=timeout_s
                )
            )
        except grpc.RpcError as exc:
            outcome.append(exc)

    try:
        served.server.blocking.submit(worker_free.wait, WAIT_S)
        caller = threading.Thread(target=submit)
        caller.start()
        assert clock.read.wait(WAIT_S)  # authenticated: its work now waits for the worker
        served.loop.call_soon_threadsafe(hold_the_loop)
        assert loop_held.wait(WAIT_S)
        if done == 0:
            caller.join(WAIT_S)
            [error] = outcome
            assert isinstance(error, grpc.Call)
            assert error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
            time.sleep(0.2)  # the server's deadline, a hop after the client's, has passed too
        worker_free.set()  # the waiting work starts now, while grpc cannot cancel it
        served.server.blocking.submit(lambda: None).result(WAIT_S)  # and has ended
        loop_free.set()
        caller.join(WAIT_S)
        assert not caller.is_alive()
        cancelled = world.coordinator.job(job).state is JobState.CANCELLED
        assert cancelled == bool(done)
        if done:
            [reply] = outcome
            assert reply.job.state == common_pb2.JOB_STATE_CANCELLED
    finally:
        worker_free.set()
        loop_free.set()
        served.close()


# ---------------------------------------------------------------------- gbasched serve


def test_serve_limits_tenants_by_its_flags(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *SERVE,
            *("--db", str(tmp_path / "pool.db"), "--port", str(port)),
            *("--rate-limit", "0.01", "--rate-burst", "2"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
            stub = scheduler_pb2_grpc.SchedulerStub(channel)
            tenant = bearer(demo_token("hku-ml"))
            for _ in range(2):
                stub.ListJobs(pb.ListJobsRequest(), metadata=tenant, timeout=WAIT_S)
            error = refused(stub.ListJobs, pb.ListJobsRequest(), metadata=tenant, timeout=WAIT_S)
            for _ in range(5):
                stub.ListJobs(pb.ListJobsRequest(), metadata=bearer(DEMO_OPERATOR), timeout=WAIT_S)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "tenant 'hku-ml' is over 0.01 calls/s (burst 2)" in (error.details() or "")
    assert 0 < int(retry_after_ms(error) or 0) <= 100_000
    assert process.returncode == 0, output
    assert "0.01 calls/s, burst 2 per tenant" in output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rate-burst", "0"], "--rate-burst: must be at least 1"),
        (["--rate-limit", "-1"], "--rate-limit: must be a number of calls per second"),
        (["--rate-limit", "nan"], "--rate-limit: must be a number of calls per second"),
    ],
)
def test_serve_refuses_bad_rate_flags(tmp_path: Path, flags: list[str], message: str) -> None:
    done = subprocess.run(
        [*SERVE, "--db", str(tmp_path / "x.db"), "--port", "0", *flags],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert f"gbasched: error: {message}" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_second_server_cannot_bind_the_port_of_the_first(api: Served, world: World) -> None:
    second = asyncio.run_coroutine_threadsafe(
        Server.start(world.coordinator, api.address, a_token_book("t1")), api.loop
    )
    with pytest.raises(RuntimeError, match="Failed to bind"):
        second.result(READY_TIMEOUT_S)
    assert list(api.as_(tenant_token("t1")).ListJobs(pb.ListJobsRequest()).jobs) == []
