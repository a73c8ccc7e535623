"""Quota accounting with cohorts, borrowing and lending (Kueue semantics).

A tenant's nominal quota of a model is split into a guaranteed part (nominal − lending limit) that
only it may use, and a lendable part pooled in its cohort. Whatever a member uses above its
guaranteed part is drawn from the cohort pool (Σ lendable of the members), and no member may go
above nominal + its borrowing limit. A tenant without a cohort is capped at nominal. A tenant
configured without quotas is not limited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.domain.jobs import RunningJob
from scheduler.domain.tenants import Tenant
from scheduler.engine.snapshot import PoolFacts


@dataclass(frozen=True, slots=True)
class QuotaVerdict:
    ok: bool
    borrowing: bool = False  # the job would take the tenant above its nominal quota
    within_nominal: bool = True  # the tenant would stay at or below nominal
    why: str = ""


OK = QuotaVerdict(True)
OK_BORROWING = QuotaVerdict(True, borrowing=True, within_nominal=False)


class QuotaState:
    __slots__ = ("cohort_used", "facts", "used")

    def __init__(self, facts: PoolFacts) -> None:
        self.facts = facts
        self.used: dict[tuple[str, str], int] = {}
        self.cohort_used: dict[tuple[str, str], int] = {}

    @classmethod
    def of(cls, facts: PoolFacts, running: Iterable[RunningJob]) -> QuotaState:
        state = cls(facts)
        tenants = facts.pool.tenants
        for r in running:
            tenant = tenants.get(r.job.tenant)
            if tenant is not None:
                state.charge(tenant, r.placement.model, r.placement.accelerators)
        return state

    @classmethod
    def of_used(cls, facts: PoolFacts, used: Mapping[tuple[str, str], int]) -> QuotaState:
        state = cls(facts)
        tenants = facts.pool.tenants
        held = state.used
        for key, count in used.items():
            tenant = tenants.get(key[0])
            if tenant is None or not count:
                continue
            if tenant.cohort is None or tenant.quotas is None:  # `_add` without cohort draws
                held[key] = held.get(key, 0) + count
            else:
                state._add(tenant, key[1], count)
        return state

    def copy(self) -> QuotaState:
        other = QuotaState(self.facts)
        other.used = self.used.copy()
        other.cohort_used = self.cohort_used.copy()
        return other

    def used_by(self, tenant: str, model: str) -> int:
        return self.used.get((tenant, model), 0)

    def check(self, tenant: Tenant, model: str, count: int) -> QuotaVerdict:
        if tenant.quotas is None:
            return OK
        quota = self.facts.quotas.get((tenant.id, model))
        if quota is None:
            return QuotaVerdict(False, why=f"no quota for {model}")
        used = self.used.get((tenant.id, model), 0)
        after = used + count
        within = after <= quota.nominal
        if tenant.cohort is None:
            if within:
                return OK
            return QuotaVerdict(
                False,
                within_nominal=False,
                why=(
                    f"{model}: {used} in use + {count} > nominal {quota.nominal}"
                    " (no cohort to borrow from)"
                ),
            )
        if quota.borrowing_limit is not None and after > quota.nominal + quota.borrowing_limit:
            return QuotaVerdict(
                False,
                within_nominal=False,
                why=(
                    f"{model}: {used} in use + {count} > nominal {quota.nominal}"
                    f" + borrowing limit {quota.borrowing_limit}"
                ),
            )
        key = (tenant.cohort, model)
        guaranteed = quota.nominal - quota.lendable
        draw = max(0, after - guaranteed) - max(0, used - guaranteed)
        pool_used = self.cohort_used.get(key, 0)
        pool_size = self.facts.cohort_capacity.get(key, 0)
        if pool_used + draw > pool_size:
            return QuotaVerdict(
                False,
                within_nominal=within,
                why=(
                    f"{model}: cohort {tenant.cohort} has {pool_size - pool_used} of {pool_size}"
                    f" left, job needs {draw} from it"
                ),
            )
        return OK if within else OK_BORROWING

    def charge(self, tenant: Tenant, model: str, count: int) -> None:
        self._add(tenant, model, count)

    def uncharge(self, tenant: Tenant, model: str, count: int) -> None:
        self._add(tenant, model, -count)

    def _add(self, tenant: Tenant, model: str, delta: int) -> None:
        key = (tenant.id, model)
        used = self.used.get(key, 0)
        self.used[key] = used + delta
        if tenant.cohort is None or tenant.quotas is None:
            return
        quota = self.facts.quotas.get(key)
        guaranteed = quota.guaranteed if quota is not None else 0
        draw = max(0, used + delta - guaranteed) - max(0, used - guaranteed)
        if draw:
            ckey = (tenant.cohort, model)
            self.cohort_used[ckey] = self.cohort_used.get(ckey, 0) + draw

    def borrowing(self, tenant: Tenant, model: str, releasing: int = 0) -> bool:
        """Is the tenant above its nominal quota of `model` (using capacity others lent), once
        `releasing` accelerators of it are given back?"""
        if tenant.quotas is None or tenant.cohort is None:
            return False
        quota = tenant.quota(model)
        nominal = quota.nominal if quota is not None else 0
        return self.used.get((tenant.id, model), 0) - releasing > nominal

    def ceiling(self, tenant: Tenant, model: str) -> int | None:
        """The most of `model` the tenant could ever hold at once (None: unlimited)."""
        if tenant.quotas is None:
            return None
        quota = tenant.quota(model)
        if quota is None:
            return 0
        if tenant.cohort is None:
            return quota.nominal
        pooled = quota.guaranteed + self.facts.cohort_capacity.get((tenant.cohort, model), 0)
        if quota.borrowing_limit is None:
            return pooled
        return min(pooled, quota.nominal + quota.borrowing_limit)
