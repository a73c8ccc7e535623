"""Builders that speak the domain: `a_job().gang(2, "huawei-ascend-910b", 8).tenant("pcl")`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from scheduler.domain.accelerators import AcceleratorModel, Catalogue
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.jobs import Gang, Job, Placement, RunningJob
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState, Owner, OwnerClass
from scheduler.domain.pool import Pool
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import FlavorQuota, PriorityClass, Tenant, TenantFlag
from scheduler.ledger.programs import YEAR_S, Program, Rates
from scheduler.policy.service import Past, ServiceHistory

H800 = "nvidia-h800"
H20 = "nvidia-h20"
ASCEND = "huawei-ascend-910b"
MLU = "cambricon-mlu370-x8"

CATALOGUE = Catalogue(
    [
        AcceleratorModel(H800, "NVIDIA", False, 989, 80, 67, 1979),
        AcceleratorModel(H20, "NVIDIA", False, 148, 96, 44, 296),
        AcceleratorModel(ASCEND, "Huawei", True, 320, 64, None, 640),
        AcceleratorModel(MLU, "Cambricon", True, 96, 48, 24, 256),
    ]
)

PRIORITIES = (
    PriorityClass("low", 100),
    PriorityClass("standard", 500),
    PriorityClass("high", 1000),
)
PRIORITY_VALUE = {p.name: p.value for p in PRIORITIES}


@dataclass
class PoolBuilder:
    """`a_pool().nodes(4, ASCEND, city=City.SHENZHEN, owner="sz-gov").tenant(a_tenant("pcl"))`."""

    _nodes: list[Node] = field(default_factory=list)
    _owners: dict[str, Owner] = field(default_factory=dict)
    _tenants: list[Tenant] = field(default_factory=list)
    _approvals: list[Approval] = field(default_factory=list)

    def nodes(
        self,
        count: int,
        model: str = ASCEND,
        *,
        size: int = 8,
        city: City = City.SHENZHEN,
        owner: str | None = None,
        owner_class: OwnerClass = OwnerClass.GOVERNMENT,
        price: int = 1000,
        state: NodeState = NodeState.UP,
        prefix: str | None = None,
    ) -> PoolBuilder:
        """`count` nodes of `size` accelerators, priced in their city's currency (an owner
        bills in one currency, so an owner's nodes stand in one zone)."""
        currency = city.jurisdiction.currency
        owner = owner or f"{owner_class.value}-{city.value}"
        self._owners.setdefault(owner, Owner(owner, owner, owner_class, currency))
        prefix = prefix or f"{owner}-{model}"
        start = sum(1 for n in self._nodes if n.id.startswith(prefix + "-"))
        for i in range(start, start + count):
            self._nodes.append(
                Node(
                    f"{prefix}-{i:03d}",
                    owner,
                    owner_class,
                    city,
                    model,
                    size,
                    Money(currency, price),
                    state,
                )
            )
        return self

    def tenant(self, tenant: Tenant | TenantBuilder) -> PoolBuilder:
        self._tenants.append(tenant.build() if isinstance(tenant, TenantBuilder) else tenant)
        return self

    def approval(self, approval: Approval | ApprovalBuilder) -> PoolBuilder:
        self._approvals.append(
            approval.build() if isinstance(approval, ApprovalBuilder) else approval
        )
        return self

    def build(self) -> Pool:
        tenants = self._tenants or [Tenant("t1", "t1")]
        for tenant in tenants:
            if tenant.owner is not None and tenant.owner not in self._owners:
                raise ValueError(
                    f"tenant {tenant.id}: owner {tenant.owner} has no nodes in this pool"
                )
        return Pool.build(
            "test",
            CATALOGUE,
            self._owners.values(),
            self._nodes,
            tenants,
            PRIORITIES,
            self._approvals,
            "standard",
        )


def a_pool() -> PoolBuilder:
    return PoolBuilder()


