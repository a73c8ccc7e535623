"""The Admin service over a real gRPC server on loopback, a coordinator on a SQLite file and the
fake executor on a manual clock: every served RPC answers what the pool, the ledger and the audit
trail hold; SetNodeState cordons (seen by ListNodes, GetCapacity and ListAudit, with the
operator's token name) and takes a node down (its job is queued again); only an operator may call
(a tenant's token is PERMISSION_DENIED, none UNAUTHENTICATED, and nothing changes); bad requests
name the field. The writes (RegisterNode, RemoveNode, PutTenant, PutProgram, PutApproval) change
the pool the next cycle sees and are audited; a refused write changes nothing. ExportEvidence
streams the ledger's settlements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from scheduler.api.convert import event_data
from scheduler.api.v1 import admin_pb2 as pb
from scheduler.api.v1 import common_pb2
from scheduler.domain.accelerators import Precision
from scheduler.domain.capacity import capacity_report
from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import JobState
from scheduler.domain.nodes import NodeState, OwnerClass
from scheduler.domain.tenants import TenantFlag
from scheduler.ledger.reports import owner_report, program_report, tenant_report
from tests.api_builders import (
    OPERATOR_TOKEN,
    Served,
    a_token_book,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND, CATALOGUE, H800, a_pool, a_tenant, an_approval
from tests.service_builders import T0, World, money

M = TypeVar("M", bound=Message)
OPERATOR_NAME = "ops"  # the operator's token name in `a_token_book`
SZ_NODE = "sz-gov-huawei-ascend-910b-000"
HK_NODE = "hk-corp-nvidia-h800-000"
SERVED = (
    "GetPool",
    "GetCapacity",
    "ListNodes",
    "SetNodeState",
    "ListTenants",
    "ListPrograms",
    "ListApprovals",
    "GetUsageReport",
    "ListAudit",
    "RegisterNode",
    "RemoveNode",
    "PutTenant",
    "PutProgram",
    "PutApproval",
    "ExportEvidence",
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    pool = (
        a_pool()
        .nodes(1, ASCEND, owner="sz-gov")
        .nodes(
            1,
            H800,
            city=City.HONG_KONG,
            owner="hk-corp",
            owner_class=OwnerClass.ENTERPRISE,
            prefix=HK_NODE.removesuffix("-000"),
        )
        .tenant(a_tenant("t1").flags(TenantFlag.STARTUP).quota(ASCEND, 8, borrowing=0))
        .tenant(a_tenant("t2").priorities("low"))
        .approval(an_approval("ap-live").held_by("t1").expires_at(T0 + 86_400))
        .approval(an_approval("ap-old").held_by("t2").expires_at(T0 - 1))
        .build()
    )
    yield from world_on_sqlite(tmp_path / "admin.db", pool, programs=money())


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1", "t2"))


def refused(call: Any, request: Any) -> grpc.Call:
    with pytest.raises(grpc.RpcError) as raised:
        result = call(request, timeout=10)
        if not hasattr(result, "ListFields"):  # a stream: the error comes when it is read
            list(result)
    error = raised.value
    assert isinstance(error, grpc.Call)
    return error


def snapshot(world: World) -> tuple[object, ...]:
    """Everything an Admin call could change."""
    store = world.store
    return (
        tuple((n.id, n.state) for n in store.nodes()),
        tuple((n.id, n.state) for n in world.coordinator.pool.nodes.values()),
        tuple((a.seq, a.action, a.subject) for a in store.audit()),
        tuple((e.seq, e.kind) for e in store.events(limit=10_000)),
        tuple((j.id, j.state) for j in store.jobs(limit=1000)),
        len(world.coordinator.ledger),
        tuple(store.tenants()),
        tuple(store.programs()),
        tuple(store.approvals()),
        tuple(world.coordinator.pool.tenants.values()),
        tuple(world.coordinator.programs.values()),
        tuple(world.coordinator.pool.approvals.values()),
    )


def run_one_job_to_the_end(world: World) -> str:
    job = world.submit("t1")
    world.run()
    world.run(3600)
    world.run()
    assert world.state(job) is JobState.SUCCEEDED
    return job


# ---------------------------------------------------------------------- the pool


def test_get_pool_answers_the_pools_configuration(api: Served, world: World) -> None:
    reply = api.admin.GetPool(pb.GetPoolRequest(), timeout=10)

    assert reply.name == "test"
    assert [m.id for m in reply.catalogue] == sorted(CATALOGUE)
    ascend = next(m for m in reply.catalogue if m.id == ASCEND)
    assert (ascend.vendor, ascend.domestic, ascend.tflops_fp16, ascend.memory_gib) == (
        "Huawei",
        True,
        320,
        64,
    )
    assert not ascend.HasField("tflops_fp32")
    assert ascend.tops_int8 == 640
    assert [(o.id, o.owner_class, o.currency) for o in reply.owners] == [
        ("hk-corp", common_pb2.OWNER_CLASS_ENTERPRISE, common_pb2.CURRENCY_HKD),
        ("sz-gov", common_pb2.OWNER_CLASS_GOVERNMENT, common_pb2.CURRENCY_CNY),
    ]
    assert [(p.name, p.value) for p in reply.priority_classes] == [
        ("high", 1000),
        ("standard", 500),
        ("low", 100),
    ]
    assert reply.default_priority_class == "standard"
    assert reply.policy == world.coordinator.policy.name == "priority-fairshare:binpack"
    assert reply.fair_share_half_life_s == world.coordinator.policy.half_life_s
    assert (reply.nodes, reply.tenants) == (2, 2)


def test_get_capacity_answers_capacity_report_in_integers(api: Served, world: World) -> None:
    report = capacity_report(world.coordinator.pool)

    reply = api.admin.GetCapacity(pb.GetCapacityRequest(), timeout=10)

    assert reply.pool == report.pool
    assert (reply.nodes, reply.accelerators) == (report.nodes, report.accelerators) == (2, 16)
    assert (reply.schedulable_nodes, reply.schedulable_accelerators) == (2, 16)
    assert [(t.precision, t.tflops, t.counted_accelerators) for t in reply.totals] == [
        (
            common_pb2.Precision.Value(f"PRECISION_{p.name}"),
            report.tflops[p],
            report.counted_accelerators[p],
        )
        for p in Precision
    ]
    assert reply.domestic_accelerators == report.domestic_accelerators == 8
    assert reply.domestic_tflops_fp16 == report.domestic_tflops_fp16 == 8 * 320
    assert reply.domestic_share_bp == 5000
    assert reply.domestic_share_tflops_bp == 8 * 320 * 10_000 // report.tflops_fp16
    assert len(reply.by_city) == len(City)  # empty slices too, in enum order
    assert [c.city for c in reply.by_city] == list(range(1, len(City) + 1))
    hong_kong = reply.by_city[list(City).index(City.HONG_KONG)]
    assert hong_kong.jurisdiction == common_pb2.JURISDICTION_HONG_KONG
    assert (hong_kong.capacity.nodes, hong_kong.capacity.accelerators) == (1, 8)
    assert hong_kong.capacity.domestic_share_bp == 0
    assert [j.capacity.accelerators for j in reply.by_jurisdiction] == [
        report.by_jurisdiction[j].accelerators for j in Jurisdiction
    ]
    assert [o.capacity.nodes for o in reply.by_owner_class] == [
        report.by_owner_class[k].nodes for k in OwnerClass
    ]
    assert [(m.model, m.capacity.tflops_fp16) for m in reply.by_model] == [
        (model, report.by_model[model].tflops_fp16) for model in CATALOGUE
    ]
    assert [(t.name, t.fraction_ppm) for t in reply.targets] == [
        ("guangdong-2025", report.tflops_fp16 * 1_000_000 // (40 * 1_000_000)),
        ("guangdong-2027", report.tflops_fp16 * 1_000_000 // (60 * 1_000_000)),
    ]


def test_list_nodes_answers_the_pools_nodes_filtered_and_paged(api: Served, world: World) -> None:
    reply = api.admin.ListNodes(pb.ListNodesRequest(), timeout=10)

    assert [n.id for n in reply.nodes] == sorted(world.coordinator.pool.nodes) == [HK_NODE, SZ_NODE]
    assert reply.next_page_token == ""
    hk = reply.nodes[0]
    assert (hk.owner, hk.city, hk.jurisdiction, hk.model, hk.accelerators) == (
        "hk-corp",
        common_pb2.CITY_HONG_KONG,
        common_pb2.JURISDICTION_HONG_KONG,
        H800,
        8,
    )
    assert (hk.price.currency, hk.price.minor, hk.state) == (
        common_pb2.CURRENCY_HKD,
        1000,
        common_pb2.NODE_STATE_UP,
    )

    def ids(**fields: Any) -> list[str]:
        return [n.id for n in api.admin.ListNodes(pb.ListNodesRequest(**fields)).nodes]

    assert ids(city="CITY_SHENZHEN") == [SZ_NODE]
    assert ids(owner="hk-corp") == [HK_NODE]
    assert ids(model=ASCEND) == [SZ_NODE]
    assert ids(states=["NODE_STATE_CORDONED"]) == []
    first = api.admin.ListNodes(pb.ListNodesRequest(page_size=1))
    assert [n.id for n in first.nodes] == [HK_NODE]
    assert first.next_page_token
    rest = api.admin.ListNodes(pb.ListNodesRequest(page_size=1, page_token=first.next_page_token))
    assert ([n.id for n in rest.nodes], rest.next_page_token) == ([SZ_NODE], "")


# ----------------------------------------------------------------- tenants, programs, approvals


def test_list_tenants_answers_the_pools_tenants_with_their_quotas(api: Served) -> None:
    reply = api.admin.ListTenants(pb.ListTenantsRequest(), timeout=10)

    assert [t.id for t in reply.tenants] == ["t1", "t2"]
    t1, t2 = reply.tenants
    assert list(t1.flags) == [common_pb2.TENANT_FLAG_STARTUP]
    assert t1.HasField("quotas")
    [flavor] = t1.quotas.flavors
    assert (flavor.model, flavor.nominal, flavor.borrowing_limit) == (ASCEND, 8, 0)
    assert not flavor.HasField("lending_limit")
    assert not t2.HasField("quotas")  # not quota-limited
    assert list(t2.priority_classes) == ["low"]
    first = api.admin.ListTenants(pb.ListTenantsRequest(page_size=1))
    rest = api.admin.ListTenants(pb.ListTenantsRequest(page_token=first.next_page_token))
    assert [t.id for t in (*first.tenants, *rest.tenants)] == ["t1", "t2"]
    assert rest.next_page_token == ""


def test_list_programs_answers_the_coordinators_programs(api: Served, world: World) -> None:
    reply = api.admin.ListPrograms(pb.ListProgramsRequest(), timeout=10)

    assert [p.id for p in reply.programs] == sorted(world.coordinator.programs)
    [message] = reply.programs
    program = world.coordinator.programs[message.id]
    assert (message.budget, message.valid_from, message.valid_until) == (
        program.budget,
        program.valid_from,
        program.valid_until,
    )
    assert (message.rates.domestic_bp, message.rates.other_bp) == (5000, 5000)
    assert message.currency == common_pb2.CURRENCY_CNY
    assert message.cap_period_s == program.cap_period_s


def test_list_approvals_answers_active_ones_unless_asked_for_expired(api: Served) -> None:
    def ids(**fields: Any) -> list[str]:
        reply = api.admin.ListApprovals(pb.ListApprovalsRequest(**fields), timeout=10)
        return [a.id for a in reply.approvals]

    assert ids() == ["ap-live"]
    assert ids(include_expired=True) == ["ap-live", "ap-old"]
    assert ids(tenant="t2", include_expired=True) == ["ap-old"]
    assert ids(tenant="t2") == []
    [live] = api.admin.ListApprovals(pb.ListApprovalsRequest()).approvals
    assert (live.tenant, live.from_zone, live.to_zone, live.expires_at) == (
        "t1",
        common_pb2.JURISDICTION_MAINLAND,
        common_pb2.JURISDICTION_HONG_KONG,
        T0 + 86_400,
    )


# ---------------------------------------------------------------------- money


def test_get_usage_report_answers_the_ledgers_reports(api: Served, world: World) -> None:
    run_one_job_to_the_end(world)
    ledger = world.coordinator.ledger
    programs = [world.coordinator.programs[p] for p in sorted(world.coordinator.programs)]

    reply = api.admin.GetUsageReport(pb.GetUsageReportRequest(), timeout=10)

    assert reply.as_of_posting == len(ledger) > 0
    assert [
        (r.program, r.budget, r.reserved, r.paid, r.remaining, tuple(r.tenants_served))
        for r in reply.programs
    ] == [
        (r.program, r.budget, r.reserved, r.paid, r.remaining, r.tenants_served)
        for r in program_report(ledger, programs)
    ]
    assert reply.programs[0].paid > 0
    assert reply.programs[0].domestic_bp == 10_000  # Ascend is domestic
    assert [
        (r.tenant, r.deposited, r.balance, r.spent, r.subsidised, r.attempts_settled)
        for r in reply.tenants
    ] == [
        (r.tenant, r.deposited, r.balance, r.spent, r.subsidised, r.attempts_settled)
        for r in tenant_report(ledger)
    ]
    assert [(r.owner, r.receivable, r.accelerator_seconds) for r in reply.owners] == [
        (r.owner, r.receivable, r.accelerator_seconds) for r in owner_report(ledger)
    ]
    assert reply.owners[0].receivable > 0

    owners_only = api.admin.GetUsageReport(
        pb.GetUsageReportRequest(kinds=["USAGE_REPORT_KIND_OWNERS"])
    )
    assert (len(owners_only.programs), len(owners_only.tenants)) == (0, 0)
    assert list(owners_only.owners) == list(reply.owners)


# ---------------------------------------------------------------------- node states and audit


def test_cordoning_a_node_shows_in_list_nodes_capacity_and_the_audit(api: Served) -> None:
    reply = api.admin.SetNodeState(
        pb.SetNodeStateRequest(node_id=SZ_NODE, state="NODE_STATE_CORDONED"), timeout=10
    )

    assert reply.previous_state == common_pb2.NODE_STATE_UP
    assert (reply.node.id, reply.node.state) == (SZ_NODE, common_pb2.NODE_STATE_CORDONED)
    cordoned = api.admin.ListNodes(pb.ListNodesRequest(states=["NODE_STATE_CORDONED"]))
    assert [n.id for n in cordoned.nodes] == [SZ_NODE]
    capacity = api.admin.GetCapacity(pb.GetCapacityRequest())
    assert (capacity.nodes, capacity.schedulable_nodes) == (2, 1)
    audit = api.admin.ListAudit(pb.ListAuditRequest(action="node.state"))
    [record] = audit.records
    assert (record.actor, record.action, record.subject) == (OPERATOR_NAME, "node.state", SZ_NODE)
    assert event_data(record.details) == {"from": "up", "to": "cordoned"}
    again = api.admin.SetNodeState(
        pb.SetNodeStateRequest(node_id=SZ_NODE, state="NODE_STATE_UP"), timeout=10
    )
    assert (again.previous_state, again.node.state) == (
        common_pb2.NODE_STATE_CORDONED,
        common_pb2.NODE_STATE_UP,
    )


def test_taking_down_a_node_that_runs_a_job_queues_the_job_again(api: Served, world: World) -> None:
    job = world.submit("t1")
    world.run()
    world.run(1)
    assert world.state(job) is JobState.RUNNING
    assert SZ_NODE in (world.record(job).placement or pytest.fail("no placement")).nodes

    reply = api.admin.SetNodeState(
        pb.SetNodeStateRequest(node_id=SZ_NODE, state="NODE_STATE_DOWN"), timeout=10
    )
    world.run()

    assert reply.previous_state == common_pb2.NODE_STATE_UP
    assert world.coordinator.pool.nodes[SZ_NODE].state is NodeState.DOWN
    assert world.state(job) is JobState.QUEUED
    assert "requeued" in world.kinds(job)
    assert world.record(job).failures == 0


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        (pb.SetNodeStateRequest(state="NODE_STATE_CORDONED"), "INVALID_ARGUMENT", "node_id"),
        (pb.SetNodeStateRequest(node_id=SZ_NODE), "INVALID_ARGUMENT", "state"),
        (
            pb.SetNodeStateRequest(node_id="ghost", state="NODE_STATE_CORDONED"),
            "NOT_FOUND",
            "node_id",
        ),
    ],
)
def test_a_bad_node_state_change_names_its_field_and_changes_nothing(
    api: Served, world: World, request_: pb.SetNodeStateRequest, code: str, field: str
) -> None:
    before = snapshot(world)
    error = refused(api.admin.SetNodeState, request_)
    assert error.code().name == code
    assert (error.details() or "").startswith(f"{field}: ")
    assert snapshot(world) == before


def test_list_audit_pages_and_filters(api: Served, world: World) -> None:
    for state in ("NODE_STATE_CORDONED", "NODE_STATE_UP", "NODE_STATE_DRAINING"):
        api.admin.SetNodeState(pb.SetNodeStateRequest(node_id=SZ_NODE, state=state))
    api.admin.SetNodeState(pb.SetNodeStateRequest(node_id=HK_NODE, state="NODE_STATE_CORDONED"))
    stored = world.store.audit()
    assert len(stored) >= 4

    seen: list[pb.AuditRecord] = []
    token = ""
    while True:
        page = api.admin.ListAudit(pb.ListAuditRequest(page_size=2, page_token=token))
        assert len(page.records) <= 2
        seen.extend(page.records)
        token = page.next_page_token
        if not token:
            break
    assert [(r.seq, r.action, r.subject, r.actor) for r in seen] == [
        (a.seq, a.action, a.subject, a.actor) for a in stored
    ]
    about_hk = api.admin.ListAudit(pb.ListAuditRequest(subject=HK_NODE)).records
    assert [r.seq for r in about_hk] == [a.seq for a in stored if a.subject == HK_NODE]
    states = api.admin.ListAudit(pb.ListAuditRequest(subject=HK_NODE, action="node.state"))
    assert [event_data(r.details) for r in states.records] == [{"from": "up", "to": "cordoned"}]
    later = api.admin.ListAudit(pb.ListAuditRequest(after_seq=stored[-2].seq)).records
    assert [r.seq for r in later] == [stored[-1].seq]


# ---------------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("rpc", "request_", "field"),
    [
        ("SetNodeState", pb.SetNodeStateRequest(node_id=SZ_NODE), "state"),
        ("SetNodeState", pb.SetNodeStateRequest(node_id=SZ_NODE, state=99), "state"),  # type: ignore[arg-type]
        ("ListNodes", pb.ListNodesRequest(states=["NODE_STATE_UNSPECIFIED"]), "states[0]"),
        ("ListNodes", pb.ListNodesRequest(city=42), "city"),  # type: ignore[arg-type]
        ("ListNodes", pb.ListNodesRequest(page_size=1001), "page_size"),
        ("ListTenants", pb.ListTenantsRequest(page_size=-1), "page_size"),
        ("GetUsageReport", pb.GetUsageReportRequest(kinds=[0]), "kinds[0]"),  # type: ignore[list-item]
        ("ListAudit", pb.ListAuditRequest(page_token="not-a-seq"), "page_token"),
        ("ListAudit", pb.ListAuditRequest(after_seq=-1), "after_seq"),
    ],
)
def test_a_bad_request_is_invalid_argument_naming_the_field(
    api: Served, world: World, rpc: str, request_: Any, field: str
) -> None:
    before = snapshot(world)

    error = refused(getattr(api.admin, rpc), request_)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(f"{field}: ")
    assert snapshot(world) == before


def test_an_unknown_node_is_not_found(api: Served, world: World) -> None:
    before = snapshot(world)

    error = refused(
        api.admin.SetNodeState, pb.SetNodeStateRequest(node_id="ghost", state="NODE_STATE_DOWN")
    )

    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert "node_id" in (error.details() or "")
    assert "ghost" in (error.details() or "")
    assert snapshot(world) == before


# ---------------------------------------------------------------------- who may call


def a_request(rpc: str) -> Any:
    """A request an operator could sensibly make (one that changes something, for SetNodeState)."""
    return {
        "GetPool": pb.GetPoolRequest(),
        "GetCapacity": pb.GetCapacityRequest(),
        "ListNodes": pb.ListNodesRequest(),
        "SetNodeState": pb.SetNodeStateRequest(node_id=SZ_NODE, state="NODE_STATE_DOWN"),
        "ListTenants": pb.ListTenantsRequest(),
        "ListPrograms": pb.ListProgramsRequest(),
        "ListApprovals": pb.ListApprovalsRequest(),
        "GetUsageReport": pb.GetUsageReportRequest(),
        "ListAudit": pb.ListAuditRequest(),
        "RegisterNode": pb.RegisterNodeRequest(node=a_node_message("sz-new-000")),
        "RemoveNode": pb.RemoveNodeRequest(node_id=HK_NODE),
        "PutTenant": pb.PutTenantRequest(tenant=pb.Tenant(id="t9", name="newcomer")),
        "PutProgram": pb.PutProgramRequest(program=a_program_message("gz-voucher")),
        "PutApproval": pb.PutApprovalRequest(approval=an_approval_message("ap-new")),
        "ExportEvidence": pb.ExportEvidenceRequest(),
    }[rpc]


@pytest.mark.parametrize("rpc", SERVED)
@pytest.mark.parametrize(
    ("token", "code"),
    [
        (tenant_token("t1"), grpc.StatusCode.PERMISSION_DENIED),
        (None, grpc.StatusCode.UNAUTHENTICATED),
        ("not-a-token-anyone-was-given", grpc.StatusCode.UNAUTHENTICATED),
    ],
    ids=["tenant", "no token", "wrong token"],
)
def test_only_an_operator_may_call_and_a_refused_call_changes_nothing(
    api: Served, world: World, rpc: str, token: str | None, code: grpc.StatusCode
) -> None:
    world.submit("t1")
    world.run()
    before = snapshot(world)

    error = refused(getattr(api.admin_as(token), rpc), a_request(rpc))

    assert error.code() is code
    assert "not-a-token" not in (error.details() or "")
    assert snapshot(world) == before


@pytest.mark.parametrize("rpc", SERVED)
def test_an_operator_may_call_every_rpc(api: Served, rpc: str) -> None:
    reply = getattr(api.admin_as(OPERATOR_TOKEN), rpc)(a_request(rpc), timeout=10)
    if not hasattr(reply, "ListFields"):
        reply = list(reply)

    assert reply is not None


# ---------------------------------------------------------------------- health and reflection


def test_health_and_reflection_know_the_admin_service(api: Served) -> None:
    health = health_pb2_grpc.HealthStub(api.channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service="gba.scheduler.v1.Admin"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(api.channel)
    replies = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"gba.scheduler.v1.Admin", "gba.scheduler.v1.Scheduler"} <= names


# ---------------------------------------------------------------------- changing the pool


def a_node_message(node_id: str, **fields: Any) -> pb.Node:
    """A Shenzhen node of 8 Ascend owned by `sz-gov`, like the pool's own, with `fields`."""
    message = pb.Node(
        id=node_id,
        owner="sz-gov",
        owner_class=common_pb2.OWNER_CLASS_GOVERNMENT,
        city=common_pb2.CITY_SHENZHEN,
        model=ASCEND,
        accelerators=8,
        price=common_pb2.Money(currency=common_pb2.CURRENCY_CNY, minor=1000),
    )
    return with_fields(message, fields)


