"""The pool's capacity in integer units: accelerators and TFLOPS by precision, with breakdowns by
city, owner class, jurisdiction and accelerator model. Floats appear only in `to_json`, which is
presentation (PFLOPS, shares)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from scheduler.domain.accelerators import AcceleratorModel, Catalogue, Precision
from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.nodes import Node, OwnerClass
from scheduler.domain.pool import Pool

TFLOPS_PER_EFLOPS = 1_000_000


@dataclass(frozen=True, slots=True)
class Target:
    """A public capacity target, compared at dense fp16 like DOMAIN.md's scale model."""

    name: str
    year: int
    eflops: int

    @property
    def tflops(self) -> int:
        return self.eflops * TFLOPS_PER_EFLOPS


GUANGDONG_TARGETS = (
    Target("guangdong-2025", 2025, 40),
    Target("guangdong-2027", 2027, 60),
)


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The capacity of one slice of the pool (a city, an owner class, …)."""

    nodes: int = 0
    accelerators: int = 0
    tflops_fp16: int = 0
    domestic_accelerators: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "accelerators": self.accelerators,
            "tflops_fp16": self.tflops_fp16,
            "pflops_fp16": _per_thousand(self.tflops_fp16),
            "domestic_accelerators": self.domestic_accelerators,
            "domestic_share": _share(self.domestic_accelerators, self.accelerators),
        }


@dataclass(frozen=True)
class CapacityReport:
    """Totals are over every node whatever its state; `schedulable_*` count nodes that are up.
    A precision's total sums only the models that publish a figure for it, and
    `counted_accelerators[precision]` says how many accelerators that covers."""

    pool: str
    nodes: int
    accelerators: int
    schedulable_nodes: int
    schedulable_accelerators: int
    tflops: Mapping[Precision, int]
    counted_accelerators: Mapping[Precision, int]
    domestic_accelerators: int
    domestic_tflops_fp16: int
    by_city: Mapping[City, Breakdown]
    by_owner_class: Mapping[OwnerClass, Breakdown]
    by_jurisdiction: Mapping[Jurisdiction, Breakdown]
    by_model: Mapping[str, Breakdown]
    catalogue: Catalogue

    @property
    def tflops_fp16(self) -> int:
        return self.tflops[Precision.FP16]

    def target_fraction(self, target: Target) -> float:
        return round(self.tflops_fp16 / target.tflops, 6)

    def to_json(self) -> dict[str, object]:
        fp16, fp32, int8 = (self.tflops[p] for p in Precision)
        return {
            "pool": self.pool,
            "nodes": self.nodes,
            "accelerators": self.accelerators,
            "schedulable_nodes": self.schedulable_nodes,
            "schedulable_accelerators": self.schedulable_accelerators,
            "tflops_fp16": fp16,
            "tflops_fp32": fp32,
            "tops_int8": int8,
            "pflops_fp16": _per_thousand(fp16),
            "pflops_fp32": _per_thousand(fp32),
            "pops_int8": _per_thousand(int8),
            "eflops_fp16": round(fp16 / TFLOPS_PER_EFLOPS, 6),
            "counted_accelerators": {p.value: n for p, n in self.counted_accelerators.items()},
            "domestic_accelerators": self.domestic_accelerators,
            "domestic_tflops_fp16": self.domestic_tflops_fp16,
            "domestic_share": _share(self.domestic_accelerators, self.accelerators),
            "domestic_share_tflops": _share(self.domestic_tflops_fp16, fp16),
            "targets": {
                t.name: {
                    "year": t.year,
                    "eflops_fp16": t.eflops,
                    "fraction": self.target_fraction(t),
                }
                for t in GUANGDONG_TARGETS
            },
            "by_model": {
                model_id: {
                    "vendor": self.catalogue[model_id].vendor,
                    "domestic": self.catalogue[model_id].domestic,
                    **slice_.to_json(),
                }
                for model_id, slice_ in self.by_model.items()
            },
            "by_city": {
                city.value: {"jurisdiction": city.jurisdiction.value, **slice_.to_json()}
                for city, slice_ in self.by_city.items()
            },
            "by_owner_class": {k.value: v.to_json() for k, v in self.by_owner_class.items()},
            "by_jurisdiction": {k.value: v.to_json() for k, v in self.by_jurisdiction.items()},
        }


def capacity_report(pool: Pool) -> CapacityReport:
    catalogue = pool.catalogue
    nodes = list(pool.nodes.values())
    counted = {p: 0 for p in Precision}
    tflops = {p: 0 for p in Precision}
    for node in nodes:
        model = catalogue[node.model]
        for precision in Precision:
            figure = model.tflops(precision)
            if figure is not None:
                counted[precision] += node.accelerators
                tflops[precision] += figure * node.accelerators
    up = [node for node in nodes if node.state.schedulable]
    domestic = [node for node in nodes if catalogue[node.model].domestic]
    return CapacityReport(
        pool=pool.name,
        nodes=len(nodes),
        accelerators=_accelerators(nodes),
        schedulable_nodes=len(up),
        schedulable_accelerators=_accelerators(up),
        tflops=tflops,
        counted_accelerators=counted,
        domestic_accelerators=_accelerators(domestic),
        domestic_tflops_fp16=sum(n.accelerators * catalogue[n.model].tflops_fp16 for n in domestic),
        by_city=_by(City, nodes, catalogue, lambda n: n.city),
        by_owner_class=_by(OwnerClass, nodes, catalogue, lambda n: n.owner_class),
        by_jurisdiction=_by(Jurisdiction, nodes, catalogue, lambda n: n.jurisdiction),
        by_model=_by_model(nodes, catalogue),
        catalogue=catalogue,
    )


K = TypeVar("K")
E = TypeVar("E", bound=enum.Enum)


class _Tally:
    __slots__ = ("accelerators", "domestic", "nodes", "tflops")

    def __init__(self) -> None:
        self.nodes = self.accelerators = self.tflops = self.domestic = 0

    def add(self, node: Node, model: AcceleratorModel) -> None:
        self.nodes += 1
        self.accelerators += node.accelerators
        self.tflops += node.accelerators * model.tflops_fp16
        if model.domestic:
            self.domestic += node.accelerators

    def freeze(self) -> Breakdown:
        return Breakdown(self.nodes, self.accelerators, self.tflops, self.domestic)


def _tally(
    keys: Iterable[K], nodes: Iterable[Node], catalogue: Catalogue, key: Callable[[Node], K]
) -> dict[K, Breakdown]:
    """One breakdown per key of `keys`, in that order, so empty slices still appear."""
    tallies = {k: _Tally() for k in keys}
    for node in nodes:
        tallies[key(node)].add(node, catalogue[node.model])
    return {k: t.freeze() for k, t in tallies.items()}


def _by(
    kind: type[E], nodes: Iterable[Node], catalogue: Catalogue, key: Callable[[Node], E]
) -> dict[E, Breakdown]:
    return _tally(list(kind), nodes, catalogue, key)


def _by_model(nodes: Iterable[Node], catalogue: Catalogue) -> dict[str, Breakdown]:
    return _tally(list(catalogue), nodes, catalogue, lambda n: n.model)


def _accelerators(nodes: Iterable[Node]) -> int:
    return sum(node.accelerators for node in nodes)


def _per_thousand(value: int) -> float:
    return round(value / 1000, 3)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
