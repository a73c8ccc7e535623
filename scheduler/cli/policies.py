"""`gbasched policies`: the registered policies, one line each."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from scheduler.cli.text import stdout_console
from scheduler.policy.registry import DEFAULT_PLACEMENT, DEFAULT_QUEUE, describe_policies


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("policies", help="list the registered scheduling policies")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    rows = describe_policies()
    if args.json:
        print(json.dumps([{"kind": k, "name": n, "summary": s} for k, n, s in rows]))
        return 0
    table = Table(
        title="Policies (combine as QUEUE:PLACEMENT, e.g. backfill:cheapest)",
        caption="docs/policies.md describes each one and the work it follows",
    )
    table.add_column("kind")
    table.add_column("name")
    table.add_column("summary")
    for kind, name, summary in rows:
        default = name in (DEFAULT_QUEUE, DEFAULT_PLACEMENT)
        table.add_row(kind, name + (" (default)" if default else ""), summary)
    stdout_console().print(table)
    return 0
