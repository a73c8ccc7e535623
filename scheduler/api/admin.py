"""The operators' `Admin` service: thin like the `Scheduler` servicer (convert, call the
coordinator, convert back), with the same authentication, thread pool and error mapping
(`servicers.Calls`).

Every call needs an operator's token: none (or an unknown one) is UNAUTHENTICATED, a tenant's is
PERMISSION_DENIED, checked before anything else is looked at.

Served: GetPool, GetCapacity, ListNodes, ListTenants, ListPrograms, ListApprovals (the
coordinator's current pool and programs), SetNodeState (through the coordinator, audited with the
caller's token name), GetUsageReport (the ledger, read under the coordinator's core lock) and
ListAudit (the store's audit trail, through the coordinator).

Writes (RegisterNode, RemoveNode, PutTenant, PutProgram, PutApproval) go through the
coordinator, which checks them against the pool and the ledger before anything is written and
audits each with the caller's token name. ExportEvidence streams the ledger's settlements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from google.protobuf.message import Message

from scheduler.api import convert
from scheduler.api.errors import details_of, status_of
from scheduler.api.servicers import DEFAULT_PAGE, MAX_PAGE, Calls, Context
from scheduler.api.v1 import admin_pb2, admin_pb2_grpc
from scheduler.domain.capacity import capacity_report
from scheduler.domain.errors import InvalidField
from scheduler.domain.principals import Principal


def page_size(requested: int) -> int:
    """A request's `page_size`: 0 means the default; at most `MAX_PAGE`."""
    size = requested or DEFAULT_PAGE
    if not 0 < size <= MAX_PAGE:
        raise InvalidField("page_size", f"must be between 1 and {MAX_PAGE}")
    return size


M = TypeVar("M", bound=Message)
MAX_SEQ = 2**63 - 1  # the largest sequence number SQLite stores


