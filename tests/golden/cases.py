"""The golden replays: the first ROWS rows of each shared trace, on the 80-accelerator pool in
`pool.toml` beside this file (small, so the slices queue), at load factor 0.9, under two
policies, and one run with `programs.toml`, for the ledger's figures.
Each case's figures, without the timing ones, are recorded in `<name>.json` beside this file.

Regenerate them all (after a change that is meant to move the figures) with

    python -m tests.golden.regenerate

and say in the commit why they moved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.policy.registry import resolve_policy
from scheduler.sim.replay import Replay, ReplaySettings
from scheduler.sim.report import TIMING_FIELDS, figures
from scheduler.sim.trace import read_trace
from scheduler.sim.world import replay_world

REPO = Path(__file__).resolve().parents[2]
TRACES = REPO / ".." / "shared" / "traces"
HERE = Path(__file__).resolve().parent
POOL = HERE / "pool.toml"
PROGRAMS = HERE / "programs.toml"
ROWS = 300
LOAD_FACTOR = Fraction(9, 10)


@dataclass(frozen=True)
class Case:
    trace: str
    policy: str
    programs: bool = False

    @property
    def name(self) -> str:
        money = "-programs" if self.programs else ""
        return f"{self.trace.removesuffix('.csv')}-{self.policy}{money}"

    @property
    def path(self) -> Path:
        return HERE / f"{self.name}.json"

    def run(self) -> dict[str, Any]:
        """The case's figures, without the timing ones."""
        trace = read_trace(TRACES / self.trace, ROWS)
        pool = load_pool(POOL)
        policy = resolve_policy(self.policy)
        programs = None
        if self.programs:
            programs = load_programs(PROGRAMS, replay_world(pool, trace).pool)
        settings = ReplaySettings(load_factor=LOAD_FACTOR)
        result = Replay(trace, pool, policy, programs=programs, settings=settings).run()
        return {k: v for k, v in figures(result).items() if k not in TIMING_FIELDS}

    def recorded(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.path.read_text())
        return loaded


TRACE_FILES = ("helios_dirlab_gpu.csv", "alibaba_openb2023_gpu.csv", "acme_kalos_completed.csv")
POLICIES = ("fifo", "priority-fairshare")
CASES = (
    *(Case(trace, policy) for trace in TRACE_FILES for policy in POLICIES),
    Case("helios_dirlab_gpu.csv", "priority-fairshare", programs=True),
)
