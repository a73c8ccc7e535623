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

import enum
import ipaddress
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import grpc

from scheduler.api import convert
from scheduler.api.auth import bearer
from scheduler.api.convert import JobSpec
from scheduler.api.v1 import admin_pb2, admin_pb2_grpc, scheduler_pb2_grpc
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.domain.accelerators import AcceleratorModel, Catalogue, Precision
from scheduler.domain.capacity import Breakdown, CapacityReport
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Currency
from scheduler.domain.jobs import JobState, Placement
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState, Owner
from scheduler.domain.pool import Pool
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import PriorityClass, Tenant
from scheduler.ledger.programs import Program
from scheduler.ledger.reports import OwnerReport, ProgramReport, TenantReport

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_PAGE_SIZE = 100


__all__ = [
    "ApiError",
    "EventView",
    "JobSpec",
    "JobView",
    "PoolView",
    "SchedulerClient",
    "Submission",
    "SubmitResult",
    "UsageReportView",
]

E = TypeVar("E", bound=enum.Enum)


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
    programs: tuple[str, ...] = ()  # the subsidy programs the job asked to pay, by id
    cost: tuple[Money, ...] = ()  # so far, one per currency billed; empty before any usage
    subsidy: tuple[Money, ...] = ()  # what programs pay of `cost`, in the same currencies
    subsidy_by_program: tuple[tuple[str, Money], ...] = ()  # `subsidy` by program id
    reserved: tuple[Money, ...] = ()  # held for the open attempt, not yet settled
    # As the workers reported it, in basis points (0..10000) of the current (or last) attempt;
    # None until that attempt reported. `checkpoint_bp`: the newest checkpoint of any attempt.
    progress_bp: int | None = None
    progress_at: int | None = None  # when that report was recorded (epoch seconds)
    checkpoint_bp: int | None = None

    @property
    def placement_summary(self) -> str:
        """E.g. `2x8 huawei-ascend-910b in mainland on n1, n2`; empty before admission."""
        return placement_summary(self.placement)

    @property
    def copay(self) -> tuple[Money, ...]:
        """What the tenant pays itself of `cost`, per currency: cost minus subsidy."""
        paid = {money.currency: money for money in self.subsidy}
        return tuple(c - paid.get(c.currency, Money(c.currency, 0)) for c in self.cost)


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
        programs=tuple(message.spec.programs),
        cost=tuple(convert.money(m, f"cost[{i}]") for i, m in enumerate(message.cost)),
        subsidy=tuple(convert.money(m, f"subsidy[{i}]") for i, m in enumerate(message.subsidy)),
        subsidy_by_program=tuple(
            (p.program, convert.money(p.amount, f"subsidy_by_program[{i}].amount"))
            for i, p in enumerate(message.subsidy_by_program)
        ),
        reserved=tuple(convert.money(m, f"reserved[{i}]") for i, m in enumerate(message.reserved)),
        progress_bp=message.progress_bp if message.HasField("progress_bp") else None,
        progress_at=message.progress_at if message.HasField("progress_at") else None,
        checkpoint_bp=message.checkpoint_bp if message.HasField("checkpoint_bp") else None,
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


# ---------------------------------------------------------------------- the Admin service's replies


@dataclass(frozen=True, slots=True)
class PoolView:
    """The pool's configuration as `Admin.GetPool` shows it (without nodes and tenants, which it
    only counts)."""

    name: str
    catalogue: Catalogue
    owners: tuple[Owner, ...]
    priority_classes: tuple[PriorityClass, ...]  # highest value first
    default_priority_class: str  # empty: a job must name its class
    policy: str
    fair_share_half_life_s: int
    nodes: int
    tenants: int


@dataclass(frozen=True, slots=True)
class UsageReportView:
    """The ledger's reports asked for (the others empty), as of ledger posting
    `as_of_posting`. Amounts are integer minor units of each row's currency."""

    programs: tuple[ProgramReport, ...]
    tenants: tuple[TenantReport, ...]
    owners: tuple[OwnerReport, ...]
    as_of_posting: int


