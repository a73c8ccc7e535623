"""`gbasched`, the command line. Each command module exposes `register(subparsers)`, whose
parsers set `handler` (args -> exit status) as a default; a new command is one more module in
COMMANDS. Domain errors are reported as `gbasched: error: <message>` with status 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from scheduler import __version__
from scheduler.cli import (
    admin_views,
    cycle,
    jobs,
    money,
    nodes,
    policies,
    pool,
    program,
    serve,
    sim,
    tenants,
    token,
    top,
    watch,
)
from scheduler.cli.errors import CommandError, UsageError
from scheduler.cli.remote import connection_defaults
from scheduler.domain.errors import DomainError

PROG = "gbasched"
COMMANDS = (
    pool,
    policies,
    money,
    cycle,
    sim,
    serve,
    token,
    jobs,
    watch,
    top,
    admin_views,
    nodes,
    tenants,
    program,
)
USAGE_STATUS = 2


class _Parser(argparse.ArgumentParser):
    """Raises instead of exiting, so that main() stays callable in-process (tests, embedding) and
    every error has the same `gbasched: error:` form."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Scheduler for the Greater Bay Area shared AI-compute pool.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(exc.usage)
        return _fail(str(exc), USAGE_STATUS)
    except SystemExit as exc:  # --help and friends print, then exit with status 0
        return exc.code if isinstance(exc.code, int) else 0
    connection_defaults(args)
    try:
        status: int = args.handler(args)
    except DomainError as exc:
        return _fail(str(exc), USAGE_STATUS)
    except CommandError as exc:
        return _fail(str(exc), exc.status)
    return status


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