@dataclass
class TenantBuilder:
    _tenant: Tenant

    def weight(self, weight: int) -> TenantBuilder:
        self._tenant = replace(self._tenant, weight=weight)
        return self

    def owner(self, owner: str) -> TenantBuilder:
        self._tenant = replace(self._tenant, owner=owner)
        return self

    def cohort(self, cohort: str) -> TenantBuilder:
        self._tenant = replace(self._tenant, cohort=cohort)
        return self

    def flags(self, *flags: TenantFlag) -> TenantBuilder:
        self._tenant = replace(self._tenant, flags=frozenset(flags))
        return self

    def priorities(self, *names: str) -> TenantBuilder:
        self._tenant = replace(self._tenant, priority_classes=frozenset(names))
        return self

    def quota(
        self, model: str, nominal: int, borrowing: int | None = None, lending: int | None = None
    ) -> TenantBuilder:
        quotas = (*(self._tenant.quotas or ()), FlavorQuota(model, nominal, borrowing, lending))
        self._tenant = replace(self._tenant, quotas=quotas)
        return self

    def build(self) -> Tenant:
        return self._tenant


def a_tenant(tenant_id: str) -> TenantBuilder:
    return TenantBuilder(Tenant(tenant_id, tenant_id))


@dataclass
class ApprovalBuilder:
    """`an_approval("ap1").held_by("pcl").into(Jurisdiction.HONG_KONG).expires_at(10_000)`."""

    _id: str
    _tenant: str = "t1"
    _from: Jurisdiction = Jurisdiction.MAINLAND
    _to: Jurisdiction = Jurisdiction.HONG_KONG
    _expires_at: int = 1_000_000

    def held_by(self, tenant: str) -> ApprovalBuilder:
        self._tenant = tenant
        return self

    def out_of(self, zone: Jurisdiction) -> ApprovalBuilder:
        self._from = zone
        return self

    def into(self, zone: Jurisdiction) -> ApprovalBuilder:
        self._to = zone
        return self

    def expires_at(self, when: int) -> ApprovalBuilder:
        self._expires_at = when
        return self

    def build(self) -> Approval:
        return Approval(self._id, self._tenant, self._from, self._to, self._expires_at)


def an_approval(approval_id: str) -> ApprovalBuilder:
    return ApprovalBuilder(approval_id)


_seq = itertools.count(1)


@dataclass
class JobBuilder:
    _id: str
    _tenant: str = "t1"
    _workers: int = 1
    _per_worker: int = 1
    _models: frozenset[str] = frozenset({ASCEND})
    _priority: str = "standard"
    _walltime: int = 3600
    _origin: Jurisdiction = Jurisdiction.MAINLAND
    _submitted: int = 0
    _seq: int | None = None
    _preemptible: bool = True
    _approvals: tuple[str, ...] = ()
    _programs: tuple[str, ...] = ()

    def tenant(self, tenant: str) -> JobBuilder:
        self._tenant = tenant
        return self

    def gang(self, workers: int, model: str | None = None, per_worker: int = 1) -> JobBuilder:
        self._workers, self._per_worker = workers, per_worker
        if model is not None:
            self._models = frozenset({model})
        return self

    def accelerators(self, count: int) -> JobBuilder:
        return self.gang(1, None, count)

    def models(self, *models: str) -> JobBuilder:
        self._models = frozenset(models)
        return self

    def priority(self, name: str) -> JobBuilder:
        self._priority = name
        return self

    def walltime(self, seconds: int) -> JobBuilder:
        self._walltime = seconds
        return self

    def origin(self, zone: Jurisdiction) -> JobBuilder:
        self._origin = zone
        return self

    def programs(self, *ids: str) -> JobBuilder:
        self._programs = ids
        return self

    def approvals(self, *ids: str) -> JobBuilder:
        self._approvals = ids
        return self

    def not_preemptible(self) -> JobBuilder:
        self._preemptible = False
        return self

    def seq(self, seq: int) -> JobBuilder:
        self._seq = seq
        return self

    def build(self) -> Job:
        return Job(
            id=self._id,
            tenant=self._tenant,
            gang=Gang(self._workers, self._per_worker),
            models=self._models,
            priority_class=self._priority,
            priority=PRIORITY_VALUE.get(self._priority, 0),
            walltime_s=self._walltime,
            data_origin=self._origin,
            submitted_at=self._submitted,
            seq=self._seq if self._seq is not None else next(_seq),
            preemptible=self._preemptible,
            approvals=self._approvals,
            programs=self._programs,
        )

    def running_on(
        self,
        *workers: tuple[str, int],
        started_at: int = 0,
        model: str | None = None,
        zone: Jurisdiction | None = None,
    ) -> RunningJob:
        job = self.build()
        placement = Placement(
            model or next(iter(sorted(job.models))), zone or job.data_origin, tuple(workers)
        )
        return RunningJob(job, placement, started_at)