def with_fields(message: M, fields: dict[str, Any]) -> M:
    """`message` with each field set (None: cleared), message and repeated fields included."""
    for name, value in fields.items():
        if value is None:
            message.ClearField(name)
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        elif isinstance(value, list):
            del getattr(message, name)[:]
            getattr(message, name).extend(value)
        elif isinstance(value, dict):
            getattr(message, name).clear()
            getattr(message, name).update(value)
        else:
            setattr(message, name, value)
    return message


def a_program_message(program_id: str, **fields: Any) -> pb.Program:
    message = pb.Program(
        id=program_id,
        name="Guangzhou voucher",
        sponsor="gz-gov",
        currency=common_pb2.CURRENCY_CNY,
        budget=500_000,
        valid_from=T0 - 3600,
        valid_until=T0 + 365 * 86_400,
        rates=pb.Rates(domestic_bp=3000, other_bp=1000),
    )
    return with_fields(message, fields)


def an_approval_message(approval_id: str, **fields: Any) -> common_pb2.Approval:
    message = common_pb2.Approval(
        id=approval_id,
        tenant="t2",
        from_zone=common_pb2.JURISDICTION_HONG_KONG,
        to_zone=common_pb2.JURISDICTION_MAINLAND,
        expires_at=T0 + 86_400,
    )
    return with_fields(message, fields)


