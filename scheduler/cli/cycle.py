"""`gbasched cycle`: run the scheduling engine over a synthetic workload on a pool and show what
it decides: admissions, preemptions, pending and infeasible reasons, utilisation; with
`--programs`, also the money: each admission's reservation, settlement of actual usage, and the
program / tenant / owner reports and the usage-evidence export.

This drives the pure engine and the ledger with a simulated clock (scheduler.sim.driver); it is
the product's runnable demo until the durable coordinator (`gbasched serve`) lands.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scheduler.cli.money import money_reports, print_money, write_evidence
from scheduler.cli.paths import default_pool_path
from scheduler.cli.text import stdout_console
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.errors import InvalidField
from scheduler.policy.fairshare import DEFAULT_HALF_LIFE_S
from scheduler.policy.registry import DEFAULT_PLACEMENT, DEFAULT_QUEUE, resolve_policy
from scheduler.sim.driver import Driver
from scheduler.sim.workload import SHAPES, synthetic_jobs

DEFAULT_POLICY = f"{DEFAULT_QUEUE}:{DEFAULT_PLACEMENT}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cycle", help="run scheduling cycles over a synthetic workload on a pool"
    )
    parser.add_argument("--config", type=Path, default=None, help="pool TOML (default: sample)")
    parser.add_argument(
        "--policy", default=None, help="QUEUE:PLACEMENT (default: the pool's, else the registry's)"
    )
    parser.add_argument("--jobs", type=int, default=300, help="jobs to submit (default 300)")
    parser.add_argument("--cycles", type=int, default=5, help="cycles to run (default 5)")
    parser.add_argument("--step", type=int, default=1800, help="simulated seconds per cycle")
    parser.add_argument("--shape", choices=SHAPES, default="mixed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--programs", type=Path, default=None, help="programs TOML: admit with funds, settle usage"
    )
    parser.add_argument(
        "--evidence", type=Path, default=None, help="write the usage evidence (.csv or .jsonl)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per cycle")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 0:
        raise InvalidField("--jobs", "must not be negative")
    if args.cycles <= 0:
        raise InvalidField("--cycles", "must be positive")
    if args.step <= 0:
        raise InvalidField("--step", "must be positive")
    pool = load_pool(args.config or default_pool_path())
    half_life = pool.fair_share_half_life_s or DEFAULT_HALF_LIFE_S
    if args.policy is not None:
        policy = resolve_policy(args.policy, half_life, field="--policy")
    else:
        policy = resolve_policy(pool.policy or DEFAULT_POLICY, half_life, field="pool.policy")
    if args.evidence is not None and args.programs is None:
        raise InvalidField("--evidence", "needs --programs (evidence is what the ledger settled)")
    if args.evidence is not None and args.evidence.suffix not in (".csv", ".jsonl"):
        raise InvalidField("--evidence", "must end in .csv or .jsonl")
    if args.evidence is not None and not args.evidence.absolute().parent.is_dir():
        # found before the cycles run, not when their evidence is written
        raise InvalidField("--evidence", f"no directory {args.evidence.absolute().parent}")
    programs = load_programs(args.programs, pool) if args.programs is not None else None
    # with programs, the clock starts when the earliest program opens
    start = min((p.valid_from for p in programs.programs.values()), default=0) if programs else 0
    driver = Driver(pool, policy, programs, start=start)
    driver.submit(
        synthetic_jobs(
            pool,
            args.jobs,
            args.seed,
            args.shape,
            now=start,
            programs=programs.programs if programs else None,
        )
    )
    capacity = sum(n.accelerators for n in pool.nodes.values())
    console = stdout_console()
    rows = []
    now = start
    rejected: dict[str, str] = {}
    waiting: dict[str, str] = {}
    preempted: list[str] = []
    for number in range(1, args.cycles + 1):
        result = driver.step(now)
        state = driver.state
        rejected.update({job_id: str(reason) for job_id, reason in result.rejected.items()})
        waiting = {job_id: str(reason) for job_id, reason in result.pending.items()}
        preempted = [f"{p.job_id}: {p.cause}: {p.message}" for p in result.preemptions]
        allocated = sum(r.placement.accelerators for r in state.running.values())
        row = {
            "cycle": number,
            "now_s": now - start,
            "admitted": len(result.admissions),
            "gangs_admitted": result.gangs_admitted,
            "preempted": len(result.preemptions),
            "rejected": len(result.rejected),
            "pending": len(result.pending),
            "running": len(state.running),
            "utilisation": round(allocated / capacity, 4) if capacity else 0.0,
            "pending_reasons": dict(Counter(r.code.value for r in result.pending.values())),
        }
        rows.append(row)
        if args.json:
            print(json.dumps(row))
        now += args.step
    if programs is not None:
        if driver.ledger.check():
            raise AssertionError(f"ledger out of balance: {driver.ledger.check()}")
        money = money_reports(driver.ledger, programs.programs.values())
        if args.json:
            print(json.dumps({"money": money}))
        if args.evidence is not None:
            count = write_evidence(driver.ledger, args.evidence)
            print(f"wrote {count} evidence rows to {args.evidence}", file=sys.stderr)
    if not args.json:
        _print(console, pool.name, policy.name, rows, rejected)
        if programs is not None:
            print_money(console, money)
        _examples(console, "Still pending after the last cycle", waiting)
        if preempted:
            console.print("[bold]Preemptions in the last cycle:[/bold]")
            for line in preempted[:5]:
                console.print(f"  {line}")
    return 0


def _print(
    console: Console,
    pool: str,
    policy: str,
    rows: list[dict[str, object]],
    rejected: dict[str, str],
) -> None:
    table = Table(title=f"{pool} · policy {policy}")
    columns = {
        "cycle": "#",
        "now_s": "t (s)",
        "admitted": "admitted",
        "gangs_admitted": "gangs",
        "preempted": "preempted",
        "rejected": "rejected",
        "pending": "pending",
        "running": "running",
        "utilisation": "util",
    }
    for title in columns.values():
        table.add_column(title, justify="right")
    table.add_column("why pending")
    for row in rows:
        reasons = row["pending_reasons"]
        assert isinstance(reasons, dict)
        why = ", ".join(f"{code} {n}" for code, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        cells = [f"{row[key]:.0%}" if key == "utilisation" else str(row[key]) for key in columns]
        table.add_row(*cells, why)
    console.print(table)
    _examples(console, "Rejected (infeasible)", rejected)


def _examples(console: Console, title: str, reasons: dict[str, str]) -> None:
    """One example job per reason code, so every kind of reason is visible."""
    if not reasons:
        return
    console.print(f"[bold]{title} — {len(reasons)} jobs; one example per reason:[/bold]")
    seen: set[str] = set()
    for job_id, reason in reasons.items():
        code = reason.split(":", 1)[0]
        if code not in seen:
            seen.add(code)
            console.print(f"  {job_id}: {reason}")
