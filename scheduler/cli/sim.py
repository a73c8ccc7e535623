"""`gbasched sim`: replay a job trace on a pool under a policy, on the production coordinator
(memory store, fake executor, simulated clock), and print the figures (docs/simulator.md).
`gbasched sim compare` replays the same trace under several policies and prints them side by
side. `--plot-dir DIR` also draws PNG plots there (scheduler/sim/plots.py).

Every input is checked before anything runs: a missing file, a bad trace row, an unknown
policy or a non-positive load factor is an error naming the field (and the line), status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from scheduler.cli.errors import CommandError
from scheduler.cli.replay_progress import DEFAULT_INTERVAL_S, TERMINAL_INTERVAL_S, ReplayProgress
from scheduler.cli.text import stdout_console
from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import load_pool, parse_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.errors import InvalidField
from scheduler.domain.pool import Pool
from scheduler.ledger.config import ProgramsConfig
from scheduler.policy.fairshare import DEFAULT_HALF_LIFE_S
from scheduler.policy.registry import QUEUE_POLICIES, Policy, resolve_policy
from scheduler.sim.checks import InvariantViolated
from scheduler.sim.replay import (
    DEFAULT_CHECKPOINT_INTERVAL_S,
    DEFAULT_IDLE_CYCLE_INTERVAL_S,
    DEFAULT_RESTART_OVERHEAD_S,
    DEFAULT_SPEED_REFERENCE,
    DEFAULT_TENANT_BALANCE,
    Replay,
    ReplayResult,
    ReplaySettings,
)
from scheduler.sim.report import Curves, curves, figures
from scheduler.sim.trace import Trace, read_trace
from scheduler.sim.world import parse_model_map, replay_world

USAGE = """gbasched sim --trace FILE (--pool FILE | --pool-accelerators N)
                    --policy QUEUE[:PLACEMENT] [options] [--json] [--plot-dir DIR]
       gbasched sim compare --policies A,B,...|all --trace FILE (--pool FILE |
                    --pool-accelerators N) [options] [--json] [--plot-dir DIR]
"""
ALL = "all"
_AUTO = object()  # `--progress` not given: on when stderr is a terminal


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="replay a job trace on a pool under a policy (or several: sim compare)",
        description=__doc__,
        usage=USAGE,
    )
    # Not required here: `sim compare` is parsed by this parser first and has its own. run()
    # checks that plain `sim` got them.
    _replay_options(parser, required=False)
    parser.add_argument("--policy", help="QUEUE[:PLACEMENT] (gbasched policies)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot-dir", type=Path, metavar="DIR", help="also write PNG plots here")
    parser.set_defaults(handler=run)
    commands = parser.add_subparsers(dest="sim_command", metavar="compare", required=False)
    compare = commands.add_parser(
        "compare",
        prog="gbasched sim compare",
        help="replay the same trace under several policies and print them side by side",
        description="Replay the same trace under each policy named (`all`: every registered"
        " queue policy, with the default placement) and print the figures side by side; with"
        " --json, a JSON list of the objects `gbasched sim --json` prints, one per policy.",
    )
    compare.add_argument(
        "--policies",
        required=True,
        metavar="A,B,...|all",
        help=f"comma-separated QUEUE[:PLACEMENT] specs, or {ALL!r} ({', '.join(QUEUE_POLICIES)})",
    )
    _replay_options(compare, required=True)
    compare.add_argument("--json", action="store_true", help="print a JSON list, one per policy")
    compare.add_argument(
        "--plot-dir", type=Path, metavar="DIR", help="also write PNG plots here, a line per policy"
    )
    compare.set_defaults(handler=run_compare)


def _replay_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--trace", type=Path, required=required, metavar="FILE", help="trace CSV")
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument("--pool", type=Path, metavar="FILE", help="pool TOML")
    where.add_argument(
        "--pool-accelerators",
        type=int,
        metavar="N",
        help="a generated pool of N accelerators (as `gbasched pool generate`)",
    )
    parser.add_argument("--pool-seed", type=int, default=1, metavar="S", help="default: 1")
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
        "--progress",
        type=_progress_option,
        metavar="SECONDS|off",
        help="write how far each replay got to stderr every SECONDS of wall time (default: on,"
        f" rewriting one line, when stderr is a terminal; a bare --progress: every"
        f" {DEFAULT_INTERVAL_S:g} s)",
        nargs="?",
        const=DEFAULT_INTERVAL_S,
        default=_AUTO,
    )
    parser.add_argument(
        "--tenant-balance",
        type=int,
        default=DEFAULT_TENANT_BALANCE,
        metavar="MINOR",
        help="opening balance per currency of trace tenants the programs file gives none",
    )


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Everything a replay needs but its policy, checked."""

    pool: Pool
    settings: ReplaySettings
    trace: Trace
    programs: ProgramsConfig | None

    @property
    def half_life_s(self) -> int:
        return self.pool.fair_share_half_life_s or DEFAULT_HALF_LIFE_S


