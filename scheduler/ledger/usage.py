"""What one attempt of a job used, as it is billed: who ran, on whose nodes, on which chip, for
how many accelerator-seconds at which hourly price. A settlement posting carries it so that a
program's auditor can recompute the cost line by line."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Currency
from scheduler.domain.jobs import Placement
from scheduler.domain.money import Money, accelerator_seconds_cost
from scheduler.domain.pool import Pool


@dataclass(frozen=True, slots=True)
class Usage:
    """One attempt's metered usage. `price` is minor units of `currency` per accelerator-hour;
    `owner` is the supplier whose nodes ran the attempt and who is owed the cost."""

    tenant: str
    owner: str
    nodes: tuple[str, ...]
    model: str
    domestic: bool
    accelerator_seconds: int
    price: int
    currency: Currency

    def __post_init__(self) -> None:
        for name in ("tenant", "owner", "model"):
            if not getattr(self, name):
                raise InvalidField(f"usage.{name}", "must not be empty")
        for name in ("accelerator_seconds", "price"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidField(f"usage.{name}", "must be a non-negative integer")

    @property
    def cost(self) -> int:
        """The billed cost in minor units, rounded half up exactly as everywhere else."""
        price = Money(self.currency, self.price)
        return accelerator_seconds_cost(price, self.accelerator_seconds).minor


def placement_usage(pool: Pool, tenant: str, placement: Placement, seconds: int) -> Usage:
    """What an attempt placed on `placement` used in `seconds` of running, billed at the price of
    its first node's owner: a funded attempt runs with one supplier (the engine's funding rule),
    so the first node speaks for all of them."""
    first = pool.nodes[placement.workers[0][0]]
    return Usage(
        tenant=tenant,
        owner=first.owner,
        nodes=tuple(node for node, _ in placement.workers),
        model=placement.model,
        domestic=pool.catalogue[placement.model].domestic,
        accelerator_seconds=placement.accelerators * max(0, seconds),
        price=first.price.minor,
        currency=first.price.currency,
    )
