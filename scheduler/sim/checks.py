"""What must hold in every replayed world, checked from the outside (the store's event log),
not from the engine's own bookkeeping:

- never over capacity: the accelerators held on a node never exceed its size;
- no gang split: an admitted gang has exactly its workers, each with its per-worker count;
- the ledger balances (with programs): `Ledger.check()` finds nothing.

`NodeUse` checks the first two as admissions and releases happen (O(workers) each);
`world_violations` checks a whole world at once (tests, the end of a replay).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scheduler.domain.jobs import Gang
from scheduler.domain.pool import Pool
from scheduler.ledger.book import Ledger

Workers = Sequence[tuple[str, int]]


class InvariantViolated(RuntimeError):
    """The replay reached a world that must never exist; the message says what and when."""


@dataclass(frozen=True, slots=True)
class Holding:
    """A gang holding accelerators: rank i on `workers[i] = (node, count)`."""

    job_id: str
    gang: Gang
    workers: tuple[tuple[str, int], ...]


def gang_violations(holding: Holding) -> list[str]:
    gang, workers = holding.gang, holding.workers
    if len(workers) != gang.workers or any(count != gang.per_worker for _, count in workers):
        return [
            f"job {holding.job_id}: gang of {gang.workers} × {gang.per_worker} split or resized"
            f" as {[list(w) for w in workers]}"
        ]
    return []


class NodeUse:
    """Accelerators held per node, kept as gangs are admitted and released."""

    def __init__(self, pool: Pool) -> None:
        self._size = {node.id: node.accelerators for node in pool.nodes.values()}
        self._used: dict[str, int] = {}
        self._held: dict[str, Holding] = {}

    def take(self, holding: Holding) -> list[str]:
        out = gang_violations(holding)
        if holding.job_id in self._held:
            out.append(f"job {holding.job_id} admitted while it still holds accelerators")
        self._held[holding.job_id] = holding
        for node, count in holding.workers:
            size = self._size.get(node)
            if size is None:
                out.append(f"job {holding.job_id} placed on {node}, which is not in the pool")
                continue
            used = self._used.get(node, 0) + count
            self._used[node] = used
            if used > size:
                out.append(f"node {node} over capacity: {used} > {size} (job {holding.job_id})")
        return out

    def give(self, job_id: str) -> None:
        holding = self._held.pop(job_id, None)
        if holding is None:
            return
        for node, count in holding.workers:
            self._used[node] -= count

    @property
    def holding(self) -> Iterable[Holding]:
        return self._held.values()


def world_violations(
    pool: Pool, holdings: Iterable[Holding], ledger: Ledger | None = None
) -> list[str]:
    """Every invariant over a whole world: gangs whole, nodes within capacity, the ledger
    balanced (when given)."""
    use = NodeUse(pool)
    out: list[str] = []
    for holding in holdings:
        out.extend(use.take(holding))
    if ledger is not None:
        out.extend(f"ledger: {v}" for v in ledger.check())
    return out
