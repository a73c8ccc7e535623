"""What a job could ever use: its feasible models, zones and candidate groups, or why none.

Computed once per job shape per cycle (jobs of one tenant, models, zones and gang shape share it),
so the hot loop only sees a ready list of candidate groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job
from scheduler.domain.residency import allowed_zones
from scheduler.domain.tenants import Tenant
from scheduler.engine.index import CapacityIndex, Group
from scheduler.engine.placement import Candidates
from scheduler.engine.quota import QuotaState
from scheduler.engine.reasons import Reason, ReasonCode
from scheduler.engine.snapshot import Snapshot
from scheduler.ledger.split import Supplier, coverage_bp
from scheduler.policy.placement import PlacementStrategy, Subsidised

Zones = tuple[tuple[Jurisdiction, str | None], ...]
_HOME_ONLY: dict[Jurisdiction, Zones] = {zone: ((zone, None),) for zone in Jurisdiction}
# The home zone always ranks before any zone an approval opens, whatever the strategy says.
_ZONE_RANK = 1 << 50


@dataclass(slots=True)
class JobPlan:
    tenant: Tenant
    models: tuple[str, ...]  # feasible models, sorted
    combos: tuple[tuple[str, Jurisdiction], ...]  # feasible (model, zone) pairs
    candidates: Candidates  # every group of a feasible model in a feasible zone, preferred first
    approval_of: dict[Jurisdiction, str | None]
    _subsets: dict[tuple[str, ...], Candidates] = field(default_factory=dict)

    def for_models(self, allowed: tuple[str, ...], index: CapacityIndex) -> Candidates:
        """The candidates restricted to `allowed` models (those the tenant's quota admits now)."""
        if len(allowed) == len(self.models):
            return self.candidates
        cached = self._subsets.get(allowed)
        if cached is None:
            keep = set(allowed)
            pairs = [
                (gid, tier)
                for gid, tier in zip(self.candidates.gids, self.candidates.tiers, strict=True)
                if index.groups[gid].model in keep
            ]
            cached = Candidates(tuple(g for g, _ in pairs), tuple(t for _, t in pairs))
            self._subsets[allowed] = cached
        return cached


class Intake:
    """Per-cycle cache of job plans."""

    def __init__(
        self, snapshot: Snapshot, strategy: PlacementStrategy, quota: QuotaState, now: int
    ):
        self.snapshot = snapshot
        self.strategy = strategy
        self.quota = quota  # read for ceilings only, which do not change within a cycle
        self.now = now
        self._plans: dict[tuple[object, ...], JobPlan | Reason] = {}
        self._groups_by_combo: dict[tuple[str, Jurisdiction], list[int]] = {}
        for group in snapshot.index.groups:
            self._groups_by_combo.setdefault((group.model, group.zone), []).append(group.gid)
        # money is checked: a gang is funded with one supplier at one price (see cycle.find)
        self.one_group = snapshot.budgets is not None
        # a strategy that ranks by price after vouchers, when there is money to rank by
        self.money_aware = isinstance(strategy, Subsidised) and snapshot.budgets is not None

    def zones(self, job: Job) -> Zones:
        if not job.approvals:
            return _HOME_ONLY[job.data_origin]
        return allowed_zones(
            job.tenant, job.data_origin, job.approvals, dict(self.snapshot.approvals), self.now
        )

    def plan(self, job: Job) -> JobPlan | Reason:
        zones = self.zones(job)
        key: tuple[object, ...] = (
            job.tenant,
            job.priority_class,
            job.models,
            zones,
            job.gang.workers,
            job.gang.per_worker,
        )
        if self.money_aware:  # the preference then depends on the programs the job names
            key += (job.programs,)
        found = self._plans.get(key)
        if found is None:
            found = self._make(job, zones)
            self._plans[key] = found
        return found

    def tier(self, job: Job, tenant: Tenant, group: Group) -> int:
        home = job.data_origin.currency
        budgets = self.snapshot.budgets
        if not self.money_aware or budgets is None:
            return self.strategy.tier(group, home)
        assert isinstance(self.strategy, Subsidised)
        supplier = Supplier(group.owner, (), group.domestic)
        covered = coverage_bp(
            job.programs, budgets.programs, tenant, supplier, group.price.currency, self.now
        )
        return self.strategy.net_tier(group, home, covered)

    def _make(self, job: Job, zones: Zones) -> JobPlan | Reason:
        pool = self.snapshot.pool
        facts = self.snapshot.facts
        tenant = pool.tenants.get(job.tenant)
        if tenant is None:
            return Reason(ReasonCode.UNKNOWN_TENANT, f"tenant {job.tenant!r} is not in the pool")
        if not tenant.may_use_priority(job.priority_class):
            allowed = ", ".join(sorted(tenant.priority_classes))
            return Reason(
                ReasonCode.PRIORITY_NOT_ALLOWED,
                f"tenant {tenant.id} may not use priority class {job.priority_class!r}"
                f" (allowed: {allowed})",
            )
        models = sorted(m for m in job.models if facts.capacity_by_model.get(m))
        if not models:
            return Reason(
                ReasonCode.NO_FLAVOR,
                f"none of {', '.join(sorted(job.models))} is in the pool "
                f"(pool has {', '.join(sorted(facts.capacity_by_model))})",
            )
        zone_list = [zone for zone, _ in zones]
        in_zone = [(m, z) for m in models for z in zone_list if (m, z) in facts.node_sizes]
        if not in_zone:
            where = sorted({z.value for (m, z) in facts.node_sizes if m in models})
            return Reason(
                ReasonCode.RESIDENCY,
                f"data from {job.data_origin} may run only in"
                f" {', '.join(z.value for z in zone_list)}; {', '.join(models)} exist only in"
                f" {', '.join(where)} (an approval could allow it)",
            )
        gang = job.gang
        # A funded gang bills one supplier at one price: it must fit in one capacity group.
        most = facts.max_group_workers if self.one_group else facts.max_workers
        fits = [(m, z) for m, z in in_zone if most(m, z, gang.per_worker) >= gang.workers]
        if not fits:
            m, z = max(in_zone, key=lambda mz: most(mz[0], mz[1], gang.per_worker))
            largest = most(m, z, gang.per_worker)
            alone = " with one supplier at one price" if self.one_group else ""
            return Reason(
                ReasonCode.GANG_TOO_LARGE,
                f"{gang.workers}×{gang.per_worker} accelerators: the most workers of"
                f" {gang.per_worker} any accepted model and zone can host{alone} is {largest}"
                f" ({m} in {z})",
            )
        within = []
        for m, z in fits:
            ceiling = self.quota.ceiling(tenant, m)
            if ceiling is None or ceiling >= gang.total:
                within.append((m, z))
        if not within:
            return Reason(
                ReasonCode.QUOTA_TOO_SMALL,
                f"{gang.total} accelerators exceed tenant {tenant.id}'s largest possible quota"
                f" (nominal + borrowing) for {', '.join(sorted({m for m, _ in fits}))}",
            )
        zone_rank = {zone: rank for rank, zone in enumerate(zone_list)}
        ranked: list[tuple[int, int]] = []
        for m, z in within:
            for gid in self._groups_by_combo.get((m, z), ()):
                group = self.snapshot.index.groups[gid]
                ranked.append((zone_rank[z] * _ZONE_RANK + self.tier(job, tenant, group), gid))
        ranked.sort()
        return JobPlan(
            tenant=tenant,
            models=tuple(sorted({m for m, _ in within})),
            combos=tuple(within),
            candidates=Candidates(tuple(g for _, g in ranked), tuple(t for t, _ in ranked)),
            approval_of=dict(zones),
        )