def a_job(job_id: str) -> JobBuilder:
    return JobBuilder(job_id)


@dataclass
class HistoryBuilder:
    """What jobs have run: `a_history().attained("j", 3600).finished("t1", 8, 600, 900)`."""

    _service: ServiceHistory = field(default_factory=ServiceHistory)
    _done: int = 0

    def attained(self, job_id: str, accelerator_s: int, *, ended_at: int = 0) -> HistoryBuilder:
        """Job `job_id` (queued or running) had attempts end holding `accelerator_s`, the last
        at `ended_at`."""
        self._service.past[job_id] = Past(accelerator_s, ended_at)
        return self

    def finished(self, tenant: str, accelerators: int, *runtimes_s: int) -> HistoryBuilder:
        """The tenant finished jobs of `accelerators` that ran these many seconds, in order."""
        for seconds in runtimes_s:
            self._done += 1
            job_id = f"done-{self._done}"
            self._service.attempt_ended(job_id, accelerators, 0, seconds)
            self._service.job_ended(job_id, tenant, accelerators, finished=True)
        return self

    def build(self) -> ServiceHistory:
        return self._service.copy()


def a_history() -> HistoryBuilder:
    return HistoryBuilder()


# 2026-01-01T00:00:00+08:00 and a year later: the window a built program is valid in by default.
PROGRAM_START = 1_767_196_800
PROGRAM_END = PROGRAM_START + YEAR_S


@dataclass
class ProgramBuilder:
    """`a_program("hz").rates(domestic=3000, other=2000).cap(800)`. Until told otherwise: a CNY
    program paying 50 % to every tenant at every supplier through 2026, with a budget no test
    exhausts by accident, no cap and no stacking group."""

    _program: Program

    def rate(self, bp: int, *, startup: int | None = None) -> ProgramBuilder:
        return self._rates(Rates(bp, bp, startup, startup))

    def rates(
        self,
        *,
        domestic: int,
        other: int,
        startup_domestic: int | None = None,
        startup_other: int | None = None,
    ) -> ProgramBuilder:
        return self._rates(Rates(domestic, other, startup_domestic, startup_other))

    def _rates(self, rates: Rates) -> ProgramBuilder:
        self._program = replace(self._program, rates=rates)
        return self

    def currency(self, currency: Currency) -> ProgramBuilder:
        self._program = replace(self._program, currency=currency)
        return self

    def budget(self, minor: int) -> ProgramBuilder:
        self._program = replace(self._program, budget=minor)
        return self

    def valid(self, valid_from: int, valid_until: int) -> ProgramBuilder:
        self._program = replace(self._program, valid_from=valid_from, valid_until=valid_until)
        return self

    def cap(self, minor: int, period_s: int = YEAR_S) -> ProgramBuilder:
        self._program = replace(self._program, tenant_cap=minor, cap_period_s=period_s)
        return self

    def group(self, stacking_group: str) -> ProgramBuilder:
        self._program = replace(self._program, stacking_group=stacking_group)
        return self

    def for_tenants(self, *ids: str) -> ProgramBuilder:
        self._program = replace(self._program, eligible_tenants=frozenset(ids))
        return self

    def for_flags(self, *flags: TenantFlag) -> ProgramBuilder:
        self._program = replace(self._program, eligible_flags=frozenset(flags))
        return self

    def at_owners(self, *ids: str) -> ProgramBuilder:
        self._program = replace(self._program, eligible_owners=frozenset(ids))
        return self

    def at_nodes(self, *ids: str) -> ProgramBuilder:
        self._program = replace(self._program, eligible_nodes=frozenset(ids))
        return self

    def build(self) -> Program:
        return self._program


def a_program(program_id: str) -> ProgramBuilder:
    return ProgramBuilder(
        Program(
            id=program_id,
            name=program_id,
            sponsor=f"sponsor of {program_id}",
            currency=Currency.CNY,
            budget=10**12,
            valid_from=PROGRAM_START,
            valid_until=PROGRAM_END,
            rates=Rates(5000, 5000),
        )
    )
