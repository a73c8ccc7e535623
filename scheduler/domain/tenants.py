"""Tenants, their priority classes, and quotas per accelerator flavor (Kueue semantics)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField


class TenantFlag(enum.StrEnum):
    STARTUP = "startup"
    SME = "sme"
    RESEARCH = "research"
    PUBLIC_SECTOR = "public-sector"


@dataclass(frozen=True, slots=True)
class PriorityClass:
    """A named priority. Higher `value` goes first and may preempt lower, preemptible work."""

    name: str
    value: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class FlavorQuota:
    """A tenant's quota for one accelerator model (flavor), in accelerators.

    nominal: guaranteed to the tenant (within its cohort).
    borrowing_limit: how far above nominal it may go by borrowing from the cohort (None: no limit).
    lending_limit: how much of its unused nominal the cohort may borrow (None: all of it).
    """

    model: str
    nominal: int
    borrowing_limit: int | None = None
    lending_limit: int | None = None

    def __post_init__(self) -> None:
        if self.nominal < 0:
            raise InvalidField(f"quotas.{self.model}.nominal", "must not be negative")
        if self.borrowing_limit is not None and self.borrowing_limit < 0:
            raise InvalidField(f"quotas.{self.model}.borrowing_limit", "must not be negative")
        if self.lending_limit is not None and not 0 <= self.lending_limit <= self.nominal:
            raise InvalidField(
                f"quotas.{self.model}.lending_limit", "must be between 0 and nominal"
            )

    @property
    def lendable(self) -> int:
        return self.nominal if self.lending_limit is None else self.lending_limit

    @property
    def guaranteed(self) -> int:
        """The part of nominal nobody else may borrow."""
        return self.nominal - self.lendable


@dataclass(frozen=True, slots=True)
class Tenant:
    """A pool user. `quotas` None means the tenant is not quota-limited; otherwise only the listed
    flavors are usable. `owner` is the owner the tenant belongs to (it may reclaim that owner's
    nodes from borrowers)."""

    id: str
    name: str
    weight: int = 1
    owner: str | None = None
    priority_classes: frozenset[str] = frozenset()
    flags: frozenset[TenantFlag] = frozenset()
    cohort: str | None = None
    quotas: tuple[FlavorQuota, ...] | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidField("tenant.id", "must not be empty")
        if self.weight <= 0:
            raise InvalidField(f"tenants.{self.id}.weight", "must be a positive integer")
        if self.quotas is not None:
            seen: set[str] = set()
            for quota in self.quotas:
                if quota.model in seen:
                    raise InvalidField(f"tenants.{self.id}.quotas.{quota.model}", "defined twice")
                seen.add(quota.model)

    def quota(self, model: str) -> FlavorQuota | None:
        if self.quotas is None:
            return None
        for quota in self.quotas:
            if quota.model == model:
                return quota
        return None

    def may_use_priority(self, priority_class: str) -> bool:
        return not self.priority_classes or priority_class in self.priority_classes


def flavor_field(error: InvalidField, prefix: str, models: Sequence[str]) -> InvalidField:
    """An error about `<prefix>.quotas.<model>…` (a pool's key path) as a request names it:
    `<prefix>.quotas.flavors[i]…`, `i` the model's place in `models` (its last place for a
    model named twice: the one refused)."""
    head = f"{prefix}.quotas."
    if not error.field.startswith(head):
        return error
    rest = error.field[len(head) :]
    for model in sorted(set(models), key=len, reverse=True):  # "a-b" before "a"
        if rest == model or rest.startswith(model + "."):
            i = len(models) - 1 - list(reversed(models)).index(model)
            return type(error)(f"{head}flavors[{i}]{rest[len(model) :]}", error.message)
    return error
