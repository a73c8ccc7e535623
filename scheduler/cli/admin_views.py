"""`gbasched quotas | usage`, and `pool show` of a running server: what operators read through
the Admin service.

Each call presents an operator's API token (`--token`, or $GBASCHED_TOKEN); a tenant's token is
refused as `gbasched: error: PERMISSION_DENIED: <details>` with status 1, like every refused call
of the client commands. Tables by default, `--json` for scripts (integer minor units, currency
named, as `gbasched cycle --json` reports money).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from scheduler.api.client import PoolView
from scheduler.cli.capacity_view import render_capacity
from scheduler.cli.money import print_money, program_rows_json, report_rows_json
from scheduler.cli.remote import add_connection, connected
from scheduler.cli.text import stdout_console
from scheduler.domain.tenants import FlavorQuota, Tenant, TenantFlag

PAGE_SIZE = 1000


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    quotas = commands.add_parser(
        "quotas",
        help="tenants and their quotas on a running server (operators)",
        description="Every tenant of a running server with its fair-share weight, cohort, "
        "priority classes, flags and quota per accelerator model (Admin.ListTenants; needs an "
        "operator's token). A tenant without quotas may use any model; one with quotas only "
        "the models listed.",
    )
    quotas.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(quotas)
    quotas.set_defaults(handler=_quotas)

    usage = commands.add_parser(
        "usage",
        help="money per program, tenant and owner on a running server (operators)",
        description="The ledger's reports on a running server (Admin.GetUsageReport; needs an "
        "operator's token): per program (budget = reserved + paid + remaining), per tenant "
        "(balance, reserved, spent, subsidised) and per owner (receivable). All three unless "
        "--programs, --tenants or --owners pick some.",
    )
    usage.add_argument("--programs", action="store_true", help="the programs' report")
    usage.add_argument("--tenants", action="store_true", help="the tenants' report")
    usage.add_argument("--owners", action="store_true", help="the owners' report")
    usage.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(usage)
    usage.set_defaults(handler=_usage)


# ---------------------------------------------------------------------- quotas


def _quotas(args: argparse.Namespace) -> int:
    with connected(args) as client:
        tenants = list(client.tenants(PAGE_SIZE))
    if args.json:
        print(json.dumps({"tenants": [tenant_json(t) for t in tenants]}, indent=2))
        return 0
    table = Table(title=f"{len(tenants)} tenant{'' if len(tenants) == 1 else 's'}")
    widest = max((len(t.id) for t in tenants), default=0)  # an id never breaks; its name may
    for column in ("Tenant", "Weight", "Cohort", "Owner", "Priority classes", "Flags", "Quotas"):
        table.add_column(
            column,
            justify="right" if column == "Weight" else "left",
            min_width=widest if column == "Tenant" else None,
        )
    for t in tenants:
        table.add_row(
            f"{t.id}\n{t.name}" if t.name and t.name != t.id else t.id,
            str(t.weight),
            t.cohort or "-",
            t.owner or "-",
            ", ".join(sorted(t.priority_classes)) or "any",
            ", ".join(_flag_names(t.flags)) or "-",
            _quota_text(t.quotas),
        )
    stdout_console().print(table)
    return 0


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    """`quotas` is null for a tenant that is not quota-limited, else one entry per model."""
    return {
        "id": tenant.id,
        "name": tenant.name,
        "weight": tenant.weight,
        "owner": tenant.owner,
        "cohort": tenant.cohort,
        "priority_classes": sorted(tenant.priority_classes),
        "flags": _flag_names(tenant.flags),
        "quotas": None
        if tenant.quotas is None
        else [
            {
                "model": q.model,
                "nominal": q.nominal,
                "borrowing_limit": q.borrowing_limit,
                "lending_limit": q.lending_limit,
            }
            for q in tenant.quotas
        ],
    }


def _flag_names(flags: frozenset[TenantFlag]) -> list[str]:
    return [flag.value for flag in TenantFlag if flag in flags]


def _quota_text(quotas: tuple[FlavorQuota, ...] | None) -> str:
    if quotas is None:
        return "not limited"
    if not quotas:
        return "none (no model usable)"
    lines = []
    for q in quotas:
        line = f"{q.model}: {q.nominal}"
        limits = []
        if q.borrowing_limit is not None:
            limits.append(f"borrow <= {q.borrowing_limit}")
        if q.lending_limit is not None:
            limits.append(f"lend <= {q.lending_limit}")
        if limits:
            line += f" ({', '.join(limits)})"
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------- usage


def _usage(args: argparse.Namespace) -> int:
    picked = args.programs or args.tenants or args.owners
    wanted = {
        name: (not picked) or getattr(args, name) for name in ("programs", "tenants", "owners")
    }
    with connected(args) as client:
        report = client.usage_report(**wanted)
    money: dict[str, object] = {}
    if wanted["programs"]:
        money["programs"] = program_rows_json(report.programs)
    if wanted["tenants"]:
        money["tenants"] = report_rows_json(report.tenants)
    if wanted["owners"]:
        money["owners"] = report_rows_json(report.owners)
    if args.json:
        print(json.dumps({"as_of_posting": report.as_of_posting, **money}, indent=2))
        return 0
    console = stdout_console()
    print_money(console, money)
    console.print(f"As of ledger posting {report.as_of_posting}.")
    return 0


# ---------------------------------------------------------------------- pool show


def show_pool(args: argparse.Namespace) -> int:
    """`gbasched pool show` of a running server: its configuration, then its capacity as the
    local `pool show` renders it. `--json`: the capacity object the local command prints, with
    the configuration under `configuration`."""
    with connected(args) as client:
        pool = client.pool()
        report = client.capacity(pool.catalogue)
    if args.json:
        print(
            json.dumps(
                {**report.to_json(), "configuration": pool_json(pool)},
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    console = stdout_console()
    console.print(_pool_table(pool))
    render_capacity(report, console)
    return 0


def pool_json(pool: PoolView) -> dict[str, Any]:
    return {
        "name": pool.name,
        "policy": pool.policy,
        "fair_share_half_life_s": pool.fair_share_half_life_s,
        "default_priority_class": pool.default_priority_class,
        "priority_classes": [
            {"name": p.name, "value": p.value, "description": p.description}
            for p in pool.priority_classes
        ],
        "owners": [
            {
                "id": o.id,
                "name": o.name,
                "owner_class": o.owner_class.value,
                "currency": o.currency.value,
            }
            for o in pool.owners
        ],
        "catalogue": [
            {
                "id": m.id,
                "vendor": m.vendor,
                "domestic": m.domestic,
                "tflops_fp16": m.tflops_fp16,
                "memory_gib": m.memory_gib,
                "tflops_fp32": m.tflops_fp32,
                "tops_int8": m.tops_int8,
            }
            for m in pool.catalogue.values()
        ],
        "nodes": pool.nodes,
        "tenants": pool.tenants,
    }


def _pool_table(pool: PoolView) -> Table:
    table = Table(title=f"Pool {pool.name}", show_header=False, title_justify="left")
    table.add_column("Field", style="bold")
    table.add_column("Value")
    table.add_row("Nodes", f"{pool.nodes:,}")
    table.add_row("Tenants", f"{pool.tenants:,}")
    table.add_row("Policy", pool.policy or "-")
    table.add_row("Fair-share half-life", f"{pool.fair_share_half_life_s:,} s")
    table.add_row(
        "Priority classes",
        ", ".join(f"{p.name} ({p.value})" for p in pool.priority_classes) or "-",
    )
    table.add_row("Default class", pool.default_priority_class or "- (a job must name one)")
    table.add_row(
        "Owners",
        "\n".join(
            f"{o.id}: {o.name} ({o.owner_class.value}, {o.currency.value})" for o in pool.owners
        )
        or "-",
    )
    table.add_row("Accelerator models", ", ".join(pool.catalogue) or "-")
    return table