def run(args: argparse.Namespace) -> int:
    missing = [
        name
        for name, given in (
            ("--trace", args.trace is not None),
            ("--pool or --pool-accelerators", _pool_given(args)),
            ("--policy", args.policy is not None),
        )
        if not given
    ]
    if missing:
        raise CommandError(
            f"the following arguments are required: {', '.join(missing)}"
            " (or use `gbasched sim compare`)",
            status=2,
        )
    _check_plot_dir(args.plot_dir)
    inputs = _inputs(args, lambda pool: resolve_policy(args.policy, _half_life(pool), "--policy"))
    policy = resolve_policy(args.policy, inputs.half_life_s, field="--policy")
    result = _replay(
        inputs, policy, keep_series=args.plot_dir is not None, progress=_progress(args)
    )
    out = {"trace": args.trace.name, **figures(result)}
    if args.json:
        print(json.dumps(out))
    else:
        _print(stdout_console(), out)
    if args.plot_dir is not None:
        _plots([curves(result)], args, [out])
    return 0


def run_compare(args: argparse.Namespace) -> int:
    specs = policy_specs(args.policies)
    _check_plot_dir(args.plot_dir)
    inputs = _inputs(
        args, lambda pool: [resolve_policy(s, _half_life(pool), "--policies") for s in specs]
    )
    rows: list[dict[str, Any]] = []
    drawn: list[Curves] = []
    for spec in specs:
        policy = resolve_policy(spec, inputs.half_life_s, field="--policies")
        result = _replay(
            inputs, policy, keep_series=args.plot_dir is not None, progress=_progress(args)
        )
        rows.append({"trace": args.trace.name, **figures(result)})
        if args.plot_dir is not None:
            drawn.append(curves(result))
        del result  # one replay's coordinator at a time
    if args.json:
        print(json.dumps(rows))
    else:
        _print_side_by_side(stdout_console(), rows)
    if args.plot_dir is not None:
        _plots(drawn, args, rows)
    return 0


def policy_specs(text: str) -> list[str]:
    """`--policies`: comma-separated specs, or `all` (every registered queue policy, in the
    registry's order). Empty items and repeats are errors naming the field."""
    if text.strip() == ALL:
        return list(QUEUE_POLICIES)
    specs = [s.strip() for s in text.split(",")]
    if not any(specs):
        raise InvalidField("--policies", f"name at least one policy, or {ALL!r}")
    if not all(specs):
        raise InvalidField("--policies", f"empty policy name in {text!r}")
    seen: set[str] = set()
    for spec in specs:
        if spec in seen:
            raise InvalidField("--policies", f"{spec!r} is named twice")
        seen.add(spec)
    return specs


def _pool_given(args: argparse.Namespace) -> bool:
    return args.pool is not None or args.pool_accelerators is not None


def _half_life(pool: Pool) -> int:
    return pool.fair_share_half_life_s or DEFAULT_HALF_LIFE_S


def _check_plot_dir(directory: Path | None) -> None:
    """Make the plots' directory and try writing there before any replay runs: a replay can take
    minutes, and a bad `--plot-dir` would otherwise be found only when it ends."""
    if directory is None:
        return
    if directory.exists() and not directory.is_dir():
        raise InvalidField("--plot-dir", f"{directory} exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise InvalidField(
            "--plot-dir", f"cannot write in {directory}: {exc.strerror or exc}"
        ) from None


