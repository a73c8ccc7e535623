"""Weighted fair share with decayed usage, dominant-resource style across accelerator flavors.

A tenant's share has two parts, both in parts per million (ppm) of the pool:
- current use: the dominant share over flavors, max over models of (its accelerators of that
  model ÷ the pool's accelerators of that model), as in DRF;
- history: its accelerator-seconds, each weighted by the model's fp16 TFLOPS (so an hour of a
  fast chip counts more than an hour of a slow one) and decayed with a half-life, as a fraction of
  what the whole pool delivers over one decay window (pool TFLOPS × half-life ÷ ln 2).
The sum is divided by the tenant's weight: the tenant with the smallest value goes first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.domain.jobs import RunningJob

PPM = 1_000_000
DEFAULT_HALF_LIFE_S = 24 * 3600


def decay(usage: int, elapsed_s: int, half_life_s: int) -> int:
    """`usage` after `elapsed_s` seconds of exponential decay."""
    if elapsed_s <= 0 or usage == 0:
        return usage
    return round(usage * math.pow(0.5, elapsed_s / half_life_s))


def accrue(
    usage: Mapping[str, int],
    running: Iterable[RunningJob],
    tflops_by_model: Mapping[str, int],
    elapsed_s: int,
    half_life_s: int,
) -> dict[str, int]:
    """Usage after `elapsed_s` more seconds: old usage decays, running jobs add TFLOP-seconds."""
    out = decay_all(usage, elapsed_s, half_life_s)
    for job in running:
        add = job.placement.accelerators * tflops_by_model[job.placement.model] * elapsed_s
        out[job.job.tenant] = out.get(job.job.tenant, 0) + add
    return out


def decay_all(usage: Mapping[str, int], elapsed_s: int, half_life_s: int) -> dict[str, int]:
    """`decay` of every tenant's usage (the decay factor worked out once)."""
    if elapsed_s <= 0:
        return dict(usage)
    factor = math.pow(0.5, elapsed_s / half_life_s)
    return {tenant: round(value * factor) if value else value for tenant, value in usage.items()}


def accrue_rates(
    usage: Mapping[str, int],
    rates: Mapping[str, int],
    elapsed_s: int,
    half_life_s: int,
) -> dict[str, int]:
    """`accrue` from each tenant's running TFLOPS (Σ accelerators × model TFLOPS over its
    running jobs) instead of the jobs: the same figures. Tenants new to `usage` are added in the
    order of `rates`."""
    out = decay_all(usage, elapsed_s, half_life_s)
    for tenant, rate in rates.items():
        if rate:
            out[tenant] = out.get(tenant, 0) + rate * elapsed_s
    return out


@dataclass(frozen=True, slots=True)
class FairShare:
    """Computes tenants' weighted shares for one pool."""

    capacity_by_model: Mapping[str, int]
    history_window: int  # pool TFLOP-seconds delivered over one decay window

    @classmethod
    def for_pool(
        cls,
        capacity_by_model: Mapping[str, int],
        tflops_by_model: Mapping[str, int],
        half_life_s: int = DEFAULT_HALF_LIFE_S,
    ) -> FairShare:
        pool_tflops = sum(capacity_by_model[m] * tflops_by_model[m] for m in capacity_by_model)
        window = max(1, int(pool_tflops * half_life_s / math.log(2)))
        return cls(dict(capacity_by_model), window)

    def dominant_ppm(self, allocated: Mapping[str, int]) -> int:
        best = 0
        for model, count in allocated.items():
            capacity = self.capacity_by_model.get(model, 0)
            if capacity and count:
                best = max(best, count * PPM // capacity)
        return best

    def share_ppm(self, weight: int, allocated: Mapping[str, int], usage: int) -> int:
        history = usage * PPM // self.history_window
        return (self.dominant_ppm(allocated) + history) * 1000 // weight
