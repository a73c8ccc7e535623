"""`gbasched program put --file FILE`: add subsidy programs to a running server, or replace them,
from `[programs.<id>]` tables written as in the programs file (Admin.PutProgram).

The file is read and checked first, as `gbasched serve` checks its programs file, against the
running pool (its configuration, nodes and tenants, read through the Admin service), so a
mistake is named by the file's key path before anything changes; then each program is put in
its own call, in the file's order. The server checks again against the ledger (a budget cut
below what the program has reserved and paid is refused); a refusal stops the command, and the
programs put before it stay put. `gbasched programs --address …` shows the result. Opening
balances (`[balances]`) are not put this way: they are the start-up programs file's.
"""

from __future__ import annotations

import argparse

from scheduler.cli.money import program_rows
from scheduler.cli.puts import add_file_command, print_puts
from scheduler.cli.remote import add_server_group, connected
from scheduler.config.programs_toml import load_program_definitions


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    actions = add_server_group(
        commands,
        "program",
        help_="add or replace subsidy programs on a running server (operators)",
        description="Subsidy programs of a running server (Admin service; needs an operator's "
        "token). `put --file FILE` adds or replaces each program of FILE's [programs.<id>] "
        "tables (the programs file's format). `gbasched programs --address …` lists them.",
    )
    add_file_command(
        actions,
        "put",
        help_="add or replace programs from a TOML file",
        description=__doc__,
        what="programs",
        handler=_put,
    )


def _put(args: argparse.Namespace) -> int:
    with connected(args) as client:
        programs = load_program_definitions(args.file, client.full_pool())
        results = [client.put_program(program) for program in programs.values()]
    rows = program_rows([program for program, _ in results])
    print_puts(
        args.json,
        "programs",
        [
            (row, created, f"program {p.id}: {'created' if created else 'replaced'}")
            for row, (p, created) in zip(rows, results, strict=True)
        ],
    )
    return 0