def register(node: pb.Node) -> pb.RegisterNodeRequest:
    return pb.RegisterNodeRequest(node=node)


def put_program(program: pb.Program) -> pb.PutProgramRequest:
    return pb.PutProgramRequest(program=program)


def invalid(api: Served, rpc: str, request: Any) -> str:
    """The field an INVALID_ARGUMENT answer names."""
    error = refused(getattr(api.admin, rpc), request)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, error.details()
    return (error.details() or "").split(":")[0]


def test_a_registered_node_is_listed_audited_and_takes_waiting_work(
    api: Served, world: World
) -> None:
    world.submit("t1")  # fills the one Ascend node
    waiting = world.submit("t2", priority="low")
    world.run()
    assert world.state(waiting) is JobState.QUEUED

    reply = api.admin.RegisterNode(
        pb.RegisterNodeRequest(node=a_node_message("sz-new-000", labels={"rack": "r7"})),
        timeout=10,
    )
    world.run()

    assert reply.created and reply.node.state == common_pb2.NODE_STATE_UP
    assert reply.node.jurisdiction == common_pb2.JURISDICTION_MAINLAND
    listed = api.admin.ListNodes(pb.ListNodesRequest(), timeout=10).nodes
    assert [n.id for n in listed if n.id == "sz-new-000"] == ["sz-new-000"]
    assert dict(next(n for n in listed if n.id == "sz-new-000").labels) == {"rack": "r7"}
    [audit] = api.admin.ListAudit(
        pb.ListAuditRequest(action="node.put", subject="sz-new-000"), timeout=10
    ).records
    assert audit.actor == OPERATOR_NAME
    assert world.state(waiting) is JobState.ADMITTED
    again = api.admin.RegisterNode(
        pb.RegisterNodeRequest(node=a_node_message("sz-new-000", labels={"rack": "r7"})),
        timeout=10,
    )
    assert not again.created


