"""The immutable input of one cycle, and the per-pool facts derived once from the configuration."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, RunningJob
from scheduler.domain.pool import Pool
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import FlavorQuota, Tenant
from scheduler.engine.index import CapacityIndex
from scheduler.engine.running_index import RunningIndex
from scheduler.ledger.budgets import Budgets
from scheduler.policy.fairshare import FairShare
from scheduler.policy.service import ServiceHistory

# What decides whether a job can ever run (see `engine.intake`): tenant, priority class, models,
# data origin, approvals, workers, accelerators per worker.
Shape = tuple[str, str, frozenset[str], Jurisdiction, tuple[str, ...], int, int]


def shape_of(job: Job) -> Shape:
    gang = job.gang
    return (
        job.tenant,
        job.priority_class,
        job.models,
        job.data_origin,
        job.approvals,
        gang.workers,
        gang.per_worker,
    )


def count_shapes(jobs: Iterable[Job]) -> dict[Shape, int]:
    out: dict[Shape, int] = {}
    for job in jobs:
        shape = shape_of(job)
        out[shape] = out.get(shape, 0) + 1
    return out


@dataclass(frozen=True)
class PoolFacts:
    """What never changes while the pool configuration does not: capacities per model, the
    largest gang each (model, zone) can ever host, cohort lending pools."""

    pool: Pool
    capacity_by_model: Mapping[str, int]
    tflops_by_model: Mapping[str, int]
    # node sizes (accelerators per node) of every configured node, by (model, zone)
    node_sizes: Mapping[tuple[str, Jurisdiction], tuple[int, ...]]
    # Σ lendable quota of a cohort's members, by (cohort, model)
    cohort_capacity: Mapping[tuple[str, str], int]
    # every configured quota by (tenant, model), for lookups in the hot loop
    quotas: Mapping[tuple[str, str], FlavorQuota]
    cohorts: Mapping[str, tuple[Tenant, ...]]  # members by cohort
    # node sizes of each capacity group (one owner at one price; keyed as `CapacityIndex`
    # groups them) of every configured node, by (model, zone)
    group_sizes: Mapping[tuple[str, Jurisdiction], tuple[tuple[int, ...], ...]] = field(
        default_factory=dict
    )
    _max_workers: dict[tuple[str, Jurisdiction, int], int] = field(default_factory=dict)
    _max_group_workers: dict[tuple[str, Jurisdiction, int], int] = field(default_factory=dict)
    # What cycles work out from the configuration alone and keep for the next cycle over the
    # same pool (see `engine.intake.IntakeMemo`); never part of a decision's inputs.
    memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, pool: Pool) -> PoolFacts:
        capacity: dict[str, int] = {}
        sizes: dict[tuple[str, Jurisdiction], list[int]] = {}
        groups: dict[tuple[str, Jurisdiction], dict[tuple[str, str, str, int], list[int]]] = {}
        for node in pool.nodes.values():
            capacity[node.model] = capacity.get(node.model, 0) + node.accelerators
            sizes.setdefault((node.model, node.jurisdiction), []).append(node.accelerators)
            group = (node.city.value, node.owner, node.price.currency.value, node.price.minor)
            by_group = groups.setdefault((node.model, node.jurisdiction), {})
            by_group.setdefault(group, []).append(node.accelerators)
        cohorts: dict[tuple[str, str], int] = {}
        quotas: dict[tuple[str, str], FlavorQuota] = {}
        for tenant in pool.tenants.values():
            for quota in tenant.quotas or ():
                quotas[(tenant.id, quota.model)] = quota
                if tenant.cohort is not None:
                    key = (tenant.cohort, quota.model)
                    cohorts[key] = cohorts.get(key, 0) + quota.lendable
        return cls(
            pool=pool,
            capacity_by_model=capacity,
            tflops_by_model={m.id: m.tflops_fp16 for m in pool.catalogue.values()},
            node_sizes={k: tuple(sorted(v)) for k, v in sizes.items()},
            group_sizes={
                k: tuple(tuple(sorted(v[g])) for g in sorted(v)) for k, v in groups.items()
            },
            cohort_capacity=cohorts,
            quotas=quotas,
            cohorts={
                c: tuple(t for t in pool.tenants.values() if t.cohort == c)
                for c in sorted({t.cohort for t in pool.tenants.values() if t.cohort})
            },
        )

    def max_workers(self, model: str, zone: Jurisdiction, per_worker: int) -> int:
        """The most workers of `per_worker` accelerators (model, zone) could host if empty."""
        key = (model, zone, per_worker)
        cached = self._max_workers.get(key)
        if cached is None:
            cached = sum(size // per_worker for size in self.node_sizes.get((model, zone), ()))
            self._max_workers[key] = cached
        return cached

    def max_group_workers(self, model: str, zone: Jurisdiction, per_worker: int) -> int:
        """The most workers of `per_worker` accelerators one capacity group of (model, zone)
        could host if empty: the largest gang that can run with one supplier at one price."""
        key = (model, zone, per_worker)
        cached = self._max_group_workers.get(key)
        if cached is None:
            groups = self.group_sizes.get((model, zone), ())
            cached = max((sum(s // per_worker for s in sizes) for sizes in groups), default=0)
            self._max_group_workers[key] = cached
        return cached

    def fair_share(self, half_life_s: int) -> FairShare:
        return FairShare.for_pool(self.capacity_by_model, self.tflops_by_model, half_life_s)


@dataclass(frozen=True)
class Snapshot:
    """Everything one cycle may look at. `run_cycle` never mutates it (it works on copies).

    pending: jobs waiting, in arrival (`seq`) order.
    queues: the same jobs per tenant, ordered by (priority descending, seq).
    running: jobs holding capacity, by id; `index` already has their capacity taken.
    used: accelerators held per (tenant, model), the sum over `running`.
    running_index: `running` indexed for preemption and backfill.
    usage: decayed TFLOP-seconds per tenant (see policy.fairshare).
    budgets: programs, their remaining budgets and tenants' balances; a job is admitted only if
    its estimated cost can be reserved (else NO_FUNDS).
    service: attained service of jobs with ended attempts and tenants' finished run times
    (read only by the service-based policies, las and qssf; see policy.service).
    shapes: how many pending jobs there are of each `Shape` (None: not counted), so a cycle can
    tell whether any of them could be infeasible without looking at each job.
    """

    facts: PoolFacts
    index: CapacityIndex
    running: Mapping[str, RunningJob]
    pending: Sequence[Job]
    queues: Mapping[str, Sequence[Job]]
    used: Mapping[tuple[str, str], int]
    running_index: RunningIndex
    usage: Mapping[str, int]
    approvals: Mapping[str, Approval]
    budgets: Budgets | None = None  # None: money is not checked
    service: ServiceHistory = field(default_factory=ServiceHistory)
    shapes: Mapping[Shape, int] | None = None

    @property
    def pool(self) -> Pool:
        return self.facts.pool

    @classmethod
    def build(
        cls,
        pool: Pool | PoolFacts,
        running: Iterable[RunningJob] = (),
        pending: Iterable[Job] = (),
        usage: Mapping[str, int] | None = None,
        approvals: Mapping[str, Approval] | None = None,
        budgets: Budgets | None = None,
        service: ServiceHistory | None = None,
    ) -> Snapshot:
        """A snapshot from scratch (tests, simulator start, recovery). The coordinator keeps one
        up to date incrementally with `ClusterState` instead."""
        facts = pool if isinstance(pool, PoolFacts) else PoolFacts.of(pool)
        running_map = {r.id: r for r in running}
        on_node: dict[str, int] = {}
        used: dict[tuple[str, str], int] = {}
        for r in running_map.values():
            key = (r.job.tenant, r.placement.model)
            used[key] = used.get(key, 0) + r.placement.accelerators
            for node, count in r.placement.workers:
                on_node[node] = on_node.get(node, 0) + count
        index = CapacityIndex.build(facts.pool.nodes.values(), facts.pool.catalogue, on_node)
        ordered = tuple(sorted(pending, key=lambda j: j.seq))
        return cls(
            facts=facts,
            index=index,
            running=running_map,
            pending=ordered,
            queues=tenant_queues(ordered),
            used=used,
            running_index=RunningIndex.of(facts.pool, running_map.values()),
            usage=dict(usage or {}),
            approvals=dict(facts.pool.approvals if approvals is None else approvals),
            budgets=budgets,
            service=service if service is not None else ServiceHistory(),
            shapes=count_shapes(ordered),
        )


def queue_key(job: Job) -> tuple[int, int]:
    return (-job.priority, job.seq)


def tenant_queues(pending: Iterable[Job]) -> dict[str, tuple[Job, ...]]:
    by_tenant: dict[str, list[Job]] = {}
    for job in pending:
        by_tenant.setdefault(job.tenant, []).append(job)
    return {tenant: tuple(sorted(jobs, key=queue_key)) for tenant, jobs in by_tenant.items()}
