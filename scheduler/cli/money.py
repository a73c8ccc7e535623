"""Money on the command line: program / tenant / owner reports from a ledger, the evidence
export, and `gbasched programs`."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from scheduler.cli.paths import default_pool_path
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.geography import Currency
from scheduler.domain.money import Money
from scheduler.ledger.book import Ledger
from scheduler.ledger.programs import Program
from scheduler.ledger.reports import (
    evidence_rows,
    owner_report,
    program_report,
    tenant_report,
    write_evidence_csv,
    write_evidence_jsonl,
)

SAMPLE_PROGRAMS = Path("deploy/programs/gba-sample.toml")


def default_programs_path() -> Path:
    if SAMPLE_PROGRAMS.exists():
        return SAMPLE_PROGRAMS
    return Path(__file__).resolve().parents[2] / SAMPLE_PROGRAMS


def money_reports(ledger: Ledger, programs: Iterable[Program]) -> dict[str, object]:
    """The three reports as plain JSON-able data (integers of minor units, currency named)."""
    return {
        "programs": [
            {**_plain(asdict(r)), "domestic_share_bp": r.domestic_bp}
            for r in program_report(ledger, programs)
        ],
        "tenants": [_plain(asdict(r)) for r in tenant_report(ledger)],
        "owners": [_plain(asdict(r)) for r in owner_report(ledger)],
    }


def _plain(row: dict[str, object]) -> dict[str, object]:
    return {k: (v.value if isinstance(v, Currency) else v) for k, v in row.items()}


def _money(amount: object, currency: object) -> str:
    assert isinstance(amount, int) and isinstance(currency, str)
    return str(Money(Currency(currency), amount))


def print_money(console: Console, money: dict[str, object]) -> None:
    programs = money["programs"]
    assert isinstance(programs, list)
    table = Table(title="Programs (budget = reserved + paid + remaining)")
    for column in ("program", "budget", "reserved", "paid", "remaining", "tenants", "domestic"):
        table.add_column(column, justify="left" if column == "program" else "right")
    for row in programs:
        currency = row["currency"]
        table.add_row(
            row["program"],
            *(_money(row[k], currency) for k in ("budget", "reserved", "paid", "remaining")),
            str(len(row["tenants_served"])),
            f"{row['domestic_share_bp'] / 100:.1f}%" if row["paid"] else "-",
        )
    console.print(table)
    tenants = money["tenants"]
    assert isinstance(tenants, list)
    table = Table(title="Tenants")
    for column in ("tenant", "balance", "reserved", "spent", "subsidised", "attempts"):
        table.add_column(column, justify="left" if column == "tenant" else "right")
    for row in tenants:
        currency = row["currency"]
        table.add_row(
            row["tenant"],
            *(_money(row[k], currency) for k in ("balance", "reserved", "spent", "subsidised")),
            str(row["attempts_settled"]),
        )
    console.print(table)
    owners = money["owners"]
    assert isinstance(owners, list)
    table = Table(title="Owners (compensation for capacity used)")
    for column in ("owner", "receivable", "accelerator-hours", "attempts"):
        table.add_column(column, justify="left" if column == "owner" else "right")
    for row in owners:
        seconds = row["accelerator_seconds"]
        assert isinstance(seconds, int)
        table.add_row(
            row["owner"],
            _money(row["receivable"], row["currency"]),
            f"{seconds / 3600:.1f}",
            str(row["attempts_settled"]),
        )
    console.print(table)


def write_evidence(ledger: Ledger, path: Path) -> int:
    """Write the evidence as CSV or JSON lines (by the file's suffix); the file appears whole
    or not at all."""
    rows = evidence_rows(ledger)
    directory = path.parent if str(path.parent) else Path(".")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            if path.suffix == ".csv":
                write_evidence_csv(rows, file)
            else:
                write_evidence_jsonl(rows, file)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return len(rows)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("programs", help="list the subsidy programs of a programs file")
    parser.add_argument("--config", type=Path, default=None, help="pool TOML (default: sample)")
    parser.add_argument(
        "--programs", type=Path, default=None, help="programs TOML (default: the sample)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_programs)


def run_programs(args: argparse.Namespace) -> int:
    pool = load_pool(args.config or default_pool_path())
    config = load_programs(args.programs or default_programs_path(), pool)
    rows = []
    for p in config.programs.values():
        rows.append(
            {
                "id": p.id,
                "name": p.name,
                "sponsor": p.sponsor,
                "currency": p.currency.value,
                "budget": p.budget,
                "valid_from": p.valid_from,
                "valid_until": p.valid_until,
                "rate_domestic_bp": p.rates.domestic_bp,
                "rate_other_bp": p.rates.other_bp,
                "startup_rate_domestic_bp": p.rates.startup_domestic_bp,
                "startup_rate_other_bp": p.rates.startup_other_bp,
                "eligible_tenants": sorted(p.eligible_tenants),
                "eligible_flags": sorted(f.value for f in p.eligible_flags),
                "eligible_owners": sorted(p.eligible_owners),
                "eligible_nodes": sorted(p.eligible_nodes),
                "tenant_cap": p.tenant_cap,
                "cap_period_s": p.cap_period_s,
                "stacking_group": p.stacking_group,
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    table = Table(title="Subsidy programs")
    for column in (
        "program",
        "currency",
        "budget",
        "rate",
        "start-ups",
        "cap / tenant",
        "eligible",
        "stacks with",
    ):
        table.add_column(column)
    for p in config.programs.values():
        rate = _rate(p.rates.domestic_bp, p.rates.other_bp)
        startup = _rate(
            p.rates.startup_domestic_bp or p.rates.domestic_bp,
            p.rates.startup_other_bp or p.rates.other_bp,
        )
        eligible = ", ".join(
            part
            for part in (
                " ".join(sorted(p.eligible_tenants)),
                " ".join(sorted(f.value for f in p.eligible_flags)),
                "at " + " ".join(sorted(p.eligible_owners | p.eligible_nodes))
                if p.eligible_owners or p.eligible_nodes
                else "",
            )
            if part
        )
        table.add_row(
            f"{p.id}\n{p.name}",
            p.currency.value,
            str(Money(p.currency, p.budget)),
            rate,
            startup if startup != rate else "",
            str(Money(p.currency, p.tenant_cap)) if p.tenant_cap is not None else "",
            eligible or "anyone",
            p.stacking_group or "",
        )
    Console().print(table)
    return 0


def _rate(domestic_bp: int, other_bp: int) -> str:
    if domestic_bp == other_bp:
        return f"{domestic_bp / 100:g}%"
    return f"{domestic_bp / 100:g}% domestic / {other_bp / 100:g}% other"
