"""`gbasched tenant put --file FILE`: add tenants to a running server, or replace them (quotas
included), from `[tenants.<id>]` tables written as in the pool file (Admin.PutTenant); and
`gbasched approval put --file FILE`: their cross-border data approvals, from `[[approvals]]`
(Admin.PutApproval).

The file is read and checked first, against the running pool's catalogue, owners and priority
classes (Admin.GetPool), so a mistake is named by the file's key path before anything changes;
then each tenant is put in its own call, in the file's order. The server checks again; a refusal
there stops the command, and the tenants put before it stay put. `gbasched quotas` shows the
result. Give a new tenant a token with `gbasched token new --tenant ID`, add it to the server's
tokens file and send the server SIGHUP.
"""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from scheduler.cli.admin_views import PAGE_SIZE, tenant_json
from scheduler.cli.puts import add_file_command, print_puts
from scheduler.cli.remote import add_connection, add_server_group, connected, when
from scheduler.cli.text import counted, stdout_console
from scheduler.config.pool_toml import load_approvals, load_tenants
from scheduler.domain.residency import Approval


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_server_group(
        commands,
        "tenant",
        help_="add or replace tenants and their quotas on a running server (operators)",
        description="Tenants of a running server (Admin service; needs an operator's token). "
        "`put --file FILE` adds or replaces, whole, each tenant of FILE's [tenants.<id>] tables "
        "(the pool file's format: name, weight, owner, flags, priority_classes, cohort and "
        "[tenants.<id>.quotas.<model>] with nominal, borrowing_limit, lending_limit). "
        "`gbasched quotas` lists them.",
    )
    add_file_command(
        actions,
        "put",
        help_="add or replace tenants from a TOML file",
        description=__doc__,
        what="tenants",
        handler=_put,
    )

    approval_actions = add_server_group(
        commands,
        "approval",
        help_="list, add or replace tenants' cross-border data approvals on a running server "
        "(operators)",
        description="Cross-border data approvals (GBA Standard Contract filings) of a running "
        "server (Admin service; needs an operator's token). `list` shows them. `put --file "
        "FILE` adds or replaces, whole, each approval of FILE's [[approvals]] (the pool file's "
        "format: id, tenant, from_zone, to_zone, expires_at), checked against the running "
        "pool's tenants first; each in its own call, in the file's order; a refusal stops "
        "there.",
    )
    add_file_command(
        approval_actions,
        "put",
        help_="add or replace approvals from a TOML file",
        description=None,
        what="approvals",
        handler=_put_approvals,
    )
    listing = approval_actions.add_parser("list", help="the approvals, by id")
    listing.add_argument("--tenant", default="", help="only this tenant's")
    listing.add_argument(
        "--include-expired", action="store_true", help="expired ones too (default: active only)"
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(listing)
    listing.set_defaults(handler=_list_approvals)


def _put(args: argparse.Namespace) -> int:
    with connected(args) as client:
        pool = client.pool()
        tenants = load_tenants(args.file, pool.catalogue, pool.owners, pool.priority_classes)
        results = [client.put_tenant(tenant) for tenant in tenants.values()]
    print_puts(
        args.json,
        "tenants",
        [
            (tenant_json(t), created, f"tenant {t.id}: {'created' if created else 'replaced'}")
            for t, created in results
        ],
    )
    return 0


def _put_approvals(args: argparse.Namespace) -> int:
    with connected(args) as client:
        tenants = [tenant.id for tenant in client.tenants(PAGE_SIZE)]
        approvals = load_approvals(args.file, tenants)
        results = [client.put_approval(approval) for approval in approvals]
    print_puts(
        args.json,
        "approvals",
        [
            (
                approval_json(a),
                created,
                f"approval {a.id}: {'created' if created else 'replaced'} ({a.tenant},"
                f" {a.from_zone.value} -> {a.to_zone.value}, until {when(a.expires_at)})",
            )
            for a, created in results
        ],
    )
    return 0


def _list_approvals(args: argparse.Namespace) -> int:
    with connected(args) as client:
        approvals = client.approvals(tenant=args.tenant, include_expired=args.include_expired)
    if args.json:
        print(json.dumps({"approvals": [approval_json(a) for a in approvals]}, indent=2))
        return 0
    table = Table(title=counted(len(approvals), "approval"))
    for column in ("Approval", "Tenant", "From", "To", "Expires"):
        table.add_column(column, no_wrap=column == "Approval")
    for a in approvals:
        table.add_row(a.id, a.tenant, a.from_zone.value, a.to_zone.value, when(a.expires_at))
    stdout_console().print(table)
    return 0


def approval_json(approval: Approval) -> dict[str, object]:
    return {
        "id": approval.id,
        "tenant": approval.tenant,
        "from_zone": approval.from_zone.value,
        "to_zone": approval.to_zone.value,
        "expires_at": approval.expires_at,
    }
