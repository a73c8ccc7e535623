"""Hypothesis strategies for small random worlds: a pool, its tenants and approvals, work already
running (placed by an earlier cycle, so it is consistent with capacity and quota), pending jobs,
usage history and a policy from the registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.jobs import Job, RunningJob
from scheduler.domain.nodes import NodeState, OwnerClass
from scheduler.domain.pool import Pool
from scheduler.engine.cycle import run_cycle
from scheduler.engine.snapshot import Snapshot
from scheduler.ledger.budgets import Budgets
from scheduler.ledger.programs import BASIS_POINTS, Program, Rates
from scheduler.ledger.split import Funds
from scheduler.policy.registry import PLACEMENT_STRATEGIES, QUEUE_POLICIES, resolve_policy
from scheduler.policy.service import Past, ServiceHistory
from tests.builders import (
    ASCEND,
    H20,
    H800,
    MLU,
    ApprovalBuilder,
    JobBuilder,
    PoolBuilder,
    TenantBuilder,
    a_job,
    a_pool,
    a_tenant,
    an_approval,
)

ALL_POLICIES = [f"{q}:{p}" for q in QUEUE_POLICIES for p in PLACEMENT_STRATEGIES]
MODELS = (ASCEND, H800, H20, MLU)
CITIES = {
    Jurisdiction.MAINLAND: (City.SHENZHEN, City.GUANGZHOU, City.ZHUHAI),
    Jurisdiction.HONG_KONG: (City.HONG_KONG,),
    Jurisdiction.MACAO: (City.MACAO,),
}
OWNER_CLASSES = (OwnerClass.GOVERNMENT, OwnerClass.ENTERPRISE, OwnerClass.RESEARCH)
NOW = 1000

# Stable in CI: the same examples every run, nothing written to disk, no wall-clock deadline.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class NodeSpec:
    model: str
    city: City
    owner: int
    size: int
    price: int
    state: NodeState


@dataclass
class World:
    pool: Pool
    running: list[RunningJob]
    pending: list[Job]
    usage: dict[str, int]
    policy: str
    now: int = NOW
    budgets: Budgets | None = None
    service: ServiceHistory = field(default_factory=ServiceHistory)

    def snapshot(self) -> Snapshot:
        return Snapshot.build(
            self.pool,
            running=self.running,
            pending=self.pending,
            usage=self.usage,
            budgets=self.budgets.copy() if self.budgets is not None else None,
            service=self.service.copy(),
        )


def owner_id(index: int, city: City) -> str:
    """Owners bill in their zone's currency, so an owner is named per zone."""
    return f"o{index}-{city.jurisdiction.value}"


def build_pool(
    nodes: list[NodeSpec],
    tenants: list[TenantBuilder],
    approvals: list[ApprovalBuilder],
    all_up: bool,
) -> Pool:
    pool: PoolBuilder = a_pool()
    for i, spec in enumerate(nodes):
        pool.nodes(
            1,
            spec.model,
            size=spec.size,
            city=spec.city,
            owner=owner_id(spec.owner, spec.city),
            owner_class=OWNER_CLASSES[spec.owner],
            price=spec.price,
            state=NodeState.UP if all_up else spec.state,
            prefix=f"n{i}",
        )
    for tenant in tenants:
        pool.tenant(tenant)
    for approval in approvals:
        pool.approval(approval)
    return pool.build()


