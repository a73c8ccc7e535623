"""Protocol buffers <-> domain values: the one place that knows both.

Enums map by name (`JURISDICTION_HONG_KONG` <-> `Jurisdiction.HONG_KONG`); an `_UNSPECIFIED` or
unknown number is refused naming the field. Integers the domain keeps unbounded are checked
against what the wire can carry. The server reads requests and writes replies; the client
(`scheduler.api.client`) writes requests and reads replies with `placement` and `event_data`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Struct

from scheduler.api.v1 import admin_pb2, common_pb2, scheduler_pb2
from scheduler.domain.accelerators import AcceleratorModel, Precision
from scheduler.domain.capacity import (
    GUANGDONG_TARGETS,
    TFLOPS_PER_EFLOPS,
    Breakdown,
    CapacityReport,
)
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.jobs import JobState, Placement
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState, Owner, OwnerClass
from scheduler.domain.pool import Pool
from scheduler.domain.requests import JobRequest
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import (
    FlavorQuota,
    PriorityClass,
    Tenant,
    TenantFlag,
    flavor_field,
)
from scheduler.ledger.evidence import EvidenceRow
from scheduler.ledger.programs import BASIS_POINTS, YEAR_S, Program, Rates
from scheduler.ledger.reports import OwnerReport, ProgramReport, TenantReport
from scheduler.service.job_money import MoneySoFar
from scheduler.service.job_progress import JobProgress
from scheduler.store.records import AuditRecord, Event, JobRecord

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")


def _to_domain(kind: type[E], prefix: str, number: int, field: str) -> E:
    known = _converted.get((kind, number))
    if known is not None:
        return cast(E, known)
    name = _wire_name(prefix, number)
    if name is None or name.endswith("_UNSPECIFIED"):
        raise InvalidField(field, "must be set")
    try:
        member = kind[name.removeprefix(prefix)]
    except KeyError:
        raise InvalidField(field, f"unknown value {number}") from None
    _converted[(kind, number)] = member
    return member


# Wire numbers already converted: a bulk submission converts the same few many times.
_converted: dict[tuple[type[enum.Enum], int], enum.Enum] = {}


_ENUMS: dict[str, dict[int, str]] = {
    "JURISDICTION_": {v.number: v.name for v in common_pb2.Jurisdiction.DESCRIPTOR.values},
    "JOB_STATE_": {v.number: v.name for v in common_pb2.JobState.DESCRIPTOR.values},
    "NODE_STATE_": {v.number: v.name for v in common_pb2.NodeState.DESCRIPTOR.values},
    "CITY_": {v.number: v.name for v in common_pb2.City.DESCRIPTOR.values},
    "USAGE_REPORT_KIND_": {v.number: v.name for v in admin_pb2.UsageReportKind.DESCRIPTOR.values},
    "OWNER_CLASS_": {v.number: v.name for v in common_pb2.OwnerClass.DESCRIPTOR.values},
    "CURRENCY_": {v.number: v.name for v in common_pb2.Currency.DESCRIPTOR.values},
    "TENANT_FLAG_": {v.number: v.name for v in common_pb2.TenantFlag.DESCRIPTOR.values},
    "PRECISION_": {v.number: v.name for v in common_pb2.Precision.DESCRIPTOR.values},
}


def _wire_name(prefix: str, number: int) -> str | None:
    return _ENUMS[prefix].get(number)


def jurisdiction(number: int, field: str) -> Jurisdiction:
    return _to_domain(Jurisdiction, "JURISDICTION_", number, field)


def job_state(number: int, field: str) -> JobState:
    return _to_domain(JobState, "JOB_STATE_", number, field)


# The stubs type enum fields by the enum's class, `Value` by int: the cast joins the two.
def job_state_number(state: JobState) -> common_pb2.JobState:
    return cast(common_pb2.JobState, common_pb2.JobState.Value(f"JOB_STATE_{state.name}"))


def jurisdiction_number(zone: Jurisdiction) -> common_pb2.Jurisdiction:
    number = common_pb2.Jurisdiction.Value(f"JURISDICTION_{zone.name}")
    return cast(common_pb2.Jurisdiction, number)


def job_request(message: scheduler_pb2.SubmitJobRequest, field: str, tenant: str) -> JobRequest:
    """A submission for `tenant` (the one the caller may submit as, resolved from
    `message.tenant`) as the domain's request; errors name `<field>spec.…` (`field` is a
    prefix: empty, or `jobs[3].`)."""
    if not message.HasField("spec"):
        raise InvalidField(f"{field}spec", "is required")
    spec = message.spec
    origin = _converted.get((Jurisdiction, spec.data_origin))
    # Bulk submissions go through here once per job: empty repeated fields (most) skip tuple().
    models, approvals, programs = spec.models, spec.approvals, spec.programs
    # Positional, in field order: keyword arguments cost ~0.45 µs a job on the bulk path.
    return JobRequest(
        tenant,  # tenant
        spec.workers,  # workers
        spec.per_worker,  # per_worker
        spec.walltime_s,  # walltime_s
        (  # data_origin
            cast(Jurisdiction, origin)
            if origin is not None
            else jurisdiction(spec.data_origin, f"{field}spec.data_origin")
        ),
        tuple(models) if models else (),  # models
        spec.min_tflops_fp16 if spec.HasField("min_tflops_fp16") else None,  # min_tflops_fp16
        spec.priority_class,  # priority_class
        spec.preemptible if spec.HasField("preemptible") else True,  # preemptible
        spec.checkpoint_interval_s,  # checkpoint_interval_s
        tuple(approvals) if approvals else (),  # approvals
        spec.entrypoint,  # entrypoint
        tuple(programs) if programs else (),  # programs
        message.client_key or None,  # client_key
    )


def placement_message(placement: Placement) -> common_pb2.Placement:
    return common_pb2.Placement(
        model=placement.model,
        zone=jurisdiction_number(placement.zone),
        workers=[
            common_pb2.WorkerPlacement(node=node, accelerators=count)
            for node, count in placement.workers
        ],
        approval=placement.approval or "",
    )


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a job needs; mirrors the API's `JobSpec` (and the domain's `JobRequest` without
    tenant and client key). Name `models`, or set `min_tflops_fp16`, or both."""

    workers: int
    per_worker: int
    walltime_s: int
    data_origin: Jurisdiction = Jurisdiction.MAINLAND
    models: tuple[str, ...] = ()
    min_tflops_fp16: int | None = None
    priority_class: str = ""
    preemptible: bool = True
    checkpoint_interval_s: int = 0
    approvals: tuple[str, ...] = ()
    entrypoint: str = ""
    programs: tuple[str, ...] = ()


