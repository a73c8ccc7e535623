"""`gbasched sim`: replay a job trace on a pool under a policy, on the production coordinator
(memory store, fake executor, simulated clock), and print the figures (docs/simulator.md).

Every input is checked before anything runs: a missing file, a bad trace row, an unknown
policy or a non-positive load factor is an error naming the field (and the line), status 2.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from scheduler.cli.errors import CommandError
from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import load_pool, parse_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.errors import InvalidField
from scheduler.domain.pool import Pool
from scheduler.policy.fairshare import DEFAULT_HALF_LIFE_S
from scheduler.policy.registry import resolve_policy
from scheduler.sim.checks import InvariantViolated
from scheduler.sim.replay import (
    DEFAULT_CHECKPOINT_INTERVAL_S,
    DEFAULT_IDLE_CYCLE_INTERVAL_S,
    DEFAULT_RESTART_OVERHEAD_S,
    DEFAULT_SPEED_REFERENCE,
    DEFAULT_TENANT_BALANCE,
    Replay,
    ReplaySettings,
)
from scheduler.sim.report import figures
from scheduler.sim.trace import read_trace
from scheduler.sim.world import parse_model_map, replay_world


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="replay a job trace on a pool under a policy and print the figures",
        description=__doc__,
    )
    parser.add_argument("--trace", type=Path, required=True, metavar="FILE", help="trace CSV")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--pool", type=Path, metavar="FILE", help="pool TOML")
    where.add_argument(
        "--pool-accelerators",
        type=int,
        metavar="N",
        help="a generated pool of N accelerators (as `gbasched pool generate`)",
    )
    parser.add_argument("--pool-seed", type=int, default=1, metavar="S", help="default: 1")
    parser.add_argument("--policy", required=True, help="QUEUE[:PLACEMENT] (gbasched policies)")
    parser.add_argument("--programs", type=Path, metavar="FILE", help="subsidy programs TOML")
    parser.add_argument(
        "--load-factor",
        metavar="F",
        help="rescale arrivals so the trace offers F × the pool's accelerators (default: as"
        " recorded)",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="replay the first N jobs only")
    parser.add_argument(
        "--checkpoint-interval-s",
        type=int,
        default=DEFAULT_CHECKPOINT_INTERVAL_S,
        metavar="S",
        help=f"a preempted job keeps the work of its last checkpoint (default"
        f" {DEFAULT_CHECKPOINT_INTERVAL_S}; 0: none)",
    )
    parser.add_argument(
        "--restart-overhead-s",
        type=int,
        default=DEFAULT_RESTART_OVERHEAD_S,
        metavar="S",
        help=f"added to every restarted attempt (default {DEFAULT_RESTART_OVERHEAD_S})",
    )
    parser.add_argument(
        "--walltime-s",
        type=int,
        metavar="S",
        help="every job's walltime (default: its longest possible attempt, never killing it)",
    )
    parser.add_argument(
        "--speed",
        action="store_true",
        help="scale each job's work by the fp16 TFLOPS of the model it got",
    )
    parser.add_argument(
        "--speed-reference",
        default=DEFAULT_SPEED_REFERENCE,
        metavar="MODEL",
        help=f"the model trace durations were measured on (default {DEFAULT_SPEED_REFERENCE})",
    )
    parser.add_argument(
        "--model-map",
        action="append",
        metavar="TRACE=MODEL",
        help="map a trace gpu_type onto a catalogue model (repeatable)",
    )
    parser.add_argument(
        "--idle-cycle-s",
        type=int,
        default=DEFAULT_IDLE_CYCLE_INTERVAL_S,
        metavar="S",
        help=f"a cycle at least this often while jobs wait (default"
        f" {DEFAULT_IDLE_CYCLE_INTERVAL_S})",
    )
    parser.add_argument(
        "--tenant-balance",
        type=int,
        default=DEFAULT_TENANT_BALANCE,
        metavar="MINOR",
        help="opening balance per currency of trace tenants the programs file gives none",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot-dir", type=Path, metavar="DIR", help="not yet available")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.plot_dir is not None:
        raise InvalidField("--plot-dir", "plots are not available yet")
    load_factor = _load_factor(args.load_factor)
    if args.limit is not None and args.limit <= 0:
        raise InvalidField("--limit", "must be a positive number of jobs")
    pool = _pool(args)
    half_life = pool.fair_share_half_life_s or DEFAULT_HALF_LIFE_S
    policy = resolve_policy(args.policy, half_life, field="--policy")
    settings = ReplaySettings(
        load_factor=load_factor,
        checkpoint_interval_s=_at_least(args.checkpoint_interval_s, 0, "--checkpoint-interval-s"),
        restart_overhead_s=_at_least(args.restart_overhead_s, 0, "--restart-overhead-s"),
        walltime_s=None
        if args.walltime_s is None
        else _at_least(args.walltime_s, 1, "--walltime-s"),
        speed=args.speed,
        speed_reference=args.speed_reference,
        idle_cycle_interval_s=_at_least(args.idle_cycle_s, 1, "--idle-cycle-s"),
        tenant_balance_minor=_at_least(args.tenant_balance, 0, "--tenant-balance"),
        model_map=parse_model_map(args.model_map, pool),
    )
    if settings.speed:
        pool.catalogue.require(settings.speed_reference, "--speed-reference")
    trace = read_trace(args.trace, args.limit)
    programs = None
    if args.programs is not None:
        # Read against the replay's pool, so that a programs file may name trace tenants.
        world = replay_world(pool, trace, settings.model_map)
        programs = load_programs(args.programs, world.pool)
    replay = Replay(trace, pool, policy, settings=settings, programs=programs)
    try:
        result = replay.run()
    except InvariantViolated as exc:
        raise CommandError(f"invariant violated: {exc}", status=1) from None
    out = {"trace": args.trace.name, **figures(result)}
    if args.json:
        print(json.dumps(out))
    else:
        _print(Console(), out)
    return 0


def _load_factor(text: str | None) -> Fraction | None:
    if text is None:
        return None
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InvalidField("--load-factor", f"expected a number, got {text!r}") from None
    if value <= 0:
        raise InvalidField("--load-factor", f"must be positive, got {text}")
    return value


def _at_least(value: int, least: int, field: str) -> int:
    if value < least:
        raise InvalidField(field, f"must be at least {least}, got {value}")
    return value


def _pool(args: argparse.Namespace) -> Pool:
    if args.pool is not None:
        return load_pool(args.pool)
    count = args.pool_accelerators
    text = generate_pool_toml(count, args.pool_seed)
    return parse_pool(tomllib.loads(text), f"generated pool of {count} accelerators")


_LABELS = (
    ("policy", "policy"),
    ("jobs", "jobs"),
    ("completed", "completed"),
    ("rejected", "rejected (never fit)"),
    ("failed", "failed (walltime)"),
    ("stranded", "stranded (still waiting)"),
    ("mean_jct_s", "mean JCT (s)"),
    ("p50_jct_s", "p50 JCT (s)"),
    ("p99_jct_s", "p99 JCT (s)"),
    ("mean_queue_s", "mean queueing (s)"),
    ("p99_queue_s", "p99 queueing (s)"),
    ("utilisation", "utilisation"),
    ("jain_fairness", "Jain's fairness"),
    ("makespan_s", "makespan (s)"),
    ("preemptions", "preemptions"),
    ("subsidy_paid_minor", "subsidy paid (minor units)"),
    ("overspend_minor", "overspend (minor units)"),
    ("ledger_balanced", "ledger balanced"),
    ("pool_accelerators", "pool accelerators (up)"),
    ("arrival_scale", "arrival-time scale"),
    ("ticks", "ticks / cycles"),
    ("sim_wall_s", "wall time (s)"),
    ("sim_jobs_per_s", "jobs per second"),
)


def _print(console: Console, out: dict[str, Any]) -> None:
    table = Table(title=f"Replay of {out['trace']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, label in _LABELS:
        if key not in out:
            continue
        value = out[key]
        if key == "ticks":
            text = f"{value} / {out['cycles']}"
        elif key == "utilisation":
            text = f"{value:.1%}"
        elif isinstance(value, dict):
            text = ", ".join(f"{k} {v:,}" for k, v in value.items()) or "-"
        elif isinstance(value, float):
            text = f"{value:,.3f}"
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:,}"
        else:
            text = str(value)
        table.add_row(label, text)
    console.print(table)
