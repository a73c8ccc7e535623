"""What the operators' file commands share (`node register`, `tenant put`, `program put`,
`approval put`): their flags, and how they say what each call did."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scheduler.cli.remote import add_connection

Put = tuple[dict[str, Any], bool, str]
"""One thing put: its JSON row, whether it is new, and the line that says so."""


def add_file_command(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help_: str,
    description: str | None,
    what: str,
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """`<name> --file FILE [--json]` and the connection flags, run by `handler`."""
    command = actions.add_parser(name, help=help_, description=description)
    command.add_argument("--file", type=Path, required=True, metavar="FILE", help=f"{what} TOML")
    command.add_argument("--json", action="store_true", help="print one JSON object")
    add_connection(command)
    command.set_defaults(handler=handler)


def print_puts(as_json: bool, key: str, puts: Sequence[Put]) -> None:
    """`{key: [row + created, ...]}` with `--json`, else a line each."""
    if as_json:
        print(json.dumps({key: [{**row, "created": new} for row, new, _ in puts]}, indent=2))
    else:
        for _, _, line in puts:
            print(line)