@pytest.mark.parametrize(
    ("rpc", "request_", "field"),
    [
        ("RegisterNode", pb.RegisterNodeRequest(), "node"),
        ("RegisterNode", pb.RegisterNodeRequest(node=a_node_message("")), "node.id"),
        ("RegisterNode", pb.RegisterNodeRequest(node=a_node_message("n x")), "node.id"),
        ("RegisterNode", pb.RegisterNodeRequest(node=a_node_message("n", owner="x")), "node.owner"),
        ("RegisterNode", pb.RegisterNodeRequest(node=a_node_message("n", model="x")), "node.model"),
        (
            "RegisterNode",
            pb.RegisterNodeRequest(node=a_node_message("n", price=None)),
            "node.price",
        ),
        (
            "RegisterNode",
            pb.RegisterNodeRequest(node=a_node_message("n", accelerators=0)),
            "node.accelerators",
        ),
        ("RegisterNode", pb.RegisterNodeRequest(node=a_node_message("n", city=0)), "node.city"),
        (
            "RegisterNode",
            register(a_node_message("n", accelerators=2**31 - 1)),
            "node.accelerators",
        ),
        (
            "RegisterNode",
            pb.RegisterNodeRequest(node=a_node_message("n", owner_class=2)),
            "node.owner_class",
        ),
        (
            "RegisterNode",
            pb.RegisterNodeRequest(
                node=a_node_message(
                    "n", price=common_pb2.Money(currency=common_pb2.CURRENCY_HKD, minor=5)
                )
            ),
            "node.price",
        ),
        (  # a CNY owner's node in Hong Kong, priced in CNY
            "RegisterNode",
            register(a_node_message("n", city=common_pb2.CITY_HONG_KONG)),
            "node.price",
        ),
        (  # a HKD owner's node in Shenzhen, priced in HKD
            "RegisterNode",
            register(
                a_node_message(
                    "n",
                    owner="hk-corp",
                    owner_class=common_pb2.OWNER_CLASS_ENTERPRISE,
                    price=common_pb2.Money(currency=common_pb2.CURRENCY_HKD, minor=5),
                )
            ),
            "node.price",
        ),
        ("RemoveNode", pb.RemoveNodeRequest(), "node_id"),
        ("PutTenant", pb.PutTenantRequest(), "tenant"),
        ("PutTenant", pb.PutTenantRequest(tenant=pb.Tenant(id="t9", weight=-1)), "tenant.weight"),
        (
            "PutTenant",
            pb.PutTenantRequest(tenant=pb.Tenant(id="t9", priority_classes=["gold"])),
            "tenant.priority_classes",
        ),
        ("PutTenant", pb.PutTenantRequest(tenant=pb.Tenant(id="t9", flags=[0])), "tenant.flags[0]"),
        (
            "PutTenant",
            pb.PutTenantRequest(
                tenant=pb.Tenant(
                    id="t9", quotas=pb.Quotas(flavors=[pb.FlavorQuota(model=ASCEND, nominal=-1)])
                )
            ),
            "tenant.quotas.flavors[0].nominal",
        ),
        (
            "PutTenant",
            pb.PutTenantRequest(
                tenant=pb.Tenant(
                    id="t9",
                    quotas=pb.Quotas(
                        flavors=[
                            pb.FlavorQuota(model=ASCEND, nominal=8),
                            pb.FlavorQuota(model="no-such-chip", nominal=8),
                        ]
                    ),
                )
            ),
            "tenant.quotas.flavors[1]",
        ),
        (
            "PutTenant",
            pb.PutTenantRequest(
                tenant=pb.Tenant(
                    id="t9",
                    quotas=pb.Quotas(
                        flavors=[
                            pb.FlavorQuota(model=ASCEND, nominal=8),
                            pb.FlavorQuota(model=H800, nominal=8),
                            pb.FlavorQuota(model=ASCEND, nominal=4),
                        ]
                    ),
                )
            ),
            "tenant.quotas.flavors[2]",
        ),
        ("PutProgram", pb.PutProgramRequest(), "program"),
        (
            "PutProgram",
            pb.PutProgramRequest(program=a_program_message("p", budget=-1)),
            "program.budget",
        ),
        (
            "PutProgram",
            pb.PutProgramRequest(
                program=a_program_message("p", rates=pb.Rates(domestic_bp=10_001))
            ),
            "program.rates.domestic_bp",
        ),
        (
            "PutProgram",
            pb.PutProgramRequest(program=a_program_message("p", valid_until=T0 - 7200)),
            "program.valid_until",
        ),
        (
            "PutProgram",
            pb.PutProgramRequest(program=a_program_message("p", eligible_tenants=["ghost"])),
            "program.eligible_tenants",
        ),
        (
            "PutProgram",
            pb.PutProgramRequest(program=a_program_message("p", currency=common_pb2.CURRENCY_MOP)),
            "program.currency",
        ),
        (
            "PutProgram",
            pb.PutProgramRequest(program=a_program_message("sz-voucher", sponsor="someone")),
            "program.sponsor",
        ),
        ("PutApproval", pb.PutApprovalRequest(), "approval"),
        (
            "PutApproval",
            pb.PutApprovalRequest(approval=an_approval_message("a", tenant="ghost")),
            "approval.tenant",
        ),
        (
            "PutApproval",
            pb.PutApprovalRequest(
                approval=an_approval_message("a", to_zone=common_pb2.JURISDICTION_HONG_KONG)
            ),
            "approval.to_zone",
        ),
        (
            "PutApproval",
            pb.PutApprovalRequest(approval=an_approval_message("a", from_zone=0)),
            "approval.from_zone",
        ),
        ("ExportEvidence", pb.ExportEvidenceRequest(after_posting=-1), "after_posting"),
    ],
)
def test_a_bad_write_names_the_field_and_changes_nothing(
    api: Served, world: World, rpc: str, request_: Any, field: str
) -> None:
    before = snapshot(world)

    assert invalid(api, rpc, request_) == field
    assert snapshot(world) == before