def wire_int(value: int, bits: int, field: str) -> int:
    """`value` if a signed integer field of `bits` bits can carry it, else InvalidField naming
    `field` (protobuf itself says only "Value out of range", naming no field)."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not low <= value <= high:
        raise InvalidField(field, f"must be between {low:,} and {high:,}, got {value:,}")
    return value


def spec_message(spec: JobSpec) -> scheduler_pb2.JobSpec:
    """`spec` on the wire; a number the wire cannot carry is an InvalidField naming `spec.…`."""
    message = scheduler_pb2.JobSpec(
        workers=wire_int(spec.workers, 32, "spec.workers"),
        per_worker=wire_int(spec.per_worker, 32, "spec.per_worker"),
        models=list(spec.models),
        priority_class=spec.priority_class,
        walltime_s=wire_int(spec.walltime_s, 64, "spec.walltime_s"),
        data_origin=jurisdiction_number(spec.data_origin),
        preemptible=spec.preemptible,
        checkpoint_interval_s=wire_int(
            spec.checkpoint_interval_s, 64, "spec.checkpoint_interval_s"
        ),
        approvals=list(spec.approvals),
        entrypoint=spec.entrypoint,
        programs=list(spec.programs),
    )
    if spec.min_tflops_fp16 is not None:
        message.min_tflops_fp16 = wire_int(spec.min_tflops_fp16, 32, "spec.min_tflops_fp16")
    return message


def job_message(
    record: JobRecord,
    reason: tuple[str, str] | None = None,
    money: Iterable[MoneySoFar] = (),
    progress: JobProgress | None = None,
) -> scheduler_pb2.Job:
    """A stored job as the API shows it; `reason` (code, words) overrides the stored one (a
    queued job's pending reason lives in the coordinator's memory). `money` is the job's cost so
    far per currency (`Coordinator.job_money`): `cost` and `subsidy` get one entry each per
    currency with usage counted, in the same (sorted) order, so `cost[i] - subsidy[i]` is the
    tenant's co-payment; `subsidy_by_program` splits `subsidy` by program; `reserved` is what the
    open attempt still holds. `progress` (`Coordinator.progress`) fills `progress_bp`,
    `progress_at` and `checkpoint_bp`; None leaves them absent."""
    job = record.job
    spec = spec_message(
        JobSpec(
            workers=job.gang.workers,
            per_worker=job.gang.per_worker,
            walltime_s=job.walltime_s,
            data_origin=job.data_origin,
            models=tuple(sorted(job.models)) if job.min_tflops_fp16 is None else (),
            min_tflops_fp16=job.min_tflops_fp16,
            priority_class=job.priority_class,
            preemptible=job.preemptible,
            checkpoint_interval_s=job.checkpoint_interval_s,
            approvals=job.approvals,
            entrypoint=job.entrypoint,
            programs=job.programs,
        )
    )
    code, words = reason or (record.reason_code or "", record.reason or "")
    message = scheduler_pb2.Job(
        id=job.id,
        tenant=job.tenant,
        spec=spec,
        state=job_state_number(record.state),
        attempt=record.attempt,
        failures=record.failures,
        submitted_at=job.submitted_at,
        updated_at=record.updated_at,
        reason_code=code,
        reason=words,
        accepted_models=sorted(job.models),
        priority=job.priority,
        client_key=job.client_key or "",
    )
    if record.placement is not None:
        message.placement.CopyFrom(placement_message(record.placement))
    if record.started_at is not None:
        message.started_at = record.started_at
    if record.ended_at is not None:
        message.ended_at = record.ended_at
    for part in sorted(money, key=lambda m: m.currency):
        if part.billed:
            message.cost.append(money_message(Money(part.currency, part.cost)))
            message.subsidy.append(money_message(Money(part.currency, part.subsidy)))
            for program_id, amount in part.shares:
                message.subsidy_by_program.add(
                    program=program_id, amount=money_message(Money(part.currency, amount))
                )
        if part.reserved:
            message.reserved.append(money_message(Money(part.currency, part.reserved)))
    if progress is not None:
        message.progress_bp = progress.progress_bp
        message.progress_at = progress.at
        if progress.checkpoint_bp is not None:
            message.checkpoint_bp = progress.checkpoint_bp
    return message


def event_message(event: Event) -> scheduler_pb2.JobEvent:
    data = Struct()
    ParseDict(dict(event.data), data)
    return scheduler_pb2.JobEvent(
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        job_id=event.job_id or "",
        tenant=event.tenant or "",
        data=data,
    )


def placement(message: common_pb2.Placement, field: str) -> Placement:
    """A placement as the API sent it, back as the domain's value."""
    return Placement(
        model=message.model,
        zone=jurisdiction(message.zone, f"{field}.zone"),
        workers=tuple((w.node, w.accelerators) for w in message.workers),
        approval=message.approval or None,
    )


