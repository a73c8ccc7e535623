"""Synthetic workloads over a pool: deterministic for a seed, shaped like the pool's tenants.

Each job uses models its tenant has quota for (any model when the tenant is not quota-limited),
a data zone where that model exists, and a priority class the tenant may use, so that the
workload exercises placement rather than tripping over its own configuration.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Gang, Job
from scheduler.domain.pool import Pool
from scheduler.domain.requests import oversize
from scheduler.ledger.programs import Program

SHAPES = ("mixed", "single", "node", "gang")


@dataclass(frozen=True)
class _TenantProfile:
    tenant: str
    models: tuple[str, ...]
    priority_classes: tuple[str, ...]


def _profiles(pool: Pool) -> list[_TenantProfile]:
    present = sorted({n.model for n in pool.nodes.values()})
    default = pool.default_priority_class or next(iter(pool.priority_classes), "")
    out = []
    for tenant in sorted(pool.tenants.values(), key=lambda t: t.id):
        models = (
            present
            if tenant.quotas is None
            else sorted(
                q.model
                for q in tenant.quotas
                if q.model in present and q.nominal + (q.borrowing_limit or 0) > 0
            )
        )
        if not models:
            continue
        classes = sorted(tenant.priority_classes) if tenant.priority_classes else [default]
        out.append(_TenantProfile(tenant.id, tuple(models), tuple(classes)))
    return out


def _gang(rng: random.Random, shape: str, node_size: int) -> Gang:
    if shape == "single":
        return Gang(1, 1)
    if shape == "node":
        return Gang(1, node_size)
    if shape == "gang":
        return Gang(rng.choice((2, 2, 3, 4)), node_size)
    roll = rng.random()
    if roll < 0.8:  # single-node jobs of 1..8, mostly small
        return Gang(1, rng.choices((1, 2, 4, 8, 3, 6), weights=(35, 20, 20, 15, 5, 5))[0])
    return Gang(rng.choice((2, 2, 4, 8)), node_size)


def synthetic_jobs(
    pool: Pool,
    count: int,
    seed: int,
    shape: str = "mixed",
    first_seq: int = 0,
    now: int = 0,
    prefix: str = "job",
    walltimes: Sequence[int] = (600, 1800, 3600, 4 * 3600, 12 * 3600),
    tenants: Collection[str] | None = None,
    programs: Mapping[str, Program] | None = None,
    fitting: bool = False,
) -> list[Job]:
    """`count` jobs; `tenants` restricts them to those tenants (default: every usable tenant).
    With `programs`, each job draws on the programs its tenant may use in its zone's currency.
    With `fitting`, a gang more workers than the pool's nodes of its models could hold at once
    gets fewer workers (a coordinator refuses such a submission, see `oversize`); the other
    jobs are the same as without it."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
    rng = random.Random(seed)
    profiles = [p for p in _profiles(pool) if tenants is None or p.tenant in tenants]
    if not profiles:
        raise ValueError("the pool has no tenant that can use any of its accelerators")
    zones_of: dict[str, list[Jurisdiction]] = {}
    for node in pool.nodes.values():
        zones = zones_of.setdefault(node.model, [])
        if node.jurisdiction not in zones:
            zones.append(node.jurisdiction)
    node_size = 8
    jobs = []
    for i in range(count):
        profile = rng.choice(profiles)
        model = rng.choice(profile.models)
        models = {model}
        if len(profile.models) > 1 and rng.random() < 0.3:
            models.add(rng.choice(profile.models))
        zone = rng.choice(sorted(zones_of[model]))
        priority_class = rng.choice(profile.priority_classes)
        # a tenant names its most generous programs first (only one stacking group applies)
        eligible = [
            p
            for p in (programs or {}).values()
            if p.currency is zone.currency and p.tenant_eligible(pool.tenants[profile.tenant])
        ]
        eligible.sort(key=lambda p: (-max(p.rates.domestic_bp, p.rates.other_bp), p.id))
        wanted = tuple(p.id for p in eligible)
        gang = _gang(rng, shape, node_size)
        while (
            fitting
            and gang.workers > 1
            and oversize(pool, frozenset(models), gang.workers, gang.per_worker) is not None
        ):
            gang = Gang(gang.workers - 1, gang.per_worker)
        jobs.append(
            Job(
                id=f"{prefix}-{first_seq + i}",
                tenant=profile.tenant,
                gang=gang,
                models=frozenset(models),
                priority_class=priority_class,
                priority=pool.priority_classes[priority_class].value,
                walltime_s=rng.choice(walltimes),
                data_origin=zone,
                submitted_at=now,
                seq=first_seq + i,
                preemptible=rng.random() < 0.9,
                programs=wanted,
            )
        )
    return jobs
