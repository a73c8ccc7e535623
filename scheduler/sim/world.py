"""The pool a trace is replayed on, and what each trace row asks of it.

- Gangs: a job of g GPUs on nodes of NODE_SIZE (8) is 1 worker × g when g ≤ 8, else ⌈g / 8⌉
  workers × 8 (a 12-GPU job asks 16 accelerators: traces do not say how their GPUs were split,
  and whole nodes are how large jobs are run).
- Tenants: every trace tenant becomes a pool tenant. A tenant the pool file already defines
  keeps its definition (weight, quotas, cohort, flags, owner): that is how a replay sets
  weights and quotas. Any other gets DEFAULT_WEIGHT and no quotas (not quota-limited).
- Data residency: traces carry none. Jobs' data come from the pool's largest zone (by
  accelerators that are up) and every trace tenant holds standing approvals from it to every
  other zone of the pool (`sim-<tenant>-<zone>`, expiring APPROVALS_UNTIL), so the whole pool
  is usable; a gang still runs in one zone, on one model.
- Models: an empty `gpu_type` accepts every model that has nodes in the pool. A named model is
  looked up in order: the `model_map` given (trace name → catalogue id), the catalogue id itself
  (case-insensitive), then MODEL_ALIASES (A100 → nvidia-a800, …, the export variants in the
  sample catalogue). A name none of these resolve is an error naming the trace line.
- Priority: the pool's default priority class, else its lowest one; every job preemptible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Gang
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import Tenant
from scheduler.sim.trace import Trace, TraceError

NODE_SIZE = 8
DEFAULT_WEIGHT = 1
APPROVALS_UNTIL = 4_102_444_800  # 2100-01-01T00:00:00Z
MODEL_ALIASES: Mapping[str, str] = {
    "a100": "nvidia-a800",
    "a800": "nvidia-a800",
    "h100": "nvidia-h800",
    "h800": "nvidia-h800",
    "h20": "nvidia-h20",
    "910b": "huawei-ascend-910b",
    "910c": "huawei-ascend-910c",
}


def gang_for(gpus: int) -> Gang:
    """The gang a trace job of `gpus` GPUs asks for (see the module's rules)."""
    if gpus <= NODE_SIZE:
        return Gang(1, gpus)
    return Gang(-(-gpus // NODE_SIZE), NODE_SIZE)


@dataclass(frozen=True, slots=True)
class ReplayWorld:
    """The pool with the trace's tenants and approvals; per trace job (by position) the models
    it accepts; the zone its data come from; the approvals each tenant names."""

    pool: Pool
    origin: Jurisdiction
    approvals: Mapping[str, tuple[str, ...]]
    models: tuple[tuple[str, ...], ...]
    priority_class: str

    @property
    def accelerators(self) -> int:
        """Accelerators on nodes that are up: the capacity utilisation is measured against."""
        return sum(n.accelerators for n in self.pool.nodes.values() if n.state is NodeState.UP)


def replay_world(
    base: Pool, trace: Trace, model_map: Mapping[str, str] | None = None
) -> ReplayWorld:
    up = [n for n in base.nodes.values() if n.state is NodeState.UP]
    if not up:
        raise InvalidField("pool", "has no node that is up")
    by_zone: dict[Jurisdiction, int] = {}
    for node in up:
        by_zone[node.jurisdiction] = by_zone.get(node.jurisdiction, 0) + node.accelerators
    zones = list(Jurisdiction)
    origin = max(by_zone, key=lambda z: (by_zone[z], -zones.index(z)))
    others = [z for z in zones if z in by_zone and z is not origin]

    tenants = dict(base.tenants)
    approvals = dict(base.approvals)
    named: dict[str, tuple[str, ...]] = {}
    for tenant_id in trace.tenants:
        if tenant_id not in tenants:
            tenants[tenant_id] = Tenant(tenant_id, f"trace tenant {tenant_id}", DEFAULT_WEIGHT)
        ids = []
        for zone in others:
            approval = Approval(f"sim-{tenant_id}-{zone}", tenant_id, origin, zone, APPROVALS_UNTIL)
            approvals[approval.id] = approval
            ids.append(approval.id)
        named[tenant_id] = tuple(ids)
    pool = replace(base, tenants=tenants, approvals=approvals)

    present = tuple(sorted({n.model for n in base.nodes.values()}))
    lookup = _model_lookup(base, model_map or {})
    resolved: dict[tuple[str, ...], tuple[str, ...]] = {(): present}
    models = []
    for job in trace.jobs:
        accepted = resolved.get(job.models)
        if accepted is None:
            out = []
            for name in job.models:
                model = lookup.get(name) or lookup.get(name.lower())
                if model is None:
                    raise TraceError(
                        trace.source,
                        f"model {name!r} is not in the pool's catalogue"
                        f" ({', '.join(sorted(base.catalogue))}); map it with"
                        f" --model-map {name}=MODEL",
                        job.line,
                        "gpu_type",
                    )
                out.append(model)
            accepted = resolved[job.models] = tuple(sorted(set(out)))
        models.append(accepted)
    return ReplayWorld(pool, origin, named, tuple(models), _priority_class(base))


def parse_model_map(
    pairs: list[str] | None, pool: Pool, field: str = "--model-map"
) -> dict[str, str]:
    """`TRACE=MODEL` pairs → a map; MODEL must be in the pool's catalogue."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        name, sep, model = pair.partition("=")
        if not sep or not name.strip() or not model.strip():
            raise InvalidField(field, f"expected TRACE_NAME=MODEL, got {pair!r}")
        pool.catalogue.require(model.strip(), field)
        out[name.strip()] = model.strip()
    return out


def _model_lookup(base: Pool, model_map: Mapping[str, str]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for alias, model in MODEL_ALIASES.items():
        if model in base.catalogue:
            lookup[alias] = model
    for model in base.catalogue:
        lookup[model] = model
        lookup[model.lower()] = model
    for name, model in model_map.items():
        base.catalogue.require(model, f"model_map.{name}")
        lookup[name] = model
        lookup[name.lower()] = model
    return lookup


def _priority_class(pool: Pool) -> str:
    if pool.default_priority_class:
        return pool.default_priority_class
    if not pool.priority_classes:
        raise InvalidField("pool.priority_classes", "the pool defines no priority class")
    return min(pool.priority_classes.values(), key=lambda c: (c.value, c.name)).name