class AdminServicer(Calls, admin_pb2_grpc.AdminServicer):
    async def _operator(self, context: Context, rpc: str) -> Principal:
        """The caller, if it is an operator; otherwise the call ends UNAUTHENTICATED or
        PERMISSION_DENIED."""
        principal = await self._principal(context)
        try:
            principal.require_operator(f"Admin.{rpc}")
        except Exception as exc:
            await context.abort(status_of(exc), details_of(exc))
            raise
        return principal

    # ------------------------------------------------------------------ the pool

    async def GetPool(
        self, request: admin_pb2.GetPoolRequest, context: Context
    ) -> admin_pb2.GetPoolResponse:
        await self._operator(context, "GetPool")
        policy = self._coordinator.policy
        return await self._call(
            context,
            lambda: convert.pool_message(self._coordinator.pool, policy.name, policy.half_life_s),
        )

    async def GetCapacity(
        self, request: admin_pb2.GetCapacityRequest, context: Context
    ) -> admin_pb2.GetCapacityResponse:
        await self._operator(context, "GetCapacity")
        return await self._call(
            context, lambda: convert.capacity_message(capacity_report(self._coordinator.pool))
        )

    async def ListNodes(
        self, request: admin_pb2.ListNodesRequest, context: Context
    ) -> admin_pb2.ListNodesResponse:
        await self._operator(context, "ListNodes")

        def work() -> admin_pb2.ListNodesResponse:
            size = page_size(request.page_size)
            city = convert.city(request.city, "city") if request.city else None
            states = set(convert.node_states(request.states, "states"))
            nodes = self._coordinator.pool.nodes
            matching = [
                nodes[i]
                for i in sorted(nodes)
                if i > request.page_token
                and (not request.owner or nodes[i].owner == request.owner)
                and (city is None or nodes[i].city is city)
                and (not request.model or nodes[i].model == request.model)
                and (not states or nodes[i].state in states)
            ]
            page = matching[:size]
            return admin_pb2.ListNodesResponse(
                nodes=[convert.node_message(n) for n in page],
                next_page_token=page[-1].id if len(matching) > size else "",
            )

        return await self._call(context, work)

    async def SetNodeState(
        self, request: admin_pb2.SetNodeStateRequest, context: Context
    ) -> admin_pb2.SetNodeStateResponse:
        principal = await self._operator(context, "SetNodeState")

        def work() -> admin_pb2.SetNodeStateResponse:
            if not request.node_id:
                raise InvalidField("node_id", "must not be empty")
            state = convert.node_state(request.state, "state")
            # The state before, as the pool held it just now (a concurrent change of the same
            # node may slip in between; the audit trail records each change's from and to).
            before = self._coordinator.pool.nodes.get(request.node_id)
            node = self._coordinator.set_node_state(request.node_id, state, actor=principal.name)
            previous = node.state if before is None else before.state
            return admin_pb2.SetNodeStateResponse(
                node=convert.node_message(node),
                previous_state=convert.node_state_number(previous),
            )

        return await self._call(context, work)

    # ------------------------------------------------------------- tenants, programs, approvals

    async def ListTenants(
        self, request: admin_pb2.ListTenantsRequest, context: Context
    ) -> admin_pb2.ListTenantsResponse:
        await self._operator(context, "ListTenants")

        def work() -> admin_pb2.ListTenantsResponse:
            size = page_size(request.page_size)
            tenants = self._coordinator.pool.tenants
            ids = [i for i in sorted(tenants) if i > request.page_token]
            page = ids[:size]
            return admin_pb2.ListTenantsResponse(
                tenants=[convert.tenant_message(tenants[i]) for i in page],
                next_page_token=page[-1] if len(ids) > size else "",
            )

        return await self._call(context, work)

    async def ListPrograms(
        self, request: admin_pb2.ListProgramsRequest, context: Context
    ) -> admin_pb2.ListProgramsResponse:
        await self._operator(context, "ListPrograms")

        def work() -> admin_pb2.ListProgramsResponse:
            programs = dict(self._coordinator.programs)
            return admin_pb2.ListProgramsResponse(
                programs=[convert.program_message(programs[i]) for i in sorted(programs)]
            )

        return await self._call(context, work)

    async def ListApprovals(
        self, request: admin_pb2.ListApprovalsRequest, context: Context
    ) -> admin_pb2.ListApprovalsResponse:
        await self._operator(context, "ListApprovals")

        def work() -> admin_pb2.ListApprovalsResponse:
            now = self._coordinator.clock.now()
            approvals = self._coordinator.pool.approvals
            return admin_pb2.ListApprovalsResponse(
                approvals=[
                    convert.approval_message(approvals[i])
                    for i in sorted(approvals)
                    if (not request.tenant or approvals[i].tenant == request.tenant)
                    and (request.include_expired or approvals[i].active(now))
                ]
            )

        return await self._call(context, work)

    # ------------------------------------------------------------------ money and audit

    async def GetUsageReport(
        self, request: admin_pb2.GetUsageReportRequest, context: Context
    ) -> admin_pb2.GetUsageReportResponse:
        await self._operator(context, "GetUsageReport")

        def work() -> admin_pb2.GetUsageReportResponse:
            kinds = set(convert.report_kinds(request.kinds, "kinds")) or set(convert.ReportKind)
            reports = self._coordinator.reports(
                programs=convert.ReportKind.PROGRAMS in kinds,
                tenants=convert.ReportKind.TENANTS in kinds,
                owners=convert.ReportKind.OWNERS in kinds,
            )
            return admin_pb2.GetUsageReportResponse(
                programs=[convert.program_report_message(r) for r in reports.programs],
                tenants=[convert.tenant_report_message(r) for r in reports.tenants],
                owners=[convert.owner_report_message(r) for r in reports.owners],
                as_of_posting=reports.as_of_posting,
            )

        return await self._call(context, work)

    async def ListAudit(
        self, request: admin_pb2.ListAuditRequest, context: Context
    ) -> admin_pb2.ListAuditResponse:
        await self._operator(context, "ListAudit")

        def work() -> admin_pb2.ListAuditResponse:
            size = page_size(request.page_size)
            if request.after_seq < 0:
                raise InvalidField("after_seq", "must not be negative")
            after = request.after_seq
            if request.page_token:
                token = request.page_token
                # A sequence number: at most 19 ASCII digits and within SQLite's integers.
                if not (token.isascii() and token.isdecimal() and len(token) <= 19) or (
                    int(token) > MAX_SEQ
                ):
                    raise InvalidField("page_token", "not a token this server gave out")
                after = max(after, int(token))
            records = self._coordinator.audit(
                after,
                action=request.action or None,
                subject=request.subject or None,
                limit=size + 1,
            )
            page = records[:size]
            return admin_pb2.ListAuditResponse(
                records=[convert.audit_message(r) for r in page],
                next_page_token=str(page[-1].seq) if len(records) > size else "",
            )

        return await self._call(context, work)

    # ------------------------------------------------------------------ changing the pool

    async def RegisterNode(
        self, request: admin_pb2.RegisterNodeRequest, context: Context
    ) -> admin_pb2.RegisterNodeResponse:
        principal = await self._operator(context, "RegisterNode")

        def work() -> admin_pb2.RegisterNodeResponse:
            node, state = convert.node(_required(request, "node").node, "node")
            node, created = self._coordinator.register_node(node, principal.name, state)
            return admin_pb2.RegisterNodeResponse(node=convert.node_message(node), created=created)

        return await self._call(context, work)

    async def RemoveNode(
        self, request: admin_pb2.RemoveNodeRequest, context: Context
    ) -> admin_pb2.RemoveNodeResponse:
        principal = await self._operator(context, "RemoveNode")

        def work() -> admin_pb2.RemoveNodeResponse:
            if not request.node_id:
                raise InvalidField("node_id", "must not be empty")
            node = self._coordinator.remove_node(request.node_id, principal.name)
            return admin_pb2.RemoveNodeResponse(node=convert.node_message(node))

        return await self._call(context, work)

    async def PutTenant(
        self, request: admin_pb2.PutTenantRequest, context: Context
    ) -> admin_pb2.PutTenantResponse:
        principal = await self._operator(context, "PutTenant")

        def work() -> admin_pb2.PutTenantResponse:
            tenant = convert.tenant(_required(request, "tenant").tenant, "tenant")
            tenant, created = self._coordinator.put_tenant(tenant, principal.name)
            return admin_pb2.PutTenantResponse(
                tenant=convert.tenant_message(tenant), created=created
            )

        return await self._call(context, work)

    async def PutProgram(
        self, request: admin_pb2.PutProgramRequest, context: Context
    ) -> admin_pb2.PutProgramResponse:
        principal = await self._operator(context, "PutProgram")

        def work() -> admin_pb2.PutProgramResponse:
            program = convert.program(_required(request, "program").program, "program")
            program, created = self._coordinator.put_program(program, principal.name)
            return admin_pb2.PutProgramResponse(
                program=convert.program_message(program), created=created
            )

        return await self._call(context, work)

    async def PutApproval(
        self, request: admin_pb2.PutApprovalRequest, context: Context
    ) -> admin_pb2.PutApprovalResponse:
        principal = await self._operator(context, "PutApproval")

        def work() -> admin_pb2.PutApprovalResponse:
            approval = convert.approval(_required(request, "approval").approval, "approval")
            approval, created = self._coordinator.put_approval(approval, principal.name)
            return admin_pb2.PutApprovalResponse(
                approval=convert.approval_message(approval), created=created
            )

        return await self._call(context, work)

    # ------------------------------------------------------------------ evidence

    async def ExportEvidence(
        self, request: admin_pb2.ExportEvidenceRequest, context: Context
    ) -> AsyncIterator[admin_pb2.EvidenceRow]:
        await self._operator(context, "ExportEvidence")

        def work() -> list[admin_pb2.EvidenceRow]:
            if request.after_posting < 0:
                raise InvalidField("after_posting", "must not be negative")
            rows = self._coordinator.evidence(
                request.after_posting,
                program=request.program or None,
                tenant=request.tenant or None,
                supplier=request.supplier or None,
            )
            return [convert.evidence_message(row) for row in rows]

        for row in await self._call(context, work):
            yield row


def _required(request: M, field: str) -> M:
    """`request`, once its message field `field` is known to be set."""
    if not request.HasField(field):
        raise InvalidField(field, "must be set")
    return request
