"""What a job could ever use: its feasible models, zones and candidate groups, or why none.

Computed once per job shape (jobs of one tenant, models, zones and gang shape share it) and kept
between cycles while the configuration it depends on holds (`IntakeMemo`), so the hot loop only
sees a ready list of candidate groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Gang, Job
from scheduler.domain.residency import allowed_zones
from scheduler.domain.tenants import Tenant
from scheduler.engine.index import CapacityIndex, Group
from scheduler.engine.placement import Candidates
from scheduler.engine.quota import QuotaState
from scheduler.engine.reasons import Reason, ReasonCode
from scheduler.engine.snapshot import Shape, Snapshot
from scheduler.ledger.split import Supplier, coverage_bp
from scheduler.policy.placement import PlacementStrategy, Subsidised

Zones = tuple[tuple[Jurisdiction, str | None], ...]
_HOME_ONLY: dict[Jurisdiction, Zones] = {zone: ((zone, None),) for zone in Jurisdiction}
# The home zone always ranks before any zone an approval opens, whatever the strategy says.
_ZONE_RANK = 1 << 50
_NEVER = 1 << 62


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


class IntakeMemo:
    """What intake works out from the configuration alone, kept from one cycle to the next.

    A plan (or an infeasible reason) depends on the pool (the memo hangs on its `PoolFacts`),
    the capacity-group numbering, the approvals table, the placement strategy, whether money is
    checked, and the clock only through approvals' expiry. So a memo serves every cycle with
    the same groups, approvals, strategy and money mode while `since <= now < until` (`until`:
    the next expiry of an approval). Ranked plans are kept only when the ranking does not
    depend on money (budgets change between cycles); feasibility is kept either way."""

    __slots__ = (
        "approvals",
        "fits",
        "groups",
        "one_group",
        "plans",
        "shapes",
        "since",
        "strategy",
        "table",
        "until",
        "zones",
    )

    def __init__(
        self, snapshot: Snapshot, strategy: PlacementStrategy, one_group: bool, now: int
    ) -> None:
        self.groups = snapshot.index.groups
        self.approvals = snapshot.approvals
        self.table = dict(snapshot.approvals)
        self.strategy = strategy
        self.one_group = one_group
        self.since = now
        self.until = min(
            (a.expires_at for a in self.table.values() if a.expires_at > now), default=_NEVER
        )
        self.zones: dict[tuple[str, Jurisdiction, tuple[str, ...]], Zones] = {}
        self.fits: dict[tuple[object, ...], _Fit | Reason] = {}
        self.plans: dict[tuple[object, ...], JobPlan | Reason] = {}
        self.shapes: dict[Shape, Reason | None] = {}  # None: feasible

    def serves(
        self, snapshot: Snapshot, strategy: PlacementStrategy, one_group: bool, now: int
    ) -> bool:
        return (
            self.since <= now < self.until
            and self.groups is snapshot.index.groups
            and self.approvals is snapshot.approvals
            and self.strategy is strategy
            and self.one_group == one_group
        )


@dataclass(frozen=True, slots=True)
class _Fit:
    """A feasible job shape before ranking: its tenant and the (model, zone) pairs it may use."""

    tenant: Tenant
    within: tuple[tuple[str, Jurisdiction], ...]


class Intake:
    """Job plans for one cycle, from a memo shared with other cycles over the same pool."""

    def __init__(
        self, snapshot: Snapshot, strategy: PlacementStrategy, quota: QuotaState, now: int
    ):
        self.snapshot = snapshot
        self.strategy = strategy
        self.quota = quota  # read for ceilings only, which depend on the configuration alone
        self.now = now
        # money is checked: a gang is funded with one supplier at one price (see cycle.find)
        self.one_group = snapshot.budgets is not None
        # a strategy that ranks by price after vouchers, when there is money to rank by
        self.money_aware = isinstance(strategy, Subsidised) and snapshot.budgets is not None
        memos = snapshot.facts.memo
        memo = memos.get("intake")
        if not isinstance(memo, IntakeMemo) or not memo.serves(
            snapshot, strategy, self.one_group, now
        ):
            memo = IntakeMemo(snapshot, strategy, self.one_group, now)
            memos["intake"] = memo
        self.memo = memo
        # ranked plans depend on money when the strategy ranks by it: kept for this cycle only
        self._plans = {} if self.money_aware else memo.plans
        groups_by_combo = memos.get("groups_by_combo")
        if not isinstance(groups_by_combo, tuple) or groups_by_combo[0] is not memo.groups:
            by_combo: dict[tuple[str, Jurisdiction], list[int]] = {}
            for group in memo.groups:
                by_combo.setdefault((group.model, group.zone), []).append(group.gid)
            groups_by_combo = (memo.groups, by_combo)
            memos["groups_by_combo"] = groups_by_combo
        self._groups_by_combo: dict[tuple[str, Jurisdiction], list[int]] = groups_by_combo[1]

    def zones(self, job: Job) -> Zones:
        if not job.approvals:
            return _HOME_ONLY[job.data_origin]
        return self._zones(job.tenant, job.data_origin, job.approvals)

    def _zones(self, tenant: str, origin: Jurisdiction, approvals: tuple[str, ...]) -> Zones:
        if not approvals:
            return _HOME_ONLY[origin]
        key = (tenant, origin, approvals)
        zones = self.memo.zones.get(key)
        if zones is None:
            zones = allowed_zones(tenant, origin, approvals, self.memo.table, self.now)
            self.memo.zones[key] = zones
        return zones

    def plan(self, job: Job) -> JobPlan | Reason:
        zones = _HOME_ONLY[job.data_origin] if not job.approvals else self.zones(job)
        gang = job.gang
        key: tuple[object, ...] = (
            job.tenant,
            job.priority_class,
            job.models,
            zones,
            gang.workers,
            gang.per_worker,
        )
        if self.money_aware:  # the preference then depends on the programs the job names
            key += (job.programs,)
        found = self._plans.get(key)
        if found is None:
            fit = self._fit(key[:6], job.data_origin)
            found = fit if isinstance(fit, Reason) else self._rank(job, fit, zones)
            self._plans[key] = found
        return found

    def infeasible(self, shapes: Iterable[Shape]) -> bool:
        """Is any job of these shapes (see `snapshot.shape_of`) infeasible?"""
        known = self.memo.shapes
        for shape in shapes:
            if shape not in known:
                tenant, priority, models, origin, approvals, workers, per_worker = shape
                zones = self._zones(tenant, origin, approvals)
                fit = self._fit((tenant, priority, models, zones, workers, per_worker), origin)
                known[shape] = fit if isinstance(fit, Reason) else None
            if known[shape] is not None:
                return True
        return False

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

    def _fit(self, key: tuple[object, ...], origin: Jurisdiction) -> _Fit | Reason:
        """Feasibility of a job shape keyed (tenant, priority class, models, zones, workers,
        per worker) with data from `origin`: kept in the memo."""
        found = self.memo.fits.get(key)
        if found is None:
            found = self._make_fit(key, origin)
            self.memo.fits[key] = found
        return found

    def _make_fit(self, key: tuple[object, ...], origin: Jurisdiction) -> _Fit | Reason:
        tenant_id, priority_class, job_models, zones, workers, per_worker = key
        assert isinstance(tenant_id, str) and isinstance(priority_class, str)
        assert isinstance(job_models, frozenset) and isinstance(zones, tuple)
        assert isinstance(workers, int) and isinstance(per_worker, int)
        pool = self.snapshot.pool
        facts = self.snapshot.facts
        tenant = pool.tenants.get(tenant_id)
        if tenant is None:
            return Reason(ReasonCode.UNKNOWN_TENANT, f"tenant {tenant_id!r} is not in the pool")
        if not tenant.may_use_priority(priority_class):
            allowed = ", ".join(sorted(tenant.priority_classes))
            return Reason(
                ReasonCode.PRIORITY_NOT_ALLOWED,
                f"tenant {tenant.id} may not use priority class {priority_class!r}"
                f" (allowed: {allowed})",
            )
        models = sorted(m for m in job_models if facts.capacity_by_model.get(m))
        if not models:
            return Reason(
                ReasonCode.NO_FLAVOR,
                f"none of {', '.join(sorted(job_models))} is in the pool "
                f"(pool has {', '.join(sorted(facts.capacity_by_model))})",
            )
        zone_list = [zone for zone, _ in zones]
        in_zone = [(m, z) for m in models for z in zone_list if (m, z) in facts.node_sizes]
        if not in_zone:
            where = sorted({z.value for (m, z) in facts.node_sizes if m in models})
            return Reason(
                ReasonCode.RESIDENCY,
                f"data from {origin} may run only in"
                f" {', '.join(z.value for z in zone_list)}; {', '.join(models)} exist only in"
                f" {', '.join(where)} (an approval could allow it)",
            )
        gang = Gang(workers, per_worker)
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
        return _Fit(tenant, tuple(within))

    def _rank(self, job: Job, fit: _Fit, zones: Zones) -> JobPlan:
        """The candidate groups of a feasible job, preferred first."""
        zone_rank = {zone: rank for rank, (zone, _) in enumerate(zones)}
        tenant = fit.tenant
        within = fit.within
        ranked: list[tuple[int, int]] = []
        for m, z in within:
            for gid in self._groups_by_combo.get((m, z), ()):
                group = self.snapshot.index.groups[gid]
                ranked.append((zone_rank[z] * _ZONE_RANK + self.tier(job, tenant, group), gid))
        ranked.sort()
        return JobPlan(
            tenant=tenant,
            models=tuple(sorted({m for m, _ in within})),
            combos=within,
            candidates=Candidates(tuple(g for _, g in ranked), tuple(t for t, _ in ranked)),
            approval_of=dict(zones),
        )