def test_a_busy_node_cannot_be_removed_and_an_idle_one_is_gone_for_good(
    api: Served, world: World
) -> None:
    job = world.submit("t1")
    world.run()
    world.run()  # its start reported: the refused call below has nothing of its own to write
    [busy] = world.nodes_of(job)
    before = snapshot(world)

    error = refused(api.admin.RemoveNode, pb.RemoveNodeRequest(node_id=busy))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "drain" in (error.details() or "")
    assert snapshot(world) == before
    missing = refused(api.admin.RemoveNode, pb.RemoveNodeRequest(node_id="ghost"))
    assert missing.code() is grpc.StatusCode.NOT_FOUND

    removed = api.admin.RemoveNode(pb.RemoveNodeRequest(node_id=HK_NODE), timeout=10)

    assert removed.node.id == HK_NODE
    assert HK_NODE not in {n.id for n in api.admin.ListNodes(pb.ListNodesRequest()).nodes}
    [audit] = api.admin.ListAudit(pb.ListAuditRequest(action="node.remove"), timeout=10).records
    assert (audit.actor, audit.subject) == (OPERATOR_NAME, HK_NODE)
    assert event_data(audit.details)["old"]["model"] == H800


def test_a_put_tenant_replaces_its_quotas_whole(api: Served, world: World) -> None:
    tenant = pb.Tenant(
        id="t1",
        name="t1",
        quotas=pb.Quotas(flavors=[pb.FlavorQuota(model=ASCEND, nominal=16, borrowing_limit=0)]),
    )
    reply = api.admin.PutTenant(pb.PutTenantRequest(tenant=tenant), timeout=10)
    fresh = api.admin.PutTenant(
        pb.PutTenantRequest(tenant=pb.Tenant(id="t9", flags=[common_pb2.TENANT_FLAG_SME])),
        timeout=10,
    )

    assert not reply.created and fresh.created
    assert fresh.tenant.name == "t9" and fresh.tenant.weight == 1
    listed = {t.id: t for t in api.admin.ListTenants(pb.ListTenantsRequest()).tenants}
    assert [(f.model, f.nominal) for f in listed["t1"].quotas.flavors] == [(ASCEND, 16)]
    assert not listed["t1"].flags  # replaced whole: the start-up flag is gone
    assert "t9" in {t.id for t in world.store.tenants()}