# Struct numbers are doubles; integers round-trip exactly up to 2^53.
_EXACT = 2**53


def event_data(data: Struct) -> dict[str, Any]:
    """An event's details as plain JSON values, integral numbers back as ints."""
    plain: dict[str, Any] = _integral(MessageToDict(data))
    return plain


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def job_states(numbers: Iterable[int], field: str) -> list[JobState]:
    return [job_state(n, f"{field}[{i}]") for i, n in enumerate(numbers)]


# ---------------------------------------------------------------------------- the Admin service


class ReportKind(enum.StrEnum):
    """The ledger reports `GetUsageReport` reads (`UsageReportKind` without its prefix)."""

    PROGRAMS = "programs"
    TENANTS = "tenants"
    OWNERS = "owners"


def node_state(number: int, field: str) -> NodeState:
    return _to_domain(NodeState, "NODE_STATE_", number, field)


def node_states(numbers: Iterable[int], field: str) -> list[NodeState]:
    return [node_state(n, f"{field}[{i}]") for i, n in enumerate(numbers)]


def city(number: int, field: str) -> City:
    return _to_domain(City, "CITY_", number, field)


def report_kinds(numbers: Iterable[int], field: str) -> list[ReportKind]:
    return [
        _to_domain(ReportKind, "USAGE_REPORT_KIND_", n, f"{field}[{i}]")
        for i, n in enumerate(numbers)
    ]


