"""A small typed client of the Scheduler service.

    with SchedulerClient("127.0.0.1:50051", token="demo-hku-ml") as client:
        job_id = client.submit(JobSpec(workers=1, per_worker=8, walltime_s=3600,
                                       models=("huawei-ascend-910b",))).job_id
        for event in client.watch(job_id=job_id):
            ...

Replies come back as plain frozen dataclasses (`JobView`, `EventView`, `SubmitResult`) holding
domain values; every gRPC error is raised as `ApiError` with the status name and the server's
message (which names the field of a bad request, e.g. `spec.walltime_s: must be positive`).

With `tls_root_cert` (the PEM certificate(s) to trust, e.g. the CA that signed the server's
certificate) the client talks TLS and may reach any address; without it the channel is plain
text, so it talks to loopback addresses only (a bearer token must not cross a network in clear
text), like `gbasched serve` without TLS listens on loopback only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from scheduler.api import convert
from scheduler.api.auth import bearer
from scheduler.api.convert import JobSpec
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.api.v1 import scheduler_pb2_grpc
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import JobState, Placement

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_PAGE_SIZE = 100


__all__ = [
    "ApiError",
    "EventView",
    "JobSpec",
    "JobView",
    "SchedulerClient",
    "Submission",
    "SubmitResult",
]


class ApiError(Exception):
    """A call the server (or the channel) refused: `code` is the gRPC status name
    (`NOT_FOUND`, `INVALID_ARGUMENT`, `UNAUTHENTICATED`, `UNAVAILABLE`, ...), `details` the
    server's message."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details

    @classmethod
    def of(cls, error: grpc.RpcError) -> ApiError:
        if isinstance(error, grpc.Call):
            code = error.code()
            return cls(code.name if code is not None else "UNKNOWN", error.details() or "")
        return cls("UNKNOWN", str(error))


@dataclass(frozen=True, slots=True)
class Submission:
    """One job of a batch: the spec, the tenant to submit as (empty: the caller's own) and an
    idempotency key (None: none)."""

    spec: JobSpec
    tenant: str = ""
    client_key: str | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    job_id: str
    created: bool  # False: (tenant, client_key) was seen before and `job_id` is that job


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as the server shows it. `reason_code` / `reason` say why it waits (queued), why it
    was rejected or preempted, or how it ended; empty when none applies."""

    id: str
    tenant: str
    state: JobState
    attempt: int
    failures: int
    placement: Placement | None
    reason_code: str
    reason: str
    submitted_at: int
    started_at: int | None
    ended_at: int | None
    client_key: str | None
    workers: int
    per_worker: int
    priority_class: str
    accepted_models: tuple[str, ...]
    updated_at: int

    @property
    def placement_summary(self) -> str:
        """E.g. `2x8 huawei-ascend-910b in mainland on n1, n2`; empty before admission."""
        return placement_summary(self.placement)


@dataclass(frozen=True, slots=True)
class EventView:
    """One entry of the event log; `job_id` and `tenant` are None for events about no job."""

    seq: int
    at: int
    kind: str
    job_id: str | None
    tenant: str | None
    data: Mapping[str, Any]


def placement_summary(placement: Placement | None) -> str:
    if placement is None:
        return ""
    counts = sorted({count for _, count in placement.workers})
    per = "/".join(str(c) for c in counts)
    text = f"{len(placement.workers)}x{per} {placement.model} in {placement.zone.value}"
    text += " on " + ", ".join(sorted(placement.nodes))
    if placement.approval:
        text += f" (approval {placement.approval})"
    return text


def job_view(message: pb.Job) -> JobView:
    return JobView(
        id=message.id,
        tenant=message.tenant,
        state=convert.job_state(message.state, "state"),
        attempt=message.attempt,
        failures=message.failures,
        placement=(
            convert.placement(message.placement, "placement")
            if message.HasField("placement")
            else None
        ),
        reason_code=message.reason_code,
        reason=message.reason,
        submitted_at=message.submitted_at,
        started_at=message.started_at if message.HasField("started_at") else None,
        ended_at=message.ended_at if message.HasField("ended_at") else None,
        client_key=message.client_key or None,
        workers=message.spec.workers,
        per_worker=message.spec.per_worker,
        priority_class=message.spec.priority_class,
        accepted_models=tuple(message.accepted_models),
        updated_at=message.updated_at,
    )


def event_view(message: pb.JobEvent) -> EventView:
    return EventView(
        seq=message.seq,
        at=message.at,
        kind=message.kind,
        job_id=message.job_id or None,
        tenant=message.tenant or None,
        data=convert.event_data(message.data),
    )


def submit_message(submission: Submission) -> pb.SubmitJobRequest:
    return pb.SubmitJobRequest(
        tenant=submission.tenant,
        client_key=submission.client_key or "",
        spec=convert.spec_message(submission.spec),
    )


def check_host_port(address: str) -> str:
    """The host of `address` (`host:port`, `[v6]:port`, `name:port`) without brackets;
    InvalidField naming `address` when it is not of that form."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InvalidField("address", f"must be host:port, got {address!r}")
    return host.removeprefix("[").removesuffix("]")