def test_a_new_program_is_funded_and_a_budget_cut_into_what_is_reserved_refused(
    api: Served, world: World
) -> None:
    reply = api.admin.PutProgram(
        pb.PutProgramRequest(program=a_program_message("gz-voucher")), timeout=10
    )
    assert reply.created
    reports = api.admin.GetUsageReport(pb.GetUsageReportRequest(), timeout=10).programs
    gz = next(r for r in reports if r.program == "gz-voucher")
    assert (gz.budget, gz.remaining) == (500_000, 500_000)

    world.submit("t1")
    world.run()
    sz = next(
        r
        for r in api.admin.GetUsageReport(pb.GetUsageReportRequest(), timeout=10).programs
        if r.program == "sz-voucher"
    )
    assert sz.reserved > 0
    current = next(
        p for p in api.admin.ListPrograms(pb.ListProgramsRequest()).programs if p.id == "sz-voucher"
    )
    cut = pb.Program()
    cut.CopyFrom(current)
    cut.budget = sz.reserved + sz.paid - 1
    assert invalid(api, "PutProgram", pb.PutProgramRequest(program=cut)) == "program.budget"
    cut.budget = sz.reserved + sz.paid
    api.admin.PutProgram(pb.PutProgramRequest(program=cut), timeout=10)
    sz = next(
        r
        for r in api.admin.GetUsageReport(pb.GetUsageReportRequest(), timeout=10).programs
        if r.program == "sz-voucher"
    )
    assert (sz.budget, sz.remaining) == (cut.budget, 0)