def node_state_number(state: NodeState) -> common_pb2.NodeState:
    return cast(common_pb2.NodeState, common_pb2.NodeState.Value(f"NODE_STATE_{state.name}"))


def city_number(value: City) -> common_pb2.City:
    return cast(common_pb2.City, common_pb2.City.Value(f"CITY_{value.name}"))


def owner_class_number(value: OwnerClass) -> common_pb2.OwnerClass:
    return cast(common_pb2.OwnerClass, common_pb2.OwnerClass.Value(f"OWNER_CLASS_{value.name}"))


def currency_number(value: Currency) -> common_pb2.Currency:
    return cast(common_pb2.Currency, common_pb2.Currency.Value(f"CURRENCY_{value.name}"))


def precision_number(value: Precision) -> common_pb2.Precision:
    return cast(common_pb2.Precision, common_pb2.Precision.Value(f"PRECISION_{value.name}"))


def tenant_flag_numbers(flags: Iterable[TenantFlag]) -> list[common_pb2.TenantFlag]:
    """In the order of the `TenantFlag` enum."""
    order = list(TenantFlag)
    return [
        cast(common_pb2.TenantFlag, common_pb2.TenantFlag.Value(f"TENANT_FLAG_{flag.name}"))
        for flag in sorted(flags, key=order.index)
    ]


def money_message(money: Money) -> common_pb2.Money:
    return common_pb2.Money(currency=currency_number(money.currency), minor=money.minor)


def accelerator_message(model: AcceleratorModel) -> admin_pb2.AcceleratorModel:
    message = admin_pb2.AcceleratorModel(
        id=model.id,
        vendor=model.vendor,
        domestic=model.domestic,
        tflops_fp16=model.tflops_fp16,
        memory_gib=model.memory_gib,
    )
    if model.tflops_fp32 is not None:
        message.tflops_fp32 = model.tflops_fp32
    if model.tops_int8 is not None:
        message.tops_int8 = model.tops_int8
    return message


def owner_message(owner: Owner) -> admin_pb2.Owner:
    return admin_pb2.Owner(
        id=owner.id,
        name=owner.name,
        owner_class=owner_class_number(owner.owner_class),
        currency=currency_number(owner.currency),
    )


def priority_class_message(priority: PriorityClass) -> admin_pb2.PriorityClass:
    return admin_pb2.PriorityClass(
        name=priority.name, value=priority.value, description=priority.description
    )


def pool_message(pool: Pool, policy: str, half_life_s: int) -> admin_pb2.GetPoolResponse:
    """The pool's configuration; `policy` and `half_life_s` are the ones the coordinator runs
    (the pool's own may be empty, meaning the defaults)."""
    classes = sorted(pool.priority_classes.values(), key=lambda p: (-p.value, p.name))
    return admin_pb2.GetPoolResponse(
        name=pool.name,
        catalogue=[accelerator_message(pool.catalogue[i]) for i in sorted(pool.catalogue)],
        owners=[owner_message(pool.owners[i]) for i in sorted(pool.owners)],
        priority_classes=[priority_class_message(p) for p in classes],
        default_priority_class=pool.default_priority_class,
        policy=policy,
        fair_share_half_life_s=half_life_s,
        nodes=len(pool.nodes),
        tenants=len(pool.tenants),
    )


def node_message(node: Node) -> admin_pb2.Node:
    return admin_pb2.Node(
        id=node.id,
        owner=node.owner,
        owner_class=owner_class_number(node.owner_class),
        city=city_number(node.city),
        jurisdiction=jurisdiction_number(node.jurisdiction),
        model=node.model,
        accelerators=node.accelerators,
        price=money_message(node.price),
        state=node_state_number(node.state),
        labels=dict(node.labels),
    )


def _bp(part: int, whole: int) -> int:
    """`part / whole` in basis points, rounded down; 0 when `whole` is 0."""
    return part * BASIS_POINTS // whole if whole else 0


def breakdown_message(slice_: Breakdown) -> admin_pb2.Breakdown:
    return admin_pb2.Breakdown(
        nodes=slice_.nodes,
        accelerators=slice_.accelerators,
        tflops_fp16=slice_.tflops_fp16,
        domestic_accelerators=slice_.domestic_accelerators,
        domestic_share_bp=_bp(slice_.domestic_accelerators, slice_.accelerators),
    )