def _inputs(args: argparse.Namespace, check_policies: Callable[[Pool], object]) -> _Inputs:
    """Read and check every input. The policies are checked by `check_policies(pool)` (they
    need the pool's fair-share half-life) before the trace is read, so a bad policy is reported
    without reading a large trace first."""
    load_factor = _load_factor(args.load_factor)
    if args.limit is not None and args.limit <= 0:
        raise InvalidField("--limit", "must be a positive number of jobs")
    pool = _pool(args)
    check_policies(pool)
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
    return _Inputs(pool, settings, trace, programs)


def _replay(
    inputs: _Inputs, policy: Policy, *, keep_series: bool, progress: float | None
) -> ReplayResult:
    replay = Replay(
        inputs.trace, inputs.pool, policy, settings=inputs.settings, programs=inputs.programs
    )
    if keep_series:
        replay.tally.keep_series()
    meter = None
    if progress is not None:
        meter = ReplayProgress(
            policy.name,
            len(inputs.trace.jobs),
            replay.start,
            lambda: replay.tally.ended_jobs,
            sys.stderr,
            interval_s=progress,
            in_place=sys.stderr.isatty(),
        )
    try:
        return replay.run(on_tick=meter)
    except InvariantViolated as exc:
        raise CommandError(f"invariant violated ({policy.name}): {exc}", status=1) from None
    finally:
        if meter is not None:
            meter.done()


def _progress_option(text: str) -> float | None:
    """`--progress`'s value: wall seconds between lines, or None for `off`."""
    if text == "off":
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or 'off', got {text!r}") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative number of seconds, got {text!r}")
    return seconds


def _progress(args: argparse.Namespace) -> float | None:
    """Seconds between progress lines, or None for none (see `--progress`)."""
    if args.progress is not _AUTO:
        return cast(float | None, args.progress)
    return TERMINAL_INTERVAL_S if sys.stderr.isatty() else None


def _plots(
    drawn: Sequence[Curves], args: argparse.Namespace, rows: Sequence[dict[str, Any]]
) -> None:
    try:
        from scheduler.sim.plots import write_plots
    except ImportError as exc:  # matplotlib is a dependency; a broken install says so here
        raise CommandError(f"--plot-dir needs matplotlib: {exc}", status=1) from None
    first = rows[0]
    load = f", load factor {args.load_factor}" if args.load_factor is not None else ""
    title = (
        f"{args.trace.name}: {first['jobs']:,} jobs on {first['pool_accelerators']:,}"
        f" accelerators{load}"
    )
    try:
        written = write_plots(drawn, args.plot_dir, title)
    except OSError as exc:
        raise CommandError(f"--plot-dir: cannot write the plots: {exc}", status=1) from None
    if not args.json:
        names = ", ".join(p.name for p in written)
        stdout_console().print(f"Plots in {args.plot_dir}: {names}")


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
    text = generate_pool_toml(count, args.pool_seed, field="--pool-accelerators")
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


def _text(key: str, out: dict[str, Any]) -> str:
    value = out[key]
    if key == "ticks":
        return f"{value:,} / {out['cycles']:,}"
    if key == "utilisation":
        return f"{value:.1%}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:,}" for k, v in value.items()) or "-"
    if isinstance(value, float) and key.endswith("_per_s"):
        return f"{value:,.0f}"  # a rate: thousands of jobs a second, not thousandths
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _print(console: Console, out: dict[str, Any]) -> None:
    table = Table(title=f"Replay of {out['trace']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, label in _LABELS:
        if key in out:
            table.add_row(label, _text(key, out))
    console.print(table)


def _print_side_by_side(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """One column per policy, the figures of `_LABELS` as rows."""
    table = Table(title=f"Replays of {rows[0]['trace']}, policy by policy")
    table.add_column("figure")
    for row in rows:
        table.add_column(row["policy"].replace(":", ":\n"), justify="right")
    for key, label in _LABELS:
        if key == "policy" or not any(key in row for row in rows):
            continue
        table.add_row(label, *(_text(key, row) if key in row else "-" for row in rows))
    console.print(table)
