"""A sample training workload: logistic regression on synthetic data, with checkpoint and resume.

Entrypoint: `scheduler.workloads.sample:train` (defaults below), or call `run` with other figures
from a function of your own. Deterministic: the data come from a fixed seed and step s draws its
mini-batch from a generator seeded by (seed, s), so a run resumed from a checkpoint takes exactly
the steps an uninterrupted run takes and ends with the same weights, bit for bit.

Every rank computes the same model (this sample has no collective communication); rank 0 alone
writes checkpoints (`ckpt-<step>.npz`, written to a temporary name then renamed, so a rank killed
mid-write leaves no torn file), the final weights (`final.npz`) and reports progress.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scheduler.workloads.context import FULL_BP, WorkerContext

STEPS = 200
CHECKPOINT_EVERY = 20
STEP_SLEEP_S = 0.01
"""Stands in for real work, so a run lasts long enough to be preempted (about 2 s by default)."""

_SEED = 7
_SAMPLES = 512
_FEATURES = 8
_BATCH = 64
_LEARNING_RATE = 0.5

Weights = npt.NDArray[np.float64]


def train(ctx: WorkerContext) -> None:
    """The default run: `STEPS` steps, a checkpoint every `CHECKPOINT_EVERY`."""
    run(ctx, steps=STEPS, checkpoint_every=CHECKPOINT_EVERY, step_sleep_s=STEP_SLEEP_S)


def run(ctx: WorkerContext, *, steps: int, checkpoint_every: int, step_sleep_s: float) -> Weights:
    """Train to `steps`, resuming from the newest checkpoint in `ctx.checkpoint_dir`; returns the
    final weights (the bias last)."""
    x, y = _data()
    step, w = _resume(ctx.checkpoint_dir)
    while step < steps:
        w = _step(w, x, y, step)
        step += 1
        if step_sleep_s > 0:
            time.sleep(step_sleep_s)
        if ctx.rank == 0 and (step % checkpoint_every == 0 or step == steps):
            _save(ctx.checkpoint_dir / f"ckpt-{step}.npz", w, step)
            ctx.checkpoint(step * FULL_BP // steps)
    if ctx.rank == 0:
        _save(ctx.checkpoint_dir / "final.npz", w, step)
        ctx.report(FULL_BP)
    return w


def final_weights(checkpoint_dir: Path) -> Weights:
    """What a finished run left behind."""
    with np.load(checkpoint_dir / "final.npz") as saved:
        return np.asarray(saved["w"], dtype=np.float64)


def _data() -> tuple[Weights, Weights]:
    rng = np.random.default_rng(_SEED)
    x = rng.normal(size=(_SAMPLES, _FEATURES))
    true_w = rng.normal(size=_FEATURES)
    y = (x @ true_w + 0.1 * rng.normal(size=_SAMPLES) > 0).astype(np.float64)
    return np.hstack([x, np.ones((_SAMPLES, 1))]), y


def _step(w: Weights, x: Weights, y: Weights, step: int) -> Weights:
    batch = np.random.default_rng((_SEED, step)).choice(_SAMPLES, size=_BATCH, replace=False)
    xb, yb = x[batch], y[batch]
    predicted = 1.0 / (1.0 + np.exp(-(xb @ w)))
    gradient = xb.T @ (predicted - yb) / _BATCH
    return w - _LEARNING_RATE * gradient


def _resume(checkpoint_dir: Path) -> tuple[int, Weights]:
    steps = [int(p.stem.removeprefix("ckpt-")) for p in checkpoint_dir.glob("ckpt-*.npz")]
    if not steps:
        return 0, np.zeros(_FEATURES + 1)
    newest = max(steps)
    with np.load(checkpoint_dir / f"ckpt-{newest}.npz") as saved:
        return int(saved["step"]), np.asarray(saved["w"], dtype=np.float64)


def _save(path: Path, w: Weights, step: int) -> None:
    partial = path.with_name(f".{path.stem}.partial.npz")
    np.savez(partial, w=w, step=np.int64(step))
    os.replace(partial, path)