PPM = 1_000_000


def capacity_message(report: CapacityReport) -> admin_pb2.GetCapacityResponse:
    """`capacity_report`'s figures as integers: shares in basis points and target progress in
    parts per million, rounded down."""
    fp16 = report.tflops_fp16
    return admin_pb2.GetCapacityResponse(
        pool=report.pool,
        nodes=report.nodes,
        accelerators=report.accelerators,
        schedulable_nodes=report.schedulable_nodes,
        schedulable_accelerators=report.schedulable_accelerators,
        totals=[
            admin_pb2.PrecisionTotal(
                precision=precision_number(p),
                tflops=report.tflops[p],
                counted_accelerators=report.counted_accelerators[p],
            )
            for p in Precision
        ],
        domestic_accelerators=report.domestic_accelerators,
        domestic_tflops_fp16=report.domestic_tflops_fp16,
        domestic_share_bp=_bp(report.domestic_accelerators, report.accelerators),
        domestic_share_tflops_bp=_bp(report.domestic_tflops_fp16, fp16),
        by_city=[
            admin_pb2.CityCapacity(
                city=city_number(c),
                jurisdiction=jurisdiction_number(c.jurisdiction),
                capacity=breakdown_message(slice_),
            )
            for c, slice_ in report.by_city.items()
        ],
        by_owner_class=[
            admin_pb2.OwnerClassCapacity(
                owner_class=owner_class_number(k), capacity=breakdown_message(slice_)
            )
            for k, slice_ in report.by_owner_class.items()
        ],
        by_jurisdiction=[
            admin_pb2.JurisdictionCapacity(
                jurisdiction=jurisdiction_number(k), capacity=breakdown_message(slice_)
            )
            for k, slice_ in report.by_jurisdiction.items()
        ],
        by_model=[
            admin_pb2.ModelCapacity(
                model=model_id,
                vendor=report.catalogue[model_id].vendor,
                domestic=report.catalogue[model_id].domestic,
                capacity=breakdown_message(slice_),
            )
            for model_id, slice_ in report.by_model.items()
        ],
        targets=[
            admin_pb2.TargetProgress(
                name=t.name,
                year=t.year,
                eflops_fp16=t.eflops,
                fraction_ppm=fp16 * PPM // (t.eflops * TFLOPS_PER_EFLOPS),
            )
            for t in GUANGDONG_TARGETS
        ],
    )


def tenant_message(tenant: Tenant) -> admin_pb2.Tenant:
    message = admin_pb2.Tenant(
        id=tenant.id,
        name=tenant.name,
        weight=tenant.weight,
        owner=tenant.owner or "",
        priority_classes=sorted(tenant.priority_classes),
        flags=tenant_flag_numbers(tenant.flags),
        cohort=tenant.cohort or "",
    )
    if tenant.quotas is not None:
        message.quotas.SetInParent()  # present even with no flavors: quota-limited
        for quota in tenant.quotas:
            flavor = message.quotas.flavors.add(model=quota.model, nominal=quota.nominal)
            if quota.borrowing_limit is not None:
                flavor.borrowing_limit = quota.borrowing_limit
            if quota.lending_limit is not None:
                flavor.lending_limit = quota.lending_limit
    return message


def program_message(program: Program) -> admin_pb2.Program:
    rates = admin_pb2.Rates(domestic_bp=program.rates.domestic_bp, other_bp=program.rates.other_bp)
    if program.rates.startup_domestic_bp is not None:
        rates.startup_domestic_bp = program.rates.startup_domestic_bp
    if program.rates.startup_other_bp is not None:
        rates.startup_other_bp = program.rates.startup_other_bp
    message = admin_pb2.Program(
        id=program.id,
        name=program.name,
        sponsor=program.sponsor,
        currency=currency_number(program.currency),
        budget=program.budget,
        valid_from=program.valid_from,
        valid_until=program.valid_until,
        rates=rates,
        eligible_tenants=sorted(program.eligible_tenants),
        eligible_flags=tenant_flag_numbers(program.eligible_flags),
        eligible_owners=sorted(program.eligible_owners),
        eligible_nodes=sorted(program.eligible_nodes),
        cap_period_s=program.cap_period_s,
        stacking_group=program.stacking_group or "",
    )
    if program.tenant_cap is not None:
        message.tenant_cap = program.tenant_cap
    return message


