"""Who may do what, over every Scheduler RPC, through a real gRPC server: no token or a wrong one
is UNAUTHENTICATED; tenant B cannot see, cancel, watch or list tenant A's job (another tenant's
job reads exactly as an unknown one) nor submit as A, and a refused call changes nothing; an
operator may do all of it. Health checking and reflection stay open (test_api_jobs.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from scheduler.api.v1 import common_pb2
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.service.errors import unknown_job_message
from scheduler.store.records import Commit, NewEvent
from scheduler.store.sqlite import SqliteStore
from tests.api_builders import OPERATOR_TOKEN, Served, a_token_book, tenant_token
from tests.builders import ASCEND, a_pool, a_tenant
from tests.service_builders import World, a_world

A, B = "t1", "t2"
TOKENS: dict[str, str | None] = {
    "A": tenant_token(A),
    "B": tenant_token(B),
    "operator": OPERATOR_TOKEN,
    "no token": None,
    "wrong token": "not-a-token-anyone-was-given",
}
RPCS = ("SubmitJob", "SubmitJobs", "GetJob", "ListJobs", "CancelJob", "WatchEvents")
WATCH_S = 1.0


def spec() -> pb.JobSpec:
    return pb.JobSpec(
        workers=1,
        per_worker=8,
        models=[ASCEND],
        walltime_s=3600,
        data_origin="JURISDICTION_MAINLAND",
    )


@dataclass
class Pool:
    """A served world where A and B each have one queued job, and one event about no job."""

    api: Served
    world: World
    a_job: str
    b_job: str

    def call(self, who: str, rpc: str, request: Any) -> Any:
        """The reply; for a watch, what it yields until its deadline ends it."""
        stub = self.api.as_(TOKENS[who])
        if rpc != "WatchEvents":
            return getattr(stub, rpc)(request, timeout=10)
        seen: list[pb.JobEvent] = []
        with pytest.raises(grpc.RpcError) as ended:
            seen.extend(stub.WatchEvents(request, timeout=WATCH_S))
        if ended.value.code() is not grpc.StatusCode.DEADLINE_EXCEEDED:
            raise ended.value
        return seen

    def state(self) -> tuple[object, ...]:
        """Everything a call could change."""
        jobs = self.world.store.jobs(limit=1000)
        return tuple((j.id, j.job.tenant, j.state, j.reason) for j in jobs), tuple(
            (e.seq, e.kind) for e in self.world.store.events(limit=10_000)
        )


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Pool]:
    built = a_pool().nodes(1, ASCEND, owner="sz-gov").tenant(a_tenant(A)).tenant(a_tenant(B))
    world = a_world(built.build(), store=SqliteStore(tmp_path / "auth.db"))
    api = Served(world.coordinator, a_token_book(A, B))
    ids = [
        api.scheduler.SubmitJob(
            pb.SubmitJobRequest(tenant=t, client_key="mine", spec=spec())
        ).job_id
        for t in (A, B)
    ]
    at = world.clock.now()
    world.store.commit(Commit(at=at, events=(NewEvent("node_drained", data={"node": "n0"}),)))
    yield Pool(api, world, *ids)
    api.close()
    world.coordinator.close()
    world.store.close()


def a_request(rpc: str, p: Pool) -> Any:
    """A request any authenticated caller could sensibly make, about A's job."""
    return {
        "SubmitJob": pb.SubmitJobRequest(tenant=A, spec=spec()),
        "SubmitJobs": pb.SubmitJobsRequest(jobs=[pb.SubmitJobRequest(tenant=A, spec=spec())]),
        "GetJob": pb.GetJobRequest(job_id=p.a_job),
        "ListJobs": pb.ListJobsRequest(),
        "CancelJob": pb.CancelJobRequest(job_id=p.a_job),
        "WatchEvents": pb.WatchEventsRequest(),
    }[rpc]


def refused(p: Pool, who: str, rpc: str, request: Any) -> grpc.Call:
    before = p.state()
    with pytest.raises(grpc.RpcError) as raised:
        p.call(who, rpc, request)
    assert p.state() == before, "a refused call changed something"
    error = raised.value
    assert isinstance(error, grpc.Call)
    return error


# ---------------------------------------------------------------------- authentication


@pytest.mark.parametrize("rpc", RPCS)
@pytest.mark.parametrize("who", ["no token", "wrong token"])
def test_a_call_without_a_valid_token_is_unauthenticated(pool: Pool, who: str, rpc: str) -> None:
    error = refused(pool, who, rpc, a_request(rpc, pool))

    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "not-a-token" not in (error.details() or "")


