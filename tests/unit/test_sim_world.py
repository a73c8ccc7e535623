"""The replay's pool: the trace's tenants, standing approvals, and models by name."""

from __future__ import annotations

import pytest

from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.pool import Pool
from scheduler.sim.trace import Trace, TraceError, TraceJob
from scheduler.sim.world import DEFAULT_WEIGHT, replay_world
from tests.builders import ASCEND, H800, a_pool, a_tenant


def trace_of(*rows: tuple[str, tuple[str, ...]]) -> Trace:
    return Trace(
        "t.csv",
        tuple(
            TraceJob(i + 2, f"j{i}", 0, 10, 1, tenant, "", models)
            for i, (tenant, models) in enumerate(rows)
        ),
    )


def a_two_zone_pool() -> Pool:
    return (
        a_pool()
        .nodes(3, ASCEND, owner="sz")
        .nodes(1, H800, city=City.HONG_KONG, owner="hk")
        .tenant(a_tenant("u1").weight(5))
        .build()
    )


def test_trace_tenants_join_the_pool_and_a_pool_tenant_keeps_its_weight() -> None:
    world = replay_world(a_two_zone_pool(), trace_of(("u1", ()), ("u2", ())))
    assert world.pool.tenants["u1"].weight == 5
    assert world.pool.tenants["u2"].weight == DEFAULT_WEIGHT
    assert world.pool.tenants["u2"].quotas is None


def test_data_come_from_the_largest_zone_and_may_go_to_every_other() -> None:
    world = replay_world(a_two_zone_pool(), trace_of(("u2", ())))
    assert world.origin is Jurisdiction.MAINLAND
    (approval,) = world.approvals["u2"]
    granted = world.pool.approvals[approval]
    assert (granted.tenant, granted.to_zone) == ("u2", Jurisdiction.HONG_KONG)


def test_any_model_means_every_model_of_the_pool_and_aliases_name_catalogue_models() -> None:
    world = replay_world(a_two_zone_pool(), trace_of(("u1", ()), ("u1", ("H800",))))
    assert world.models == ((H800, ASCEND) if H800 < ASCEND else (ASCEND, H800), (H800,))


def test_a_model_the_pool_lacks_names_its_line_unless_mapped() -> None:
    trace = trace_of(("u1", ()), ("u1", ("V100",)))
    with pytest.raises(TraceError, match=r"t\.csv:3: column gpu_type: model 'V100'"):
        replay_world(a_two_zone_pool(), trace)
    world = replay_world(a_two_zone_pool(), trace, {"V100": ASCEND})
    assert world.models[1] == (ASCEND,)
