"""`gbasched tenant put --file FILE`: add tenants to a running server, or replace them (quotas
included), from `[tenants.<id>]` tables written as in the pool file (Admin.PutTenant).

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
from pathlib import Path

from scheduler.cli.admin_views import tenant_json
from scheduler.cli.remote import add_connection, connected
from scheduler.config.pool_toml import load_tenants


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser(
        "tenant",
        help="add or replace tenants and their quotas on a running server (operators)",
        description="Tenants of a running server (Admin service; needs an operator's token). "
        "`put --file FILE` adds or replaces, whole, each tenant of FILE's [tenants.<id>] tables "
        "(the pool file's format: name, weight, owner, flags, priority_classes, cohort and "
        "[tenants.<id>.quotas.<model>] with nominal, borrowing_limit, lending_limit). "
        "`gbasched quotas` lists them.",
    )
    actions = tenant.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = actions.add_parser(
        "put", help="add or replace tenants from a TOML file", description=__doc__
    )
    put.add_argument("--file", type=Path, required=True, metavar="FILE", help="tenants TOML")
    put.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(put)
    put.set_defaults(handler=_put)


def _put(args: argparse.Namespace) -> int:
    with connected(args) as client:
        pool = client.pool()
        tenants = load_tenants(args.file, pool.catalogue, pool.owners, pool.priority_classes)
        results = [client.put_tenant(tenant) for tenant in tenants.values()]
    if args.json:
        rows = [{**tenant_json(t), "created": created} for t, created in results]
        print(json.dumps({"tenants": rows}, indent=2))
    else:
        for t, created in results:
            print(f"tenant {t.id}: {'created' if created else 'replaced'}")
    return 0
