"""The Admin service over a real gRPC server on loopback, a coordinator on a SQLite file and the
fake executor on a manual clock: every served RPC answers what the pool, the ledger and the audit
trail hold; SetNodeState cordons (seen by ListNodes, GetCapacity and ListAudit, with the
operator's token name) and takes a node down (its job is queued again); only an operator may call
(a tenant's token is PERMISSION_DENIED, none UNAUTHENTICATED, and nothing changes); bad requests
name the field; the RPCs not built yet answer UNIMPLEMENTED."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
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
)
NOT_SERVED = (
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
        "RegisterNode": pb.RegisterNodeRequest(),
        "RemoveNode": pb.RemoveNodeRequest(node_id=SZ_NODE),
        "PutTenant": pb.PutTenantRequest(),
        "PutProgram": pb.PutProgramRequest(),
        "PutApproval": pb.PutApprovalRequest(),
        "ExportEvidence": pb.ExportEvidenceRequest(),
    }[rpc]


@pytest.mark.parametrize("rpc", SERVED + NOT_SERVED)
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
def test_an_operator_may_call_every_served_rpc(api: Served, rpc: str) -> None:
    reply = getattr(api.admin_as(OPERATOR_TOKEN), rpc)(a_request(rpc), timeout=10)

    assert reply is not None


@pytest.mark.parametrize("rpc", NOT_SERVED)
def test_the_rpcs_not_built_yet_are_unimplemented(api: Served, world: World, rpc: str) -> None:
    before = snapshot(world)

    error = refused(getattr(api.admin, rpc), a_request(rpc))

    assert error.code() is grpc.StatusCode.UNIMPLEMENTED
    assert rpc in (error.details() or "")
    assert snapshot(world) == before


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
