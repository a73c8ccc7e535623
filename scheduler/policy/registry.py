"""Policies by name. A policy is a queue policy plus a placement strategy: `backfill:cheapest`.
Adding one means adding its class to a table here and a row to its test table."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.errors import InvalidField
from scheduler.policy.fairshare import DEFAULT_HALF_LIFE_S
from scheduler.policy.ordering import Backfill, Fifo, Las, PriorityFairShare, Qssf, QueuePolicy
from scheduler.policy.placement import (
    BinPack,
    Cheapest,
    DomesticFirst,
    PlacementStrategy,
    Spread,
    Subsidised,
)
from scheduler.policy.service import ServiceHistory

_QUEUES: tuple[type[QueuePolicy], ...] = (Fifo, PriorityFairShare, Backfill, Las, Qssf)
_PLACEMENTS: tuple[type[PlacementStrategy], ...] = (
    BinPack,
    Spread,
    Cheapest,
    DomesticFirst,
    Subsidised,
)
QUEUE_POLICIES: dict[str, type[QueuePolicy]] = {cls.name: cls for cls in _QUEUES}
PLACEMENT_STRATEGIES: dict[str, type[PlacementStrategy]] = {cls.name: cls for cls in _PLACEMENTS}
DEFAULT_QUEUE = PriorityFairShare.name
DEFAULT_PLACEMENT = BinPack.name


@dataclass(frozen=True)
class Policy:
    queue: QueuePolicy
    placement: PlacementStrategy
    half_life_s: int = DEFAULT_HALF_LIFE_S

    @property
    def name(self) -> str:
        return f"{self.queue.name}:{self.placement.name}"

    @property
    def reads_service(self) -> bool:
        """True when the queue policy ranks jobs by service (las, qssf): whoever runs it must
        keep attained service and finished run times (`ClusterState.finish(at=)`, `retire`)."""
        return self.queue.ranking(ServiceHistory(), 0) is not None


def resolve_policy(
    spec: str, half_life_s: int = DEFAULT_HALF_LIFE_S, field: str = "policy"
) -> Policy:
    """`queue`, `placement`, or `queue:placement` → a Policy. Defaults fill the missing half."""
    if half_life_s <= 0:
        raise InvalidField("half_life_s", "must be a positive number of seconds")
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) > 2 or not all(parts):
        raise InvalidField(
            field, f"malformed policy {spec!r}; expected QUEUE, PLACEMENT or QUEUE:PLACEMENT"
        )
    if len(parts) == 2:
        queue_name, placement_name = parts
    elif parts[0] in PLACEMENT_STRATEGIES:
        queue_name, placement_name = DEFAULT_QUEUE, parts[0]
    else:
        queue_name, placement_name = parts[0], DEFAULT_PLACEMENT
    queue = QUEUE_POLICIES.get(queue_name)
    if queue is None:
        raise InvalidField(
            field, f"unknown queue policy {queue_name!r}; known: {', '.join(QUEUE_POLICIES)}"
        )
    placement = PLACEMENT_STRATEGIES.get(placement_name)
    if placement is None:
        known = ", ".join(PLACEMENT_STRATEGIES)
        raise InvalidField(field, f"unknown placement strategy {placement_name!r}; known: {known}")
    return Policy(queue(), placement(), half_life_s)


def describe_policies() -> list[tuple[str, str, str]]:
    """(kind, name, one-line summary) for every registered policy."""
    rows = [("queue", name, cls.summary) for name, cls in QUEUE_POLICIES.items()]
    rows += [("placement", name, cls.summary) for name, cls in PLACEMENT_STRATEGIES.items()]
    return rows
