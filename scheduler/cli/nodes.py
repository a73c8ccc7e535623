"""`gbasched node list | register | cordon | drain | up | down | remove`: an operator's hands on
a running server's nodes, through the Admin service (ListNodes, RegisterNode, SetNodeState,
RemoveNode).

Each call presents an operator's API token (`--token`, or $GBASCHED_TOKEN); a tenant's token is
refused as `gbasched: error: PERMISSION_DENIED: <details>` with status 1, like every refused call
of the client commands. Every change is audited on the server (`node.state`, `node.remove`) under
the token's name.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from scheduler.cli.puts import add_file_command, print_puts
from scheduler.cli.remote import add_connection, add_server_group, connected, money_json
from scheduler.cli.text import counted, stdout_console
from scheduler.config.pool_toml import load_nodes
from scheduler.domain.geography import City, parse_enum
from scheduler.domain.nodes import Node, NodeState

PAGE_SIZE = 1000

# Each state command: the state it puts the node in, and what that means for its work.
STATE_COMMANDS: dict[str, tuple[NodeState, str]] = {
    "cordon": (NodeState.CORDONED, "the node keeps its work and takes no new work"),
    "drain": (
        NodeState.DRAINING,
        "the node keeps its work until it ends, takes no new work, and goes down by itself once"
        " it holds none",
    ),
    "up": (NodeState.UP, "the node takes new work again"),
    "down": (
        NodeState.DOWN,
        "the node is gone: the attempts on it are stopped and their jobs queued again (not"
        " counted as failures)",
    ),
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_server_group(
        commands,
        "node",
        help_="list, register, cordon, drain, bring up, take down or remove nodes of a running "
        "server (operators)",
        description="The nodes of a running server (Admin service; needs an operator's token). "
        "`list` shows them; `register` adds or redescribes them from a file; `cordon`, `drain`, "
        "`up` and `down` change a node's state and print it before and after; `remove` takes a "
        "node that holds no work out of the pool for good.",
    )

    listing = actions.add_parser("list", help="the pool's nodes, filtered")
    listing.add_argument("--owner", default="", help="only this owner's nodes")
    listing.add_argument("--city", default=None, help="only nodes in this city (e.g. shenzhen)")
    listing.add_argument("--model", default="", help="only nodes of this accelerator model")
    listing.add_argument(
        "--state",
        dest="states",
        action="append",
        default=[],
        choices=[s.value for s in NodeState],
        help="only nodes in this state (repeat for several)",
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(listing)
    listing.set_defaults(handler=_list)

    for name, (state, meaning) in STATE_COMMANDS.items():
        change = actions.add_parser(
            name, help=f"put a node in state {state.value}", description=f"{meaning}."
        )
        change.add_argument("node_id", metavar="NODE")
        change.add_argument("--json", action="store_true", help="print one JSON object")
        add_connection(change)
        change.set_defaults(handler=_set_state, state=state)

    add_file_command(
        actions,
        "register",
        help_="add nodes, or replace their descriptions, from a TOML file",
        description="Add each node of FILE to the pool, or replace the description of the node "
        "of its id: [[node_groups]] (id_prefix, count) and [[nodes]] (id) written as in the pool "
        "file (owner, city, model, accelerators_per_node, price_per_accel_hour, state, labels), "
        "checked against the running pool's catalogue and owners first. An entry without "
        "`state` brings a new node up and leaves a known node's state as it is. Each node is "
        "registered in its own call, in the file's order; a refusal stops there.",
        what="nodes",
        handler=_register,
    )

    remove = actions.add_parser(
        "remove",
        help="take a node out of the pool for good",
        description="Take a node out of the pool for good. It must hold no work: drain it (or "
        "take it down) first; the server refuses otherwise (FAILED_PRECONDITION), and refuses "
        "to remove the pool's last node.",
    )
    remove.add_argument("node_id", metavar="NODE")
    remove.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(remove)
    remove.set_defaults(handler=_remove)


def _list(args: argparse.Namespace) -> int:
    city = parse_enum(City, args.city, "--city") if args.city is not None else None
    states = [NodeState(s) for s in args.states]
    with connected(args) as client:
        nodes = list(
            client.nodes(
                owner=args.owner, city=city, model=args.model, states=states, page_size=PAGE_SIZE
            )
        )
    if args.json:
        print(json.dumps({"nodes": [node_json(n) for n in nodes]}, indent=2))
        return 0
    table = Table(title=counted(len(nodes), "node"))
    # the id and the state are what an operator reads first and types next: never cut or
    # folded; the other columns fold in a narrow terminal
    table.add_column("Node", no_wrap=True, min_width=max((len(n.id) for n in nodes), default=4))
    table.add_column("State", no_wrap=True, min_width=max(len(s.value) for s in NodeState))
    for column in ("Accelerators", "City", "Owner"):  # prices: in --json
        table.add_column(column)
    for n in nodes:
        table.add_row(n.id, n.state.value, f"{n.accelerators} x {n.model}", n.city.value, n.owner)
    stdout_console().print(table)
    return 0


def _set_state(args: argparse.Namespace) -> int:
    with connected(args) as client:
        node, before = client.set_node_state(args.node_id, args.state)
    if args.json:
        print(json.dumps({"node": node_json(node), "previous_state": before.value}, indent=2))
    else:
        print(f"node {node.id}: {before.value} -> {node.state.value}")
    return 0


def _register(args: argparse.Namespace) -> int:
    with connected(args) as client:
        pool = client.pool()
        nodes = load_nodes(args.file, pool.catalogue, pool.owners)
        results = [
            client.register_node(node, state=node.state if stated else None)
            for node, stated in nodes
        ]
    print_puts(
        args.json,
        "nodes",
        [
            (
                node_json(n),
                created,
                f"node {n.id}: {'registered' if created else 'replaced'} ({n.state.value})",
            )
            for n, created in results
        ],
    )
    return 0


def _remove(args: argparse.Namespace) -> int:
    with connected(args) as client:
        node = client.remove_node(args.node_id)
    if args.json:
        print(json.dumps({"removed": node_json(node)}, indent=2))
    else:
        print(f"node {node.id} removed ({node.accelerators} x {node.model}, {node.owner})")
    return 0


def node_json(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "state": node.state.value,
        "owner": node.owner,
        "owner_class": node.owner_class.value,
        "city": node.city.value,
        "jurisdiction": node.jurisdiction.value,
        "model": node.model,
        "accelerators": node.accelerators,
        "price_per_accelerator_hour": money_json(node.price),
        "labels": dict(node.labels),
    }