def test_a_put_approval_is_listed_and_audited(api: Served) -> None:
    reply = api.admin.PutApproval(
        pb.PutApprovalRequest(approval=an_approval_message("ap-new")), timeout=10
    )

    assert reply.created
    listed = api.admin.ListApprovals(pb.ListApprovalsRequest(tenant="t2"), timeout=10).approvals
    assert [a.id for a in listed] == ["ap-new"]
    [audit] = api.admin.ListAudit(
        pb.ListAuditRequest(action="approval.put", subject="ap-new")
    ).records
    assert audit.actor == OPERATOR_NAME


# ---------------------------------------------------------------------- evidence


def test_evidence_rows_recompute_and_filter(api: Served, world: World) -> None:
    job = run_one_job_to_the_end(world)

    [row] = list(api.admin.ExportEvidence(pb.ExportEvidenceRequest(), timeout=10))

    assert (row.job, row.attempt, row.tenant, row.supplier) == (job, 1, "t1", "sz-gov")
    assert row.currency == common_pb2.CURRENCY_CNY
    # cost = round_half_up(price × accelerator-seconds / 3600) = shares + co-payment
    assert row.cost == (row.price * row.accelerator_seconds + 1800) // 3600
    assert row.cost == sum(s.amount for s in row.shares) + row.copay
    assert [s.program for s in row.shares] == ["sz-voucher"]

    def rows(**filters: Any) -> list[pb.EvidenceRow]:
        return list(api.admin.ExportEvidence(pb.ExportEvidenceRequest(**filters), timeout=10))

    assert rows(tenant="t2") == [] and rows(supplier="hk-corp") == []
    assert rows(program="sz-voucher") == [row] == rows(tenant="t1")
    assert rows(after_posting=row.posting) == []