def pool_view(message: admin_pb2.GetPoolResponse) -> PoolView:
    return PoolView(
        name=message.name,
        catalogue=Catalogue(
            AcceleratorModel(
                id=m.id,
                vendor=m.vendor,
                domestic=m.domestic,
                tflops_fp16=m.tflops_fp16,
                memory_gib=m.memory_gib,
                tflops_fp32=m.tflops_fp32 if m.HasField("tflops_fp32") else None,
                tops_int8=m.tops_int8 if m.HasField("tops_int8") else None,
            )
            for m in message.catalogue
        ),
        owners=tuple(
            Owner(
                o.id,
                o.name,
                convert.owner_class(o.owner_class, "owner_class"),
                convert.currency(o.currency, "currency"),
            )
            for o in message.owners
        ),
        priority_classes=tuple(
            PriorityClass(p.name, p.value, p.description) for p in message.priority_classes
        ),
        default_priority_class=message.default_priority_class,
        policy=message.policy,
        fair_share_half_life_s=message.fair_share_half_life_s,
        nodes=message.nodes,
        tenants=message.tenants,
    )


def _breakdown(message: admin_pb2.Breakdown) -> Breakdown:
    return Breakdown(
        message.nodes, message.accelerators, message.tflops_fp16, message.domestic_accelerators
    )


def capacity_of(message: admin_pb2.GetCapacityResponse, catalogue: Catalogue) -> CapacityReport:
    """The capacity report the server computed, as `capacity_report` gives it locally;
    `catalogue` (from GetPool) describes the models."""
    totals = {convert.precision(t.precision, "totals.precision"): t for t in message.totals}
    return CapacityReport(
        pool=message.pool,
        nodes=message.nodes,
        accelerators=message.accelerators,
        schedulable_nodes=message.schedulable_nodes,
        schedulable_accelerators=message.schedulable_accelerators,
        tflops={p: totals[p].tflops if p in totals else 0 for p in Precision},
        counted_accelerators={
            p: totals[p].counted_accelerators if p in totals else 0 for p in Precision
        },
        domestic_accelerators=message.domestic_accelerators,
        domestic_tflops_fp16=message.domestic_tflops_fp16,
        by_city={
            convert.city(c.city, "by_city.city"): _breakdown(c.capacity) for c in message.by_city
        },
        by_owner_class={
            convert.owner_class(o.owner_class, "by_owner_class.owner_class"): _breakdown(o.capacity)
            for o in message.by_owner_class
        },
        by_jurisdiction={
            convert.jurisdiction(j.jurisdiction, "by_jurisdiction"): _breakdown(j.capacity)
            for j in message.by_jurisdiction
        },
        by_model={m.model: _breakdown(m.capacity) for m in message.by_model},
        catalogue=catalogue,
    )


def usage_report_view(message: admin_pb2.GetUsageReportResponse) -> UsageReportView:
    def currency(number: int) -> Currency:
        return convert.currency(number, "currency")

    return UsageReportView(
        programs=tuple(
            ProgramReport(
                program=r.program,
                currency=currency(r.currency),
                budget=r.budget,
                reserved=r.reserved,
                paid=r.paid,
                remaining=r.remaining,
                tenants_served=tuple(r.tenants_served),
                paid_domestic=r.paid_domestic,
                paid_other=r.paid_other,
            )
            for r in message.programs
        ),
        tenants=tuple(
            TenantReport(
                tenant=r.tenant,
                currency=currency(r.currency),
                deposited=r.deposited,
                balance=r.balance,
                reserved=r.reserved,
                spent=r.spent,
                subsidised=r.subsidised,
                attempts_settled=r.attempts_settled,
                accelerator_seconds=r.accelerator_seconds,
            )
            for r in message.tenants
        ),
        owners=tuple(
            OwnerReport(
                owner=r.owner,
                currency=currency(r.currency),
                receivable=r.receivable,
                accelerator_seconds=r.accelerator_seconds,
                attempts_settled=r.attempts_settled,
            )
            for r in message.owners
        ),
        as_of_posting=message.as_of_posting,
    )