def approval_message(approval: Approval) -> common_pb2.Approval:
    return common_pb2.Approval(
        id=approval.id,
        tenant=approval.tenant,
        from_zone=jurisdiction_number(approval.from_zone),
        to_zone=jurisdiction_number(approval.to_zone),
        expires_at=approval.expires_at,
    )


def program_report_message(report: ProgramReport) -> admin_pb2.ProgramReport:
    return admin_pb2.ProgramReport(
        program=report.program,
        currency=currency_number(report.currency),
        budget=report.budget,
        reserved=report.reserved,
        paid=report.paid,
        remaining=report.remaining,
        tenants_served=list(report.tenants_served),
        paid_domestic=report.paid_domestic,
        paid_other=report.paid_other,
        domestic_bp=report.domestic_bp,
    )


def tenant_report_message(report: TenantReport) -> admin_pb2.TenantReport:
    return admin_pb2.TenantReport(
        tenant=report.tenant,
        currency=currency_number(report.currency),
        deposited=report.deposited,
        balance=report.balance,
        reserved=report.reserved,
        spent=report.spent,
        subsidised=report.subsidised,
        attempts_settled=report.attempts_settled,
        accelerator_seconds=report.accelerator_seconds,
    )


def owner_report_message(report: OwnerReport) -> admin_pb2.OwnerReport:
    return admin_pb2.OwnerReport(
        owner=report.owner,
        currency=currency_number(report.currency),
        receivable=report.receivable,
        accelerator_seconds=report.accelerator_seconds,
        attempts_settled=report.attempts_settled,
    )


def audit_message(record: AuditRecord) -> admin_pb2.AuditRecord:
    details = Struct()
    ParseDict(dict(record.details), details)
    return admin_pb2.AuditRecord(
        seq=record.seq,
        at=record.at,
        actor=record.actor,
        action=record.action,
        subject=record.subject,
        details=details,
    )


# ---------------------------------------------------------------------- operators' writes
#
# A pool's own checks name its key paths (`nodes.n1.owner`, `quotas.m.nominal`): each value is
# built inside `_built`, which moves them to the request's field (`node.owner`).

MAX_ID_CHARS = 128


def _identifier(value: str, field: str) -> str:
    if not value:
        raise InvalidField(field, "must not be empty")
    if len(value) > MAX_ID_CHARS or not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidField(field, f"must be 1 to {MAX_ID_CHARS} printable characters, no spaces")
    return value


def _name(value: str, field: str) -> str:
    """A non-empty name people read (spaces allowed)."""
    if not value.strip():
        raise InvalidField(field, "must not be empty")
    if len(value) > 4 * MAX_ID_CHARS or not value.isprintable():
        raise InvalidField(field, f"must be 1 to {4 * MAX_ID_CHARS} printable characters")
    return value


def _built(make: Callable[[], T], moves: Iterable[tuple[str, str]]) -> T:
    try:
        return make()
    except InvalidField as exc:
        for old, new in moves:
            moved = exc.moved(old, new)
            if moved is not exc:
                raise moved from None
        raise


def owner_class(number: int, field: str) -> OwnerClass:
    return _to_domain(OwnerClass, "OWNER_CLASS_", number, field)


def currency(number: int, field: str) -> Currency:
    return _to_domain(Currency, "CURRENCY_", number, field)


def precision(number: int, field: str) -> Precision:
    return _to_domain(Precision, "PRECISION_", number, field)


def money(message: common_pb2.Money, field: str) -> Money:
    return Money(currency(message.currency, f"{field}.currency"), message.minor)


def tenant_flags(numbers: Iterable[int], field: str) -> frozenset[TenantFlag]:
    return frozenset(
        _to_domain(TenantFlag, "TENANT_FLAG_", n, f"{field}[{i}]") for i, n in enumerate(numbers)
    )


def node(message: admin_pb2.Node, field: str) -> tuple[Node, NodeState | None]:
    """The node a request describes (up unless its state says), and the state it asks for
    (None: unspecified). `jurisdiction` is output only and ignored."""
    node_id = _identifier(message.id, f"{field}.id")
    state = node_state(message.state, f"{field}.state") if message.state else None
    if not message.HasField("price"):
        raise InvalidField(f"{field}.price", "must be set")
    price = money(message.price, f"{field}.price")
    for key in message.labels:
        _identifier(key, f"{field}.labels")
    made = _built(
        lambda: Node(
            node_id,
            _identifier(message.owner, f"{field}.owner"),
            owner_class(message.owner_class, f"{field}.owner_class"),
            city(message.city, f"{field}.city"),
            _identifier(message.model, f"{field}.model"),
            message.accelerators,
            price,
            state or NodeState.UP,
            tuple(sorted(message.labels.items())),
        ),
        [(f"nodes.{node_id}", field)],
    )
    return made, state


