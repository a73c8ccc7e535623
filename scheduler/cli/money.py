"""Money on the command line: program / tenant / owner reports from a ledger, the evidence
export, and `gbasched programs`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table

from scheduler.cli.files import write_atomically
from scheduler.cli.paths import default_pool_path
from scheduler.cli.remote import add_remote_switch, connected, wants_server
from scheduler.cli.text import stdout_console
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.geography import Currency
from scheduler.domain.money import Money
from scheduler.ledger.book import Ledger
from scheduler.ledger.programs import Program
from scheduler.ledger.reports import (
    OwnerReport,
    ProgramReport,
    TenantReport,
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
        "programs": program_rows_json(program_report(ledger, programs)),
        "tenants": [_plain(asdict(r)) for r in tenant_report(ledger)],
        "owners": [_plain(asdict(r)) for r in owner_report(ledger)],
    }


def program_rows_json(reports: Iterable[ProgramReport]) -> list[dict[str, object]]:
    return [{**_plain(asdict(r)), "domestic_share_bp": r.domestic_bp} for r in reports]


def report_rows_json(reports: Iterable[TenantReport | OwnerReport]) -> list[dict[str, object]]:
    return [_plain(asdict(r)) for r in reports]


def _plain(row: dict[str, object]) -> dict[str, object]:
    return {k: (v.value if isinstance(v, Currency) else v) for k, v in row.items()}


def _money(amount: object, currency: object) -> str:
    assert isinstance(amount, int) and isinstance(currency, str)
    return str(Money(Currency(currency), amount))


def print_money(console: Console, money: dict[str, object]) -> None:
    """The reports' tables: programs, tenants and owners, each only if `money` holds it."""
    if "programs" in money:
        _print_programs(console, money["programs"])
    if "tenants" in money:
        _print_tenants(console, money["tenants"])
    if "owners" in money:
        _print_owners(console, money["owners"])


def _print_programs(console: Console, programs: object) -> None:
    assert isinstance(programs, list)
    table = Table(title="Programs (budget = reserved + paid + remaining)")
    for column in ("program", "budget", "reserved", "paid", "remaining", "tenants", "domestic"):
        first = column == "program"  # ids stay whole, on one line
        table.add_column(column, justify="left" if first else "right", no_wrap=first)
    for row in programs:
        currency = row["currency"]
        table.add_row(
            row["program"],
            *(_money(row[k], currency) for k in ("budget", "reserved", "paid", "remaining")),
            str(len(row["tenants_served"])),
            f"{row['domestic_share_bp'] / 100:.1f}%" if row["paid"] else "-",
        )
    console.print(table)


def _print_tenants(console: Console, tenants: object) -> None:
    assert isinstance(tenants, list)
    table = Table(title="Tenants")
    for column in ("tenant", "balance", "reserved", "spent", "subsidised", "attempts"):
        first = column == "tenant"  # ids stay whole, on one line
        table.add_column(column, justify="left" if first else "right", no_wrap=first)
    for row in tenants:
        currency = row["currency"]
        table.add_row(
            row["tenant"],
            *(_money(row[k], currency) for k in ("balance", "reserved", "spent", "subsidised")),
            str(row["attempts_settled"]),
        )
    console.print(table)


def _print_owners(console: Console, owners: object) -> None:
    assert isinstance(owners, list)
    table = Table(title="Owners (compensation for capacity used)")
    for column in ("owner", "receivable", "accelerator-hours", "attempts"):
        first = column == "owner"  # ids stay whole, on one line
        table.add_column(column, justify="left" if first else "right", no_wrap=first)
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

    def write(file: TextIO) -> None:
        if path.suffix == ".csv":
            write_evidence_csv(rows, file)
        else:
            write_evidence_jsonl(rows, file)

    write_atomically(path, write, newline="")
    return len(rows)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "programs",
        help="list the subsidy programs of a programs file, or of a running server",
        description="List the subsidy programs. By default they are read from a programs file "
        "(--programs, default: the sample) checked against a pool file (--config). With "
        "--address, --tls-ca or --token they are read from a running server instead "
        "(Admin.ListPrograms; an operator's token, from --token or $GBASCHED_TOKEN). The table "
        "and the --json rows are the same either way.",
    )
    parser.add_argument("--config", type=Path, default=None, help="pool TOML (default: sample)")
    parser.add_argument(
        "--programs", type=Path, default=None, help="programs TOML (default: the sample)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_remote_switch(parser, "--config", "--programs")
    parser.set_defaults(handler=run_programs)


def run_programs(args: argparse.Namespace) -> int:
    if wants_server(args):
        with connected(args) as client:
            programs = client.programs()
    else:
        pool = load_pool(args.config or default_pool_path())
        programs = list(
            load_programs(args.programs or default_programs_path(), pool).programs.values()
        )
    show_programs(programs, args.json)
    return 0


def program_rows(programs: Iterable[Program]) -> list[dict[str, object]]:
    """The programs as plain JSON-able rows (integer minor units and basis points)."""
    return [
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
        for p in programs
    ]


def show_programs(programs: list[Program], as_json: bool) -> None:
    if as_json:
        print(json.dumps(program_rows(programs)))
        return
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
        # The id must not break (the name under it may): as wide as the longest id.
        widest = max((len(p.id) for p in programs), default=0)
        table.add_column(column, min_width=widest if column == "program" else None)
    for p in programs:
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
    stdout_console().print(table)


def _rate(domestic_bp: int, other_bp: int) -> str:
    if domestic_bp == other_bp:
        return f"{domestic_bp / 100:g}%"
    return f"{domestic_bp / 100:g}% domestic / {other_bp / 100:g}% other"
