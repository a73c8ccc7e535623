"""Running jobs, indexed so that neither the search for victims nor a backfill reservation
walks every running job.

Kept incrementally by `ClusterState` (and built from scratch by `Snapshot.build`): every running
job by (model, zone); and of the preemptible ones: by (model, zone) and priority in start order,
by (tenant, model), and per owner the jobs of other owners' tenants on its nodes (capacity it lent
and may reclaim).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import RunningJob
from scheduler.domain.pool import Pool

Combo = tuple[str, Jurisdiction]


class RunningIndex:
    __slots__ = ("by_combo", "by_tenant", "holding", "lent", "pool")

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.holding: dict[Combo, dict[str, RunningJob]] = {}  # every running job
        self.by_combo: dict[Combo, dict[int, dict[str, RunningJob]]] = {}
        self.by_tenant: dict[tuple[str, str], dict[str, RunningJob]] = {}  # (tenant, model)
        self.lent: dict[str, dict[str, RunningJob]] = {}  # owner -> borrowers on its nodes

    @classmethod
    def of(cls, pool: Pool, running: Iterable[RunningJob]) -> RunningIndex:
        index = cls(pool)
        for r in sorted(running, key=lambda r: (r.started_at, r.job.seq)):
            index.add(r)
        return index

    def _lender(self, r: RunningJob) -> str | None:
        """The owner whose nodes `r` borrows, or None when it runs on its own owner's nodes."""
        node_owner = self.pool.nodes[r.placement.workers[0][0]].owner
        tenant = self.pool.tenants.get(r.job.tenant)
        if tenant is not None and tenant.owner == node_owner:
            return None
        return node_owner

    def add(self, r: RunningJob) -> None:
        combo = (r.placement.model, r.placement.zone)
        self.holding.setdefault(combo, {})[r.id] = r
        if not r.job.preemptible:
            return
        self.by_combo.setdefault(combo, {}).setdefault(r.job.priority, {})[r.id] = r
        self.by_tenant.setdefault((r.job.tenant, r.placement.model), {})[r.id] = r
        lender = self._lender(r)
        if lender is not None:
            self.lent.setdefault(lender, {})[r.id] = r

    def remove(self, r: RunningJob) -> None:
        combo = (r.placement.model, r.placement.zone)
        self.holding.get(combo, {}).pop(r.id, None)
        if not r.job.preemptible:
            return
        by_priority = self.by_combo.get(combo, {})
        rows = by_priority.get(r.job.priority, {})
        if rows.pop(r.id, None) is None:
            return
        if not rows:
            del by_priority[r.job.priority]
        self.by_tenant[(r.job.tenant, r.placement.model)].pop(r.id)
        lender = self._lender(r)
        if lender is not None:
            self.lent[lender].pop(r.id)

    def in_combo(self, combo: Combo) -> Iterable[RunningJob]:
        """Every running job of one model in one zone."""
        return self.holding.get(combo, {}).values()

    def of_tenant(self, tenant: str, model: str) -> Iterable[RunningJob]:
        return self.by_tenant.get((tenant, model), {}).values()

    def lent_by(self, owner: str) -> Iterable[RunningJob]:
        return self.lent.get(owner, {}).values()

    def at_priority(self, combo: Combo, priority: int) -> Iterable[RunningJob]:
        """The preemptible running jobs of one priority in one (model, zone), in start order."""
        return self.by_combo.get(combo, {}).get(priority, {}).values()

    def lowest_priority(self, combo: Combo) -> int | None:
        by_priority = self.by_combo.get(combo)
        return min(by_priority) if by_priority else None

    def in_order(self, combo: Combo) -> Iterator[RunningJob]:
        """Victim order: lowest priority first, then the most recently started first."""
        by_priority: Mapping[int, dict[str, RunningJob]] = self.by_combo.get(combo, {})
        for priority in sorted(by_priority):
            yield from reversed(by_priority[priority].values())