def submit_message(submission: Submission) -> pb.SubmitJobRequest:
    if submission.client_key == "":
        # the wire's empty key is no key: a retry would then submit the job twice
        raise InvalidField("client_key", "must not be empty (None for no idempotency key)")
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
        self._admin = admin_pb2_grpc.AdminStub(self._channel)

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

    def _unary(self, method: str, request: Any, stub: Any = None) -> Any:
        try:
            return getattr(stub or self._stub, method)(
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
        *,
        newest_first: bool = False,
    ) -> Iterator[JobView]:
        """Every matching job in submission order (newest first with `newest_first`), fetched a
        page at a time as it is read."""
        wanted = [convert.job_state_number(state) for state in states]
        token = ""
        while True:
            request = pb.ListJobsRequest(
                tenant=tenant,
                states=wanted,
                page_size=page_size,
                page_token=token,
                newest_first=newest_first,
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
            after_seq=convert.wire_int(after_seq, 64, "after_seq"),
            job_id=job_id,
            tenant=tenant,
            client_key_prefix=client_key_prefix,
        )
        stream = self._stub.WatchEvents(request, metadata=self._metadata, timeout=timeout_s)
        try:
            for message in stream:
                yield event_view(message)
        except grpc.RpcError as exc:
            raise ApiError.of(exc) from None
        finally:
            stream.cancel()

    # ------------------------------------------------------------------ the Admin service
    # Operators only: a tenant's token is refused with ApiError PERMISSION_DENIED.

    def pool(self) -> PoolView:
        """The pool's configuration (Admin.GetPool)."""
        reply: admin_pb2.GetPoolResponse = self._unary(
            "GetPool", admin_pb2.GetPoolRequest(), self._admin
        )
        return pool_view(reply)

    def capacity(self, catalogue: Catalogue | None = None) -> CapacityReport:
        """The pool's capacity (Admin.GetCapacity); the models are described by `catalogue`, or
        by the pool's own (one more call, GetPool) when None."""
        if catalogue is None:
            catalogue = self.pool().catalogue
        reply: admin_pb2.GetCapacityResponse = self._unary(
            "GetCapacity", admin_pb2.GetCapacityRequest(), self._admin
        )
        return capacity_of(reply, catalogue)

    def nodes(
        self,
        *,
        owner: str = "",
        city: City | None = None,
        model: str = "",
        states: Iterable[NodeState] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Node]:
        """The pool's nodes by id, of `owner`, in `city`, of `model`, in one of `states` (each
        filter unset: any), a page at a time (Admin.ListNodes)."""
        token = ""
        while True:
            request = admin_pb2.ListNodesRequest(
                owner=owner,
                city=convert.city_number(city) if city is not None else None,
                model=model,
                states=[convert.node_state_number(state) for state in states],
                page_size=page_size,
                page_token=token,
            )
            reply: admin_pb2.ListNodesResponse = self._unary("ListNodes", request, self._admin)
            for message in reply.nodes:
                yield convert.node(message, "node")[0]
            token = reply.next_page_token
            if not token:
                return

    def register_node(self, node: Node, *, state: NodeState | None) -> tuple[Node, bool]:
        """Add a node, or replace the description of the node of its id (Admin.RegisterNode):
        the node as the pool now holds it, and whether it is new. `state` None: up for a new
        node, unchanged for a known one (`node.state` is then not sent)."""
        message = convert.node_message(node)
        if state is None:
            message.ClearField("state")
        else:
            message.state = convert.node_state_number(state)
        request = admin_pb2.RegisterNodeRequest(node=message)
        reply: admin_pb2.RegisterNodeResponse = self._unary("RegisterNode", request, self._admin)
        registered, _ = convert.node(reply.node, "node")
        return registered, reply.created

    def set_node_state(self, node_id: str, state: NodeState) -> tuple[Node, NodeState]:
        """Cordon, drain, take down or bring up a node (Admin.SetNodeState): the node as the
        pool now holds it, and the state it was in before."""
        request = admin_pb2.SetNodeStateRequest(
            node_id=node_id, state=convert.node_state_number(state)
        )
        reply: admin_pb2.SetNodeStateResponse = self._unary("SetNodeState", request, self._admin)
        node, _ = convert.node(reply.node, "node")
        return node, convert.node_state(reply.previous_state, "previous_state")

    def remove_node(self, node_id: str) -> Node:
        """Take a node out of the pool for good (Admin.RemoveNode); it must hold no work (drain
        or take it down first). Returns the node as it was."""
        request = admin_pb2.RemoveNodeRequest(node_id=node_id)
        reply: admin_pb2.RemoveNodeResponse = self._unary("RemoveNode", request, self._admin)
        node, _ = convert.node(reply.node, "node")
        return node

    def tenants(self, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[Tenant]:
        """Every tenant with its quotas, by id (Admin.ListTenants), a page at a time."""
        token = ""
        while True:
            request = admin_pb2.ListTenantsRequest(page_size=page_size, page_token=token)
            reply: admin_pb2.ListTenantsResponse = self._unary("ListTenants", request, self._admin)
            for message in reply.tenants:
                yield convert.tenant(message, "tenant")
            token = reply.next_page_token
            if not token:
                return

    def full_pool(self) -> Pool:
        """The pool as a domain value: its configuration, every node and every tenant (three
        Admin reads, not one snapshot: a change between them may show in one and not another).
        Approvals are left out. For checking files against the running pool."""
        view = self.pool()
        return Pool.build(
            name=view.name,
            catalogue=view.catalogue,
            owners=view.owners,
            nodes=list(self.nodes(page_size=1000)),
            tenants=list(self.tenants(page_size=1000)),
            priority_classes=view.priority_classes,
            default_priority_class=view.default_priority_class,
            policy=view.policy,
            fair_share_half_life_s=view.fair_share_half_life_s,
        )

    def put_program(self, program: Program) -> tuple[Program, bool]:
        """Add a subsidy program, or replace the program of its id (Admin.PutProgram; a budget
        cut below what it has reserved and paid is refused): the program as the pool now holds
        it, and whether it is new."""
        request = admin_pb2.PutProgramRequest(program=convert.program_message(program))
        reply: admin_pb2.PutProgramResponse = self._unary("PutProgram", request, self._admin)
        return convert.program(reply.program, "program"), reply.created

    def approvals(self, *, tenant: str = "", include_expired: bool = False) -> list[Approval]:
        """Cross-border approvals by id, of `tenant` (empty: every tenant's), expired ones only
        with `include_expired` (Admin.ListApprovals)."""
        request = admin_pb2.ListApprovalsRequest(tenant=tenant, include_expired=include_expired)
        reply: admin_pb2.ListApprovalsResponse = self._unary("ListApprovals", request, self._admin)
        return [convert.approval(message, "approval") for message in reply.approvals]

    def put_approval(self, approval: Approval) -> tuple[Approval, bool]:
        """Add a cross-border approval, or replace the approval of its id whole
        (Admin.PutApproval): the approval as the pool now holds it, and whether it is new."""
        request = admin_pb2.PutApprovalRequest(approval=convert.approval_message(approval))
        reply: admin_pb2.PutApprovalResponse = self._unary("PutApproval", request, self._admin)
        return convert.approval(reply.approval, "approval"), reply.created

    def put_tenant(self, tenant: Tenant) -> tuple[Tenant, bool]:
        """Add a tenant, or replace the tenant of its id whole, quotas included
        (Admin.PutTenant): the tenant as the pool now holds it, and whether it is new."""
        request = admin_pb2.PutTenantRequest(tenant=convert.tenant_message(tenant))
        reply: admin_pb2.PutTenantResponse = self._unary("PutTenant", request, self._admin)
        return convert.tenant(reply.tenant, "tenant"), reply.created

    def programs(self) -> list[Program]:
        """Every subsidy program, by id (Admin.ListPrograms)."""
        reply: admin_pb2.ListProgramsResponse = self._unary(
            "ListPrograms", admin_pb2.ListProgramsRequest(), self._admin
        )
        return [convert.program(message, "program") for message in reply.programs]

    def usage_report(
        self, *, programs: bool = True, tenants: bool = True, owners: bool = True
    ) -> UsageReportView:
        """The ledger's reports asked for (Admin.GetUsageReport); the others come back empty."""
        kinds = [
            kind
            for kind, wanted in (
                (admin_pb2.USAGE_REPORT_KIND_PROGRAMS, programs),
                (admin_pb2.USAGE_REPORT_KIND_TENANTS, tenants),
                (admin_pb2.USAGE_REPORT_KIND_OWNERS, owners),
            )
            if wanted
        ]
        if not kinds:  # the server would answer all three
            raise InvalidField("usage_report", "ask for at least one report")
        reply: admin_pb2.GetUsageReportResponse = self._unary(
            "GetUsageReport", admin_pb2.GetUsageReportRequest(kinds=kinds), self._admin
        )
        return usage_report_view(reply)
