"""Synthetic job streams, built as a `Trace` so that `scheduler.sim.replay` replays them through
the same path as a CSV trace (the scale run, `benchmarks/scale.py`).

The stream (`synthetic_trace`), the same for the same `Stream`:
- **a burst at 0**: jobs drawn until their gangs' accelerators (`gang_for`) reach `fill`, then
  `pending` jobs more: the burst fills the pool and leaves about `pending` waiting;
- **then** `per_step` jobs at every `step_s` (at step_s, 2·step_s, … steps·step_s).
- **Sizes**: GPUs per job drawn from HELIOS_GPU_MIX, the Helios trace's histogram (traces'
  README: 1: 5939, 2: 544, 3-4: 661, 5-8: 2412, 9-16: 579, 17-32: 358, 33-64: 191, 65-128: 82,
  ≥129: 30), each bucket as its upper bound (≥129 as 160, the trace's largest): a mean of about
  7.15 accelerators per job.
- **Durations**: log-normal with median `median_duration_s` and σ `sigma`, clamped to
  [`min_duration_s`, `max_duration_s`] and rounded up to whole steps, so that every arrival and
  every end falls on a step and a replay ticks once per step (Helios' own durations, median
  277 s, are too short to keep a pool full).
- **Tenants**: `tenants` of them (`syn-00`, …), the k-th drawn with weight 1 ÷ (k + 1), so a few
  tenants hold most of the work, as in the traces.
- Every job accepts any model (empty `gpu_type`); ids are `syn-<n>`; `line` is n + 2, the line
  it would have in a CSV file.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from itertools import accumulate

from scheduler.domain.errors import InvalidField
from scheduler.sim.trace import Trace, TraceJob
from scheduler.sim.world import gang_for

HELIOS_GPU_MIX: tuple[tuple[int, int], ...] = (
    (1, 5939),
    (2, 544),
    (4, 661),
    (8, 2412),
    (16, 579),
    (32, 358),
    (64, 191),
    (128, 82),
    (160, 30),
)


@dataclass(frozen=True, slots=True)
class Stream:
    """A synthetic stream (see the module's rules)."""

    fill: int  # accelerators the burst at 0 asks for before `pending`
    pending: int  # jobs beyond the fill in the burst at 0
    per_step: int  # jobs arriving at every step after 0
    steps: int
    step_s: int = 60
    median_duration_s: int = 7200
    sigma: float = 1.0
    min_duration_s: int = 600
    max_duration_s: int = 172_800
    tenants: int = 50
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("fill", "pending", "per_step", "steps"):
            if getattr(self, name) < 0:
                raise InvalidField(name, "must not be negative")
        for name in ("step_s", "median_duration_s", "min_duration_s", "tenants"):
            if getattr(self, name) <= 0:
                raise InvalidField(name, "must be positive")
        if self.max_duration_s < self.min_duration_s:
            raise InvalidField("max_duration_s", "must be at least min_duration_s")
        if self.sigma < 0:
            raise InvalidField("sigma", "must not be negative")


def synthetic_trace(stream: Stream) -> Trace:
    rng = random.Random(stream.seed)
    sizes = [gpus for gpus, _ in HELIOS_GPU_MIX]
    size_cum = list(accumulate(count for _, count in HELIOS_GPU_MIX))
    names = [f"syn-{k:02d}" for k in range(stream.tenants)]
    tenant_cum = list(accumulate(1 / (k + 1) for k in range(stream.tenants)))
    mu = math.log(stream.median_duration_s)
    step = stream.step_s
    jobs: list[TraceJob] = []

    def draw(at: int) -> int:
        gpus = rng.choices(sizes, cum_weights=size_cum)[0]
        tenant = rng.choices(names, cum_weights=tenant_cum)[0]
        seconds = rng.lognormvariate(mu, stream.sigma)
        seconds = min(max(seconds, stream.min_duration_s), stream.max_duration_s)
        duration = -(-math.ceil(seconds) // step) * step
        n = len(jobs)
        jobs.append(TraceJob(n + 2, f"syn-{n}", at, duration, gpus, tenant, "", ()))
        return gang_for(gpus).total

    asked = 0
    while asked < stream.fill:
        asked += draw(0)
    for _ in range(stream.pending):
        draw(0)
    for k in range(1, stream.steps + 1):
        for _ in range(stream.per_step):
            draw(k * step)
    if not jobs:
        raise InvalidField("stream", "has no jobs: give it a fill, pending or arrivals")
    return Trace(f"<synthetic seed {stream.seed}>", tuple(jobs))
