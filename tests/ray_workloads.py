"""Entrypoints the Ray tests run (`tests.ray_workloads:<function>`): the workers import this
module, which they can because Ray puts the driver's working directory on their path."""

from __future__ import annotations

import time

from scheduler.workloads import sample
from scheduler.workloads.context import WorkerContext

STEADY_S = 2.0


def steady(ctx: WorkerContext) -> None:
    """Runs STEADY_S seconds, reporting 25, 50 and 75 %: what the contract suite runs."""
    for percent in (25, 50, 75):
        time.sleep(STEADY_S / 4)
        ctx.report(percent * 100)
    time.sleep(STEADY_S / 4)


def short_training(ctx: WorkerContext) -> None:
    """The sample model: 100 steps, a checkpoint every 10, about 2 s."""
    sample.run(ctx, steps=100, checkpoint_every=10, step_sleep_s=0.02)


def long_training(ctx: WorkerContext) -> None:
    """The sample model, long enough to be interrupted (about 100 s)."""
    sample.run(ctx, steps=5000, checkpoint_every=10, step_sleep_s=0.02)


def fail_on_rank_1(ctx: WorkerContext) -> None:
    if ctx.rank == 1:
        raise RuntimeError("the loss went NaN on rank 1")
    time.sleep(30)


def medium_training(ctx: WorkerContext) -> None:
    """The sample model: 200 steps, a checkpoint every 10, about 4 s: long enough to be
    interrupted once it has checkpointed, short enough to be run to its end in a test."""
    sample.run(ctx, steps=200, checkpoint_every=10, step_sleep_s=0.02)
