"""Owners who put accelerators into the pool, and their nodes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.money import Money


class OwnerClass(enum.StrEnum):
    GOVERNMENT = "government"
    ENTERPRISE = "enterprise"
    RESEARCH = "research"


MAX_NODE_ACCELERATORS = 1024
"""The most accelerators one node may have. Real machines hold 4 to 16 (a rack-scale system
up to 384); the capacity index keeps a bucket per free count, so a node's size must be bounded."""


class NodeState(enum.StrEnum):
    UP = "up"  # takes new work
    CORDONED = "cordoned"  # keeps its work, takes no new work
    DRAINING = "draining"  # keeps its work until it ends, then goes down; takes no new work
    DOWN = "down"  # gone; its work is lost

    @property
    def schedulable(self) -> bool:
        return self is NodeState.UP


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    name: str
    owner_class: OwnerClass
    currency: Currency

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidField("owner.id", "must not be empty")


@dataclass(frozen=True, slots=True)
class Node:
    """A machine of `accelerators` devices of one model. `price` is per accelerator-hour."""

    id: str
    owner: str
    owner_class: OwnerClass
    city: City
    model: str
    accelerators: int
    price: Money
    state: NodeState = NodeState.UP
    labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidField("node.id", "must not be empty")
        if not 0 < self.accelerators <= MAX_NODE_ACCELERATORS:
            raise InvalidField(
                f"nodes.{self.id}.accelerators",
                f"must be a positive integer, at most {MAX_NODE_ACCELERATORS}",
            )
        if self.price.minor < 0:
            raise InvalidField(f"nodes.{self.id}.price", "must not be negative")

    @property
    def jurisdiction(self) -> Jurisdiction:
        return self.city.jurisdiction

    def with_state(self, state: NodeState) -> Node:
        return Node(
            self.id,
            self.owner,
            self.owner_class,
            self.city,
            self.model,
            self.accelerators,
            self.price,
            state,
            self.labels,
        )
