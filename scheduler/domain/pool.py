"""The configured pool: catalogue, owners, nodes, tenants, priority classes, approvals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from scheduler.domain.accelerators import Catalogue
from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.nodes import Node, Owner
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import PriorityClass, Tenant


@dataclass(frozen=True)
class Pool:
    """Everything configured about the pool. Built once; validated on construction so that a pool
    object is always consistent (every reference resolves, a node's price is in its owner's
    currency and its zone's)."""

    name: str
    catalogue: Catalogue
    owners: Mapping[str, Owner]
    nodes: Mapping[str, Node]
    tenants: Mapping[str, Tenant]
    priority_classes: Mapping[str, PriorityClass]
    approvals: Mapping[str, Approval] = field(default_factory=dict)
    default_priority_class: str = ""
    # The scheduling policy by registry name (`QUEUE:PLACEMENT`) and the fair-share half-life;
    # empty / 0 mean the engine's defaults. The config layer checks the name against the registry.
    policy: str = ""
    fair_share_half_life_s: int = 0

    def __post_init__(self) -> None:
        for node in self.nodes.values():
            where = f"nodes.{node.id}"
            self.catalogue.require(node.model, f"{where}.model")
            owner = self.owners.get(node.owner)
            if owner is None:
                raise UnknownReference(f"{where}.owner", f"unknown owner {node.owner!r}")
            if owner.owner_class is not node.owner_class:
                raise InvalidField(f"{where}.owner_class", "differs from the owner's class")
            if node.price.currency is not owner.currency:
                raise InvalidField(
                    f"{where}.price",
                    f"is in {node.price.currency} but owner {owner.id!r} bills in {owner.currency}",
                )
            # A node is priced in the currency of the zone it stands in, so that what one
            # supplier is paid for one gang never mixes currencies.
            zone_currency = node.jurisdiction.currency
            if node.price.currency is not zone_currency:
                raise InvalidField(
                    f"{where}.price",
                    f"is in {node.price.currency} but {node.city} nodes bill in {zone_currency};"
                    f" an owner bills in one currency: register the node under an owner billing"
                    f" in {zone_currency}",
                )
        for tenant in self.tenants.values():
            where = f"tenants.{tenant.id}"
            if tenant.owner is not None and tenant.owner not in self.owners:
                raise UnknownReference(f"{where}.owner", f"unknown owner {tenant.owner!r}")
            for name in sorted(tenant.priority_classes):
                if name not in self.priority_classes:
                    raise UnknownReference(f"{where}.priority_classes", f"unknown class {name!r}")
            for quota in tenant.quotas or ():
                self.catalogue.require(quota.model, f"{where}.quotas.{quota.model}")
        for approval in self.approvals.values():
            if approval.tenant not in self.tenants:
                raise UnknownReference(
                    f"approvals.{approval.id}.tenant", f"unknown tenant {approval.tenant!r}"
                )
        if self.fair_share_half_life_s < 0:
            raise InvalidField("fair_share_half_life_s", "must not be negative")
        if self.default_priority_class and self.default_priority_class not in self.priority_classes:
            raise UnknownReference(
                "default_priority_class", f"unknown class {self.default_priority_class!r}"
            )

    @staticmethod
    def build(
        name: str,
        catalogue: Catalogue,
        owners: Iterable[Owner],
        nodes: Iterable[Node],
        tenants: Iterable[Tenant],
        priority_classes: Iterable[PriorityClass],
        approvals: Iterable[Approval] = (),
        default_priority_class: str = "",
        policy: str = "",
        fair_share_half_life_s: int = 0,
    ) -> Pool:
        return Pool(
            name=name,
            catalogue=catalogue,
            owners=_unique("owners", owners),
            nodes=_unique("nodes", nodes),
            tenants=_unique("tenants", tenants),
            priority_classes={p.name: p for p in _unique_named(priority_classes)},
            approvals=_unique("approvals", approvals),
            default_priority_class=default_priority_class,
            policy=policy,
            fair_share_half_life_s=fair_share_half_life_s,
        )

    def cohort_members(self, cohort: str) -> tuple[Tenant, ...]:
        return tuple(t for t in self.tenants.values() if t.cohort == cohort)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


def _unique(kind: str, items: Iterable[T]) -> dict[str, T]:
    out: dict[str, T] = {}
    for item in items:
        if item.id in out:
            raise InvalidField(f"{kind}.{item.id}", "defined twice")
        out[item.id] = item
    return out


def _unique_named(items: Iterable[PriorityClass]) -> list[PriorityClass]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.name in seen:
            raise InvalidField(f"priority_classes.{item.name}", "defined twice")
        seen.add(item.name)
        out.append(item)
    return out