@st.composite
def node_specs(draw: st.DrawFn) -> list[NodeSpec]:
    models = draw(st.lists(st.sampled_from(MODELS), min_size=2, max_size=4, unique=True))
    zones = draw(
        st.lists(
            st.sampled_from([Jurisdiction.MAINLAND, Jurisdiction.MAINLAND, *CITIES]),
            min_size=1,
            max_size=2,
            unique=True,
        )
    )
    cities = draw(
        st.lists(
            st.sampled_from([c for z in zones for c in CITIES[z]]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    spec = st.builds(
        NodeSpec,
        model=st.sampled_from(models),
        city=st.sampled_from(cities),
        owner=st.integers(0, 2),
        size=st.sampled_from([4, 8, 8]),
        price=st.sampled_from([500, 1000, 3000]),
        state=st.sampled_from([NodeState.UP] * 5 + [NodeState.CORDONED, NodeState.DOWN]),
    )
    return draw(st.lists(spec, min_size=1, max_size=6))


@st.composite
def tenant_builders(draw: st.DrawFn, nodes: list[NodeSpec]) -> list[TenantBuilder]:
    owners = sorted({owner_id(n.owner, n.city) for n in nodes})
    models = sorted({n.model for n in nodes})
    out: list[TenantBuilder] = []
    for i in range(draw(st.integers(1, 4))):
        tenant = a_tenant(f"t{i}").weight(draw(st.integers(1, 3)))
        owner = draw(st.none() | st.sampled_from(owners))
        if owner is not None:
            tenant.owner(owner)
        if draw(st.integers(0, 2)):  # mostly quota-limited, mostly in one cohort
            for model in sorted({*models, MLU}):
                if draw(st.integers(0, 3)) == 0:
                    continue
                nominal = draw(st.sampled_from([0, 4, 8, 8, 16, 24]))
                borrowing = draw(st.sampled_from([None, None, 0, 8, 16]))
                lending = draw(st.none() | st.none() | st.integers(0, nominal))
                tenant.quota(model, nominal, borrowing=borrowing, lending=lending)
        cohort = draw(st.sampled_from([None, "c1", "c1", "c1", "c2"]))
        if cohort is not None:
            tenant.cohort(cohort)
        if draw(st.integers(0, 9)) == 0:
            tenant.priorities("low", "standard")
        out.append(tenant)
    return out


@st.composite
def approval_list(
    draw: st.DrawFn, tenants: int, zones: list[Jurisdiction]
) -> list[ApprovalBuilder]:
    """Approvals mostly between the pool's zones, mostly active at NOW."""
    everywhere = list(Jurisdiction)
    out: list[ApprovalBuilder] = []
    for i in range(draw(st.integers(0, 4))):
        source = draw(st.sampled_from([*zones, Jurisdiction.MAINLAND, *everywhere]))
        target = draw(st.sampled_from([z for z in zones * 3 + everywhere if z is not source]))
        out.append(
            an_approval(f"ap{i}")
            .held_by(f"t{draw(st.integers(0, tenants - 1))}")
            .out_of(source)
            .into(target)
            .expires_at(draw(st.sampled_from([500, NOW, NOW + 1, 10 * NOW, 10 * NOW])))
        )
    return out


@st.composite
def job_builders(
    draw: st.DrawFn,
    prefix: str,
    nodes: list[NodeSpec],
    approvals: list[ApprovalBuilder],
    sizes: tuple[int, int],
    priorities: list[str],
    tenant_ids: list[str],
    per_worker: tuple[int, ...] = (1, 2, 4, 8),
) -> list[JobBuilder]:
    """Jobs mostly of known tenants, for models and zones the pool has, mostly with approvals of
    their own tenant out of their origin."""
    models = sorted({n.model for n in nodes})
    zones = sorted({n.city.jurisdiction for n in nodes})
    out: list[JobBuilder] = []
    for i in range(draw(st.integers(*sizes))):
        accepted = draw(
            st.lists(st.sampled_from(models * 4 + list(MODELS)), min_size=1, max_size=2)
        )
        tenant = draw(st.sampled_from(tenant_ids * 10 + ["ghost"]))
        origin = draw(st.sampled_from(zones * 4 + list(Jurisdiction)))
        job = (
            a_job(f"{prefix}{i}")
            .tenant(tenant)
            .gang(draw(st.sampled_from([1, 1, 2, 3])), None, draw(st.sampled_from(per_worker)))
            .models(*accepted)
            .priority(draw(st.sampled_from(priorities)))
            .walltime(draw(st.sampled_from([100, 600, 1500, 5000])))
            .origin(origin)
        )
        own = [a.build().id for a in approvals if a.build().tenant == tenant]
        others = [a.build().id for a in approvals] + ["ap-unknown"]
        job.approvals(*draw(st.lists(st.sampled_from(own * 3 + others), max_size=2, unique=True)))
        if draw(st.integers(0, 3)) == 0:
            job.not_preemptible()
        out.append(job)
    return out


@st.composite
def cohort_tenants(draw: st.DrawFn, nodes: list[NodeSpec]) -> list[TenantBuilder]:
    """Two to four tenants sharing one cohort's quota of the pool's one model, some of them owners:
    borrowing, lending and reclaiming in a crowded pool."""
    owners = sorted({owner_id(n.owner, n.city) for n in nodes})
    out: list[TenantBuilder] = []
    for i in range(draw(st.integers(2, 4))):
        nominal = draw(st.sampled_from([0, 4, 8, 8, 16]))
        tenant = (
            a_tenant(f"t{i}")
            .cohort("c1")
            .quota(
                ASCEND,
                nominal,
                borrowing=draw(st.sampled_from([None, None, 0, 8, 16])),
                lending=draw(st.none() | st.integers(0, nominal)),
            )
        )
        owner = draw(st.none() | st.sampled_from(owners))
        if owner is not None:
            tenant.owner(owner)
        out.append(tenant)
    return out


@st.composite
def budget_book(draw: st.DrawFn, nodes: list[NodeSpec], tenant_ids: list[str]) -> Budgets:
    """Programs in every currency with random rates, budgets, caps, stacking groups and supplier
    whitelists, and random tenant balances: money runs short often."""
    owners = sorted({owner_id(n.owner, n.city) for n in nodes})
    programs = []
    for i in range(draw(st.integers(1, 3))):
        rate = st.integers(0, BASIS_POINTS)
        programs.append(
            Program(
                id=f"prog{i}",
                name=f"program {i}",
                sponsor="sponsor",
                # mostly the mainland's currency, where most nodes are
                currency=draw(st.sampled_from([Currency.CNY] * 3 + list(Currency))),
                budget=draw(st.sampled_from([0, 500, 5_000, 50_000, 10**9])),
                valid_from=0,
                valid_until=draw(st.sampled_from([NOW, 10**6, 10**6])),  # some expired
                rates=Rates(draw(rate), draw(rate), draw(st.none() | rate), None),
                eligible_owners=frozenset(draw(st.lists(st.sampled_from(owners), max_size=2))),
                tenant_cap=draw(st.none() | st.integers(0, 20_000)),
                stacking_group=draw(st.sampled_from([None, "g"])),
            )
        )
    balances = {
        (tenant, currency): draw(st.sampled_from([0, 1_000, 20_000, 10**9]))
        for tenant in tenant_ids
        for currency in Currency
    }
    return Budgets({p.id: p for p in programs}, Funds({p.id: p.budget for p in programs}), balances)


@st.composite
def service_history(draw: st.DrawFn, job_ids: list[str], tenant_ids: list[str]) -> ServiceHistory:
    """Earlier attempts of some of the jobs (around the default las threshold of 28,800
    accelerator-seconds, some ended long ago) and finished run times of some tenants."""
    service = ServiceHistory()
    for job_id in draw(st.lists(st.sampled_from(job_ids), unique=True)) if job_ids else ():
        service.past[job_id] = Past(
            draw(st.sampled_from([0, 600, 28_799, 28_800, 300_000])),
            draw(st.sampled_from([0, NOW // 2, NOW])),
        )
    for i in range(draw(st.integers(0, 6))):
        tenant = draw(st.sampled_from([*tenant_ids, "ghost"]))
        accelerators = draw(st.sampled_from([1, 2, 4, 8, 16]))
        service.attempt_ended(f"done{i}", accelerators, 0, draw(st.sampled_from([60, 3600, 9000])))
        service.job_ended(f"done{i}", tenant, accelerators, finished=True)
    return service


@st.composite
def worlds(draw: st.DrawFn, policy: str | None = None) -> World:
    """Mostly a mixed pool (models, cities, zones, owners, approvals); sometimes a crowded pool of
    one model whose tenants share a cohort."""
    if draw(st.integers(0, 2)):
        nodes = draw(node_specs())
        tenants = draw(tenant_builders(nodes))
    else:
        node = st.builds(
            NodeSpec,
            model=st.just(ASCEND),
            city=st.sampled_from([City.SHENZHEN, City.GUANGZHOU]),
            owner=st.integers(0, 2),
            size=st.just(8),
            price=st.just(1000),
            state=st.sampled_from([NodeState.UP] * 5 + [NodeState.CORDONED]),
        )
        nodes = draw(st.lists(node, min_size=1, max_size=4))
        tenants = draw(cohort_tenants(nodes))
    zones = sorted({n.city.jurisdiction for n in nodes})
    approvals = draw(approval_list(len(tenants), zones))
    pool = build_pool(nodes, tenants, approvals, all_up=False)
    all_up = build_pool(nodes, tenants, approvals, all_up=True)

    # Work already running: whatever an earlier cycle admitted on the pool with every node up,
    # started at various times; some of its nodes have been cordoned or lost since.
    tenant_ids = [f"t{i}" for i in range(len(tenants))]
    # the first tenants ran most of the earlier work: the others may want their share back
    earlier = draw(
        job_builders(
            "r",
            nodes,
            approvals,
            (0, 16),
            ["low", "standard"],
            tenant_ids[:2] * 3 + tenant_ids,
            per_worker=(2, 4, 4, 8),
        )
    )
    earlier_jobs = [job.seq(i + 1).build() for i, job in enumerate(earlier)]
    first = run_cycle(
        Snapshot.build(all_up, pending=earlier_jobs), resolve_policy("priority-fairshare:spread"), 0
    )
    by_id = {job.id: job for job in earlier_jobs}
    running = [
        RunningJob(by_id[a.job_id], a.placement, draw(st.integers(0, NOW)))
        for a in first.admissions
    ]

    pending = draw(
        job_builders("p", nodes, approvals, (1, 12), ["low", "standard", "high"], tenant_ids)
    )
    budgets = draw(st.none() | budget_book(nodes, tenant_ids))
    if budgets is not None:
        names = [*budgets.programs, "ghost-program"]
        for job in pending:
            job.programs(*draw(st.lists(st.sampled_from(names), max_size=3)))
    usage = {
        f"t{i}": draw(st.sampled_from([0, 0, 10**6, 10**9, 10**11])) for i in range(len(tenants))
    }
    pending_jobs = [job.seq(100 + i).build() for i, job in enumerate(pending)]
    return World(
        pool=pool,
        running=running,
        pending=pending_jobs,
        usage=usage,
        policy=policy or draw(st.sampled_from(ALL_POLICIES)),
        budgets=budgets,
        service=draw(service_history([*by_id, *(j.id for j in pending_jobs)], tenant_ids)),
    )