def tenant(message: admin_pb2.Tenant, field: str) -> Tenant:
    tenant_id = _identifier(message.id, f"{field}.id")
    quotas: tuple[FlavorQuota, ...] | None = None
    flavors = message.quotas.flavors
    models = [flavor.model for flavor in flavors]
    if message.HasField("quotas"):
        quotas = tuple(
            _flavor(flavor, f"{field}.quotas.flavors[{i}]") for i, flavor in enumerate(flavors)
        )
    try:
        return _built(
            lambda: Tenant(
                tenant_id,
                message.name or tenant_id,
                weight=message.weight or 1,
                owner=message.owner or None,
                priority_classes=frozenset(message.priority_classes),
                flags=tenant_flags(message.flags, f"{field}.flags"),
                cohort=message.cohort or None,
                quotas=quotas,
            ),
            [(f"tenants.{tenant_id}", field)],
        )
    except InvalidField as exc:
        raise flavor_field(exc, field, models) from None


def _flavor(message: admin_pb2.FlavorQuota, field: str) -> FlavorQuota:
    model = _identifier(message.model, f"{field}.model")
    return _built(
        lambda: FlavorQuota(
            model,
            message.nominal,
            message.borrowing_limit if message.HasField("borrowing_limit") else None,
            message.lending_limit if message.HasField("lending_limit") else None,
        ),
        [(f"quotas.{model}", field)],
    )


def program(message: admin_pb2.Program, field: str) -> Program:
    program_id = _identifier(message.id, f"{field}.id")
    rates = message.rates
    made_rates = _built(
        lambda: Rates(
            rates.domestic_bp,
            rates.other_bp,
            rates.startup_domestic_bp if rates.HasField("startup_domestic_bp") else None,
            rates.startup_other_bp if rates.HasField("startup_other_bp") else None,
        ),
        [("rates", f"{field}.rates")],
    )
    return _built(
        lambda: Program(
            program_id,
            message.name or program_id,
            _name(message.sponsor, f"{field}.sponsor"),
            currency(message.currency, f"{field}.currency"),
            message.budget,
            message.valid_from,
            message.valid_until,
            made_rates,
            eligible_tenants=frozenset(message.eligible_tenants),
            eligible_flags=tenant_flags(message.eligible_flags, f"{field}.eligible_flags"),
            eligible_owners=frozenset(message.eligible_owners),
            eligible_nodes=frozenset(message.eligible_nodes),
            tenant_cap=message.tenant_cap if message.HasField("tenant_cap") else None,
            cap_period_s=message.cap_period_s or YEAR_S,
            stacking_group=message.stacking_group or None,
        ),
        [(f"programs.{program_id}", field), ("programs", field)],
    )


def approval(message: common_pb2.Approval, field: str) -> Approval:
    approval_id = _identifier(message.id, f"{field}.id")
    return _built(
        lambda: Approval(
            approval_id,
            _identifier(message.tenant, f"{field}.tenant"),
            jurisdiction(message.from_zone, f"{field}.from_zone"),
            jurisdiction(message.to_zone, f"{field}.to_zone"),
            message.expires_at,
        ),
        [(f"approvals.{approval_id}", field)],
    )


def evidence_message(row: EvidenceRow) -> admin_pb2.EvidenceRow:
    return admin_pb2.EvidenceRow(
        posting=row.posting,
        settled_at=row.settled_at,
        job=row.job,
        attempt=row.attempt,
        tenant=row.tenant,
        supplier=row.supplier,
        nodes=row.nodes,
        model=row.model,
        domestic=row.domestic,
        accelerator_seconds=row.accelerator_seconds,
        currency=currency_number(row.currency),
        price=row.price,
        cost=row.cost,
        shares=[admin_pb2.ProgramShare(program=p, amount=a) for p, a in row.shares],
        copay=row.copay,
    )
