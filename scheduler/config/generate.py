"""Large pools with the sample's mix, as TOML text (`gbasched pool generate`).

Rules, so that the output is predictable:
- Nodes all have 8 accelerators, so `accelerators` is rounded down to a multiple of 8 and must be
  at least 8; the pool has `accelerators // 8` nodes.
- The template (by default `deploy/pools/gba-sample.toml`) gives everything but the nodes: the
  catalogue, owners, priority classes, cohorts, approvals, and tenants with quotas scaled by
  (generated accelerators ÷ template accelerators), rounded down to multiples of 8 (figures
  below 8 are kept as they are).
- Nodes are all `up` and follow the template's sites (owner, city, model, price), each weighted
  by its accelerators with a ±10 % jitter. A large site is split into a few halls priced within
  ±8 % of the site, so a 100,000-accelerator pool has a couple of hundred node groups (at most
  MAX_GROUPS for a template of up to that many sites): enough variety for placement and pricing
  to matter, few enough for the engine's per-group capacity index.
- The same (accelerators, seed, template) always gives the same text (`random.Random(seed)`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from scheduler.config import toml_writer as toml
from scheduler.config.pool_toml import load_pool
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City
from scheduler.domain.pool import Pool

SAMPLE_POOL = Path(__file__).resolve().parents[2] / "deploy" / "pools" / "gba-sample.toml"
NODE_SIZE = 8
MAX_GROUPS = 256
NODES_PER_HALL = 32
SITE_JITTER = 0.10
PRICE_JITTER = 0.08
# Expiry times are written in GBA local time, as an operator would file them.
_GBA_TIME = dt.timezone(dt.timedelta(hours=8))

_SiteKey = tuple[str, City, str, int]


@dataclass(frozen=True, slots=True)
class _Site:
    owner: str
    city: City
    model: str
    price: int
    accelerators: int

    @property
    def key(self) -> _SiteKey:
        return (self.owner, self.city, self.model, self.price)


@dataclass(frozen=True, slots=True)
class _Hall:
    site: _Site
    price: int
    nodes: int
    id_prefix: str


def generate_pool_toml(
    accelerators: int, seed: int, template: Pool | None = None, *, field: str = "accelerators"
) -> str:
    """A pool of `accelerators` (rounded down to whole nodes) with the template's mix, as TOML;
    a count under one node is an InvalidField naming `field` (the caller's name for it)."""
    if accelerators < NODE_SIZE:
        raise InvalidField(
            field, f"must be at least {NODE_SIZE} (one {NODE_SIZE}-accelerator node)"
        )
    base = load_pool(SAMPLE_POOL) if template is None else template
    rng = random.Random(seed)
    halls = _halls(_sites(base), accelerators // NODE_SIZE, rng)
    return "\n".join(_emit(base, halls, accelerators, seed))


def _sites(pool: Pool) -> list[_Site]:
    totals: dict[_SiteKey, int] = {}
    for node in pool.nodes.values():
        key = (node.owner, node.city, node.model, node.price.minor)
        totals[key] = totals.get(key, 0) + node.accelerators
    return [_Site(*key, accelerators=count) for key, count in totals.items()]


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` by largest remainder (ties to the earlier)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    out = [int(x) for x in exact]
    by_remainder = sorted(range(len(out)), key=lambda i: (out[i] - exact[i], i))
    for i in by_remainder[: total - sum(out)]:
        out[i] += 1
    return out


def _halls(sites: Sequence[_Site], nodes: int, rng: random.Random) -> list[_Hall]:
    weights = [s.accelerators * rng.uniform(1 - SITE_JITTER, 1 + SITE_JITTER) for s in sites]
    max_halls = max(1, MAX_GROUPS // len(sites))
    taken = {site.key for site in sites}
    numbers: dict[tuple[str, City, str], int] = {}
    halls = []
    for site, count in zip(sites, _apportion(nodes, weights), strict=True):
        if count == 0:
            continue
        n_halls = max(1, min(max_halls, count // NODES_PER_HALL))
        # Every hall gets one node, the rest is spread unevenly as real sites are.
        extra = _apportion(count - n_halls, [rng.uniform(0.5, 1.5) for _ in range(n_halls)])
        for i, more in enumerate(extra):
            price = site.price
            if i > 0:
                price = round(site.price * rng.uniform(1 - PRICE_JITTER, 1 + PRICE_JITTER))
                while (site.owner, site.city, site.model, price) in taken:
                    price += 1
                taken.add((site.owner, site.city, site.model, price))
            where = (site.owner, site.city, site.model)
            numbers[where] = numbers.get(where, 0) + 1
            prefix = f"{site.owner}-{site.city}-{site.model}-h{numbers[where]:02d}"
            halls.append(_Hall(site, price, 1 + more, prefix))
    return halls


def _emit(base: Pool, halls: Sequence[_Hall], requested: int, seed: int) -> Iterator[str]:
    nodes = sum(h.nodes for h in halls)
    total = nodes * NODE_SIZE
    yield (
        f"# Generated from pool {base.name!r}: {total} accelerators ({requested} requested, "
        f"rounded down to whole {NODE_SIZE}-accelerator nodes)\n"
        f"# in {nodes} nodes and {len(halls)} node groups, seed {seed}. Regenerate, do not edit:\n"
        f"#   gbasched pool generate --accelerators {requested} --seed {seed} --out FILE\n"
    )
    yield toml.table(
        "[pool]",
        {
            "name": f"{base.name}-scaled-{total}-seed{seed}",
            "default_priority_class": base.default_priority_class or None,
        },
    )
    for model in base.catalogue.values():
        yield toml.table(
            f"[accelerators.{toml.key(model.id)}]",
            {
                "vendor": model.vendor,
                "domestic": model.domestic,
                "tflops_fp16": model.tflops_fp16,
                "tflops_fp32": model.tflops_fp32,
                "tops_int8": model.tops_int8,
                "memory_gib": model.memory_gib,
            },
        )
    for owner in base.owners.values():
        yield toml.table(
            f"[owners.{toml.key(owner.id)}]",
            {"name": owner.name, "class": owner.owner_class.value, "currency": owner.currency},
        )
    for cls in base.priority_classes.values():
        yield toml.table(
            f"[priority_classes.{toml.key(cls.name)}]",
            {"value": cls.value, "description": cls.description or None},
        )
    for hall in halls:
        yield toml.table(
            "[[node_groups]]",
            {
                "owner": hall.site.owner,
                "city": hall.site.city.value,
                "model": hall.site.model,
                "accelerators_per_node": NODE_SIZE,
                "count": hall.nodes,
                "price_per_accel_hour": hall.price,
                "id_prefix": hall.id_prefix,
            },
        )
    yield from _emit_tenants(base, total)
    for approval in base.approvals.values():
        yield toml.table(
            "[[approvals]]",
            {
                "id": approval.id,
                "tenant": approval.tenant,
                "from_zone": approval.from_zone.value,
                "to_zone": approval.to_zone.value,
                "expires_at": dt.datetime.fromtimestamp(approval.expires_at, _GBA_TIME),
            },
        )


def _emit_tenants(base: Pool, total: int) -> Iterator[str]:
    base_total = sum(node.accelerators for node in base.nodes.values())

    # Whole nodes' worth where there is at least one node's worth. Monotone in `amount`, so
    # lending_limit ≤ nominal still holds after scaling.
    def scaled(amount: int | None) -> int | None:
        if amount is None:
            return None
        exact = amount * total // base_total
        return exact // NODE_SIZE * NODE_SIZE if exact >= NODE_SIZE else exact

    def by_value(names: frozenset[str]) -> list[str] | None:
        return sorted(names, key=lambda n: (base.priority_classes[n].value, n)) or None

    for tenant in base.tenants.values():
        tenant_key = f"tenants.{toml.key(tenant.id)}"
        yield toml.table(
            f"[{tenant_key}]",
            {
                "name": tenant.name,
                "weight": tenant.weight,
                "owner": tenant.owner,
                "flags": sorted(tenant.flags) or None,
                "priority_classes": by_value(tenant.priority_classes),
                "cohort": tenant.cohort,
            },
        )
        if tenant.quotas is not None and not tenant.quotas:
            yield f"[{tenant_key}.quotas]\n"
        for quota in tenant.quotas or ():
            yield toml.table(
                f"[{tenant_key}.quotas.{toml.key(quota.model)}]",
                {
                    "nominal": scaled(quota.nominal),
                    "borrowing_limit": scaled(quota.borrowing_limit),
                    "lending_limit": scaled(quota.lending_limit),
                },
            )