def check_loopback(address: str) -> str:
    """`address` (`host:port`, `[v6]:port`, `localhost:port`) if its host is a loopback one;
    InvalidField naming `address` otherwise."""
    host = check_host_port(address)
    if host == "localhost":
        return address
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InvalidField(
            "address",
            "must be a loopback address without TLS (bearer tokens must not cross a network "
            "in clear text); pass the server's CA certificate to use TLS",
        )
    return address


class SchedulerClient:
    """A channel to one server; calls present `token` (None: none, and the server answers
    UNAUTHENTICATED). With `tls_root_cert` (PEM) the channel is TLS, trusting only those
    certificates, and `address` may be any host; without it the channel is plain text and
    `address` must be a loopback one. Unary calls give up after `timeout_s`; a watch has no
    deadline unless given one. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        token: str | None = None,
        *,
        tls_root_cert: bytes | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if tls_root_cert is None:
            self.address = check_loopback(address)
            self._channel = grpc.insecure_channel(address)
        else:
            check_host_port(address)
            self.address = address
            credentials = grpc.ssl_channel_credentials(root_certificates=tls_root_cert)
            self._channel = grpc.secure_channel(address, credentials)
        self.tls = tls_root_cert is not None
        self.timeout_s = timeout_s
        self._metadata: tuple[tuple[str, str], ...] = bearer(token) if token else ()
        self._stub = scheduler_pb2_grpc.SchedulerStub(self._channel)

    def __enter__(self) -> SchedulerClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _unary(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(
                request, metadata=self._metadata, timeout=self.timeout_s
            )
        except grpc.RpcError as exc:
            raise ApiError.of(exc) from None

    def submit(
        self, spec: JobSpec, *, tenant: str = "", client_key: str | None = None
    ) -> SubmitResult:
        """Submit one job as `tenant` (empty: the caller's own). Submitting again with the same
        tenant and `client_key` returns the first job with `created` False."""
        request = submit_message(Submission(spec, tenant, client_key))
        reply: pb.SubmitJobResponse = self._unary("SubmitJob", request)
        return SubmitResult(reply.job_id, reply.created)

    def submit_many(self, submissions: Iterable[Submission]) -> list[SubmitResult]:
        """Submit a batch: one bad job refuses all (its error names `jobs[i]...`)."""
        request = pb.SubmitJobsRequest(jobs=[submit_message(s) for s in submissions])
        reply: pb.SubmitJobsResponse = self._unary("SubmitJobs", request)
        return [SubmitResult(r.job_id, r.created) for r in reply.results]

    def job(self, job_id: str) -> JobView:
        reply: pb.Job = self._unary("GetJob", pb.GetJobRequest(job_id=job_id))
        return job_view(reply)

    def jobs(
        self,
        tenant: str = "",
        states: Iterable[JobState] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[JobView]:
        """Every matching job in submission order, fetched a page at a time as it is read."""
        wanted = [convert.job_state_number(state) for state in states]
        token = ""
        while True:
            request = pb.ListJobsRequest(
                tenant=tenant, states=wanted, page_size=page_size, page_token=token
            )
            reply: pb.ListJobsResponse = self._unary("ListJobs", request)
            for message in reply.jobs:
                yield job_view(message)
            token = reply.next_page_token
            if not token:
                return

    def cancel(self, job_id: str) -> JobView:
        reply: pb.CancelJobResponse = self._unary("CancelJob", pb.CancelJobRequest(job_id=job_id))
        return job_view(reply.job)

    def watch(
        self,
        after_seq: int = 0,
        job_id: str = "",
        tenant: str = "",
        client_key_prefix: str = "",
        *,
        timeout_s: float | None = None,
    ) -> Generator[EventView, None, None]:
        """The event log after `after_seq`, then new events as they happen; it never ends by
        itself (stop reading, or pass `timeout_s`: its end is then ApiError
        DEADLINE_EXCEEDED). Closing the iterator hangs up."""
        request = pb.WatchEventsRequest(
            after_seq=after_seq, job_id=job_id, tenant=tenant, client_key_prefix=client_key_prefix
        )
        stream = self._stub.WatchEvents(request, metadata=self._metadata, timeout=timeout_s)
        try:
            for message in stream:
                yield event_view(message)
        except grpc.RpcError as exc:
            raise ApiError.of(exc) from None
        finally:
            stream.cancel()