@pytest.mark.parametrize(
    "metadata",
    [
        (("authorization", "Basic dXNlcjpwYXNz"),),
        (("authorization", "Bearer"),),
        (("authorization", f"Token {OPERATOR_TOKEN}"),),
        (("authorization", f"Bearer {OPERATOR_TOKEN}"), ("authorization", "Bearer other")),
        (("x-token", OPERATOR_TOKEN),),
    ],
    ids=["basic", "no token", "other scheme", "two headers", "other header"],
)
def test_a_malformed_authorization_is_unauthenticated_and_not_echoed(
    pool: Pool, metadata: tuple[tuple[str, str], ...]
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        pool.api.as_(None).GetJob(pb.GetJobRequest(job_id=pool.a_job), metadata=metadata)

    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert OPERATOR_TOKEN not in (error.details() or "")
    assert "dXNlcjpwYXNz" not in (error.details() or "")


def test_the_bearer_scheme_is_case_insensitive(pool: Pool) -> None:
    metadata = (("authorization", f"bearer {tenant_token(A)}"),)
    job = pool.api.as_(None).GetJob(pb.GetJobRequest(job_id=pool.a_job), metadata=metadata)

    assert job.id == pool.a_job


# ---------------------------------------------------------------------- what is refused


@dataclass(frozen=True)
class Refusal:
    who: str
    rpc: str
    request: Callable[[Pool], Any]
    code: str
    details: Callable[[Pool], str]  # the exact message, or its start when it ends with ": "


REFUSALS = [
    Refusal(
        "B",
        "SubmitJob",
        lambda p: pb.SubmitJobRequest(tenant=A, spec=spec()),
        "PERMISSION_DENIED",
        lambda p: "tenant: ",
    ),
    Refusal(
        "B",
        "SubmitJobs",
        lambda p: pb.SubmitJobsRequest(
            jobs=[
                pb.SubmitJobRequest(spec=spec()),
                pb.SubmitJobRequest(tenant=B, spec=spec()),
                pb.SubmitJobRequest(tenant=A, spec=spec()),
            ]
        ),
        "PERMISSION_DENIED",
        lambda p: "jobs[2].tenant: ",
    ),
    Refusal(
        "B",
        "GetJob",
        lambda p: pb.GetJobRequest(job_id=p.a_job),
        "NOT_FOUND",
        lambda p: unknown_job_message(p.a_job),
    ),
    Refusal(
        "B",
        "CancelJob",
        lambda p: pb.CancelJobRequest(job_id=p.a_job),
        "NOT_FOUND",
        lambda p: unknown_job_message(p.a_job),
    ),
    Refusal(
        "B",
        "ListJobs",
        lambda p: pb.ListJobsRequest(tenant=A),
        "PERMISSION_DENIED",
        lambda p: "tenant: ",
    ),
    Refusal(
        "B",
        "ListJobs",
        lambda p: pb.ListJobsRequest(page_token=p.a_job),
        "INVALID_ARGUMENT",
        lambda p: "page_token: ",
    ),
    Refusal(
        "B",
        "WatchEvents",
        lambda p: pb.WatchEventsRequest(tenant=A),
        "PERMISSION_DENIED",
        lambda p: "tenant: ",
    ),
    Refusal(
        "operator",
        "SubmitJob",
        lambda p: pb.SubmitJobRequest(spec=spec()),
        "INVALID_ARGUMENT",
        lambda p: "tenant: ",
    ),
    Refusal(
        "operator",
        "SubmitJobs",
        lambda p: pb.SubmitJobsRequest(
            jobs=[pb.SubmitJobRequest(tenant=B, spec=spec()), pb.SubmitJobRequest(spec=spec())]
        ),
        "INVALID_ARGUMENT",
        lambda p: "jobs[1].tenant: ",
    ),
]


@pytest.mark.parametrize(
    "refusal", REFUSALS, ids=[f"{r.who}-{r.rpc}-{r.code}-{i}" for i, r in enumerate(REFUSALS)]
)
def test_what_a_caller_may_not_do_is_refused_and_changes_nothing(
    pool: Pool, refusal: Refusal
) -> None:
    error = refused(pool, refusal.who, refusal.rpc, refusal.request(pool))

    assert error.code().name == refusal.code
    expected = refusal.details(pool)
    details = error.details() or ""
    assert details.startswith(expected) if expected.endswith(": ") else details == expected


def test_another_tenants_job_reads_exactly_as_an_unknown_one(pool: Pool) -> None:
    hidden = refused(pool, "B", "GetJob", pb.GetJobRequest(job_id=pool.a_job))
    unknown = refused(pool, "B", "GetJob", pb.GetJobRequest(job_id="job-404"))

    assert (hidden.code(), hidden.details()) == (
        unknown.code(),
        (unknown.details() or "").replace("job-404", pool.a_job),
    )


def test_permission_denied_says_who_may_do_what(pool: Pool) -> None:
    error = refused(pool, "B", "SubmitJob", pb.SubmitJobRequest(tenant=A, spec=spec()))

    assert error.details() == f"tenant: {B}-ci may submit only as tenant {B!r}, not {A!r}"


# ---------------------------------------------------------------------- what is allowed


def ids_of(reply: Any) -> list[str]:
    return [job.id for job in reply.jobs]


def jobs_in(events: list[pb.JobEvent]) -> set[str]:
    return {e.job_id for e in events}


@dataclass(frozen=True)
class Allowed:
    who: str
    rpc: str
    request: Callable[[Pool], Any]
    check: Callable[[Pool, Any], bool]


ALLOWED = [
    Allowed(
        "A", "GetJob", lambda p: pb.GetJobRequest(job_id=p.a_job), lambda p, r: r.id == p.a_job
    ),
    Allowed(
        "operator", "GetJob", lambda p: pb.GetJobRequest(job_id=p.a_job), lambda p, r: r.tenant == A
    ),
    Allowed("A", "ListJobs", lambda p: pb.ListJobsRequest(), lambda p, r: ids_of(r) == [p.a_job]),
    Allowed(
        "A", "ListJobs", lambda p: pb.ListJobsRequest(tenant=A), lambda p, r: ids_of(r) == [p.a_job]
    ),
    Allowed("B", "ListJobs", lambda p: pb.ListJobsRequest(), lambda p, r: ids_of(r) == [p.b_job]),
    Allowed(
        "operator",
        "ListJobs",
        lambda p: pb.ListJobsRequest(),
        lambda p, r: ids_of(r) == [p.a_job, p.b_job],
    ),
    Allowed(
        "operator",
        "ListJobs",
        lambda p: pb.ListJobsRequest(tenant=A),
        lambda p, r: ids_of(r) == [p.a_job],
    ),
    Allowed(
        "A", "WatchEvents", lambda p: pb.WatchEventsRequest(), lambda p, r: jobs_in(r) == {p.a_job}
    ),
    Allowed(
        "A",
        "WatchEvents",
        lambda p: pb.WatchEventsRequest(tenant=A),
        lambda p, r: jobs_in(r) == {p.a_job},
    ),
    # A watch on another tenant's job is one on an unknown job: nothing, until the deadline.
    Allowed(
        "B", "WatchEvents", lambda p: pb.WatchEventsRequest(job_id=p.a_job), lambda p, r: r == []
    ),
    Allowed(
        "B", "WatchEvents", lambda p: pb.WatchEventsRequest(), lambda p, r: jobs_in(r) == {p.b_job}
    ),
    # Only an operator sees events about no job (here, a node being drained).
    Allowed(
        "operator",
        "WatchEvents",
        lambda p: pb.WatchEventsRequest(),
        lambda p, r: jobs_in(r) == {p.a_job, p.b_job, ""},
    ),
    Allowed(
        "operator",
        "WatchEvents",
        lambda p: pb.WatchEventsRequest(tenant=A),
        lambda p, r: jobs_in(r) == {p.a_job},
    ),
    Allowed(
        "A",
        "SubmitJob",
        lambda p: pb.SubmitJobRequest(client_key="mine", spec=spec()),  # empty tenant: its own
        lambda p, r: (r.job_id, r.created) == (p.a_job, False),
    ),
    Allowed(
        "B",
        "SubmitJobs",
        lambda p: pb.SubmitJobsRequest(
            jobs=[pb.SubmitJobRequest(spec=spec()), pb.SubmitJobRequest(tenant=B, spec=spec())]
        ),
        lambda p, r: {p.world.record(x.job_id).job.tenant for x in r.results} == {B},
    ),
    Allowed(
        "operator",
        "SubmitJobs",
        lambda p: pb.SubmitJobsRequest(
            jobs=[pb.SubmitJobRequest(tenant=t, spec=spec()) for t in (A, B)]
        ),
        lambda p, r: [p.world.record(x.job_id).job.tenant for x in r.results] == [A, B],
    ),
    Allowed(
        "operator",
        "SubmitJob",
        lambda p: pb.SubmitJobRequest(tenant=B, client_key="mine", spec=spec()),
        lambda p, r: (r.job_id, r.created) == (p.b_job, False),
    ),
    Allowed(
        "A",
        "CancelJob",
        lambda p: pb.CancelJobRequest(job_id=p.a_job),
        lambda p, r: (
            (r.job.state, r.job.reason) == (common_pb2.JOB_STATE_CANCELLED, f"cancelled by {A}-ci")
        ),
    ),
    Allowed(
        "operator",
        "CancelJob",
        lambda p: pb.CancelJobRequest(job_id=p.a_job),
        lambda p, r: (
            (r.job.state, r.job.reason) == (common_pb2.JOB_STATE_CANCELLED, "cancelled by ops")
        ),
    ),
]


@pytest.mark.parametrize(
    "allowed", ALLOWED, ids=[f"{a.who}-{a.rpc}-{i}" for i, a in enumerate(ALLOWED)]
)
def test_what_a_caller_may_do_is_done(pool: Pool, allowed: Allowed) -> None:
    reply = pool.call(allowed.who, allowed.rpc, allowed.request(pool))

    assert allowed.check(pool, reply), reply


def test_every_rpc_is_covered_for_every_caller() -> None:
    refused_ = {(r.who, r.rpc) for r in REFUSALS}
    allowed = {(a.who, a.rpc) for a in ALLOWED}
    for rpc in RPCS:
        assert ("B", rpc) in refused_ | allowed, rpc
        assert ("operator", rpc) in allowed, rpc
