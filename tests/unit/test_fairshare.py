"""Fair share: decay, accrual of TFLOP-seconds, dominant share, weights."""

from __future__ import annotations

import pytest

from scheduler.engine.state import ClusterState
from scheduler.policy.fairshare import PPM, FairShare, accrue, decay
from tests.builders import ASCEND, H800, a_job, a_pool, a_tenant

HOUR = 3600


@pytest.mark.parametrize(
    ("usage", "elapsed", "half_life", "expected"),
    [
        (1_000_000, 0, HOUR, 1_000_000),
        (1_000_000, HOUR, HOUR, 500_000),
        (1_000_000, 2 * HOUR, HOUR, 250_000),
        (1_000_000, HOUR // 2, HOUR, 707_107),
        (0, 10 * HOUR, HOUR, 0),
    ],
)
def test_usage_halves_every_half_life(
    usage: int, elapsed: int, half_life: int, expected: int
) -> None:
    assert decay(usage, elapsed, half_life) == expected


def test_accrual_weights_accelerator_seconds_by_tflops() -> None:
    fast = a_job("fast").tenant("a").gang(1, H800, 8).running_on(("n1", 8))
    slow = a_job("slow").tenant("b").gang(1, ASCEND, 8).running_on(("n2", 8))
    tflops = {H800: 989, ASCEND: 320}
    usage = accrue({"c": 1000}, [fast, slow], tflops, elapsed_s=60, half_life_s=10**12)
    assert usage["a"] == 8 * 989 * 60
    assert usage["b"] == 8 * 320 * 60
    assert usage["c"] == 1000  # a huge half-life barely decays in a minute


def test_share_is_dominant_use_plus_history_over_weight() -> None:
    fair = FairShare.for_pool({H800: 100, ASCEND: 400}, {H800: 989, ASCEND: 320}, HOUR)
    # 10 of 100 H800 (10 %) dominates 20 of 400 Ascend (5 %)
    assert fair.dominant_ppm({H800: 10, ASCEND: 20}) == PPM // 10
    assert fair.share_ppm(1, {H800: 10, ASCEND: 20}, 0) == PPM // 10 * 1000
    assert fair.share_ppm(4, {H800: 10, ASCEND: 20}, 0) == PPM // 10 * 1000 // 4
    busy_history = fair.share_ppm(1, {}, fair.history_window)
    assert busy_history == PPM * 1000  # a whole decay window of the whole pool


def test_cluster_state_accrues_usage_of_running_jobs() -> None:
    pool = a_pool().nodes(2, ASCEND).tenant(a_tenant("t1")).build()
    state = ClusterState(pool)
    state.start(a_job("j").tenant("t1").gang(1, ASCEND, 8).running_on((next(iter(pool.nodes)), 8)))
    state.accrue_usage(100, HOUR)  # starting point only
    assert state.usage == {}
    state.accrue_usage(160, HOUR)
    assert state.usage == {"t1": 8 * 320 * 60}
    state.accrue_usage(160 + HOUR, 10**12)
    assert state.usage["t1"] == pytest.approx(8 * 320 * (60 + HOUR), rel=1e-6)
