"""What the client commands (`submit`, `jobs`, `job`, `cancel`, `watch`) share: the server's
address (`--address`, else $GBASCHED_ADDRESS), the CA to trust for TLS and the API token, a
client whose errors become `gbasched: error: <STATUS>: <details>` with status 1, and how jobs
and events look as JSON and as table cells."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.api.client import (
    DEFAULT_ADDRESS,
    ApiError,
    EventView,
    JobView,
    SchedulerClient,
)
from scheduler.api.convert import wire_int
from scheduler.cli.errors import CommandError
from scheduler.cli.tls import read_certificate
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import Placement
from scheduler.domain.money import Money

TOKEN_ENV = "GBASCHED_TOKEN"
ADDRESS_ENV = "GBASCHED_ADDRESS"
API_ERROR_STATUS = 1
NO_TOKEN_STATUS = 2


def wire_int_type(bits: int) -> Callable[[str], int]:
    """An argparse `type` for a flag that goes into a signed `bits`-bit field of a request: a
    number the wire cannot carry is refused as the flag's error, before anything is sent."""

    def parse(text: str) -> int:
        value = int(text)
        try:
            return wire_int(value, bits, "")
        except InvalidField as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    parse.__name__ = "int"  # argparse's words for a non-number: "invalid int value: 'x'"
    return parse


CONNECTION = ("address", "tls_ca", "token")
"""What `add_connection` adds (None when not given: `connection_defaults`)."""


def add_connection(parser: argparse.ArgumentParser) -> None:
    """`--address`, `--tls-ca`, `--token`. Added to a command group (`node`) as well as to its
    actions, they may stand before the action too (`gbasched node --address A list`); they
    default to nothing here, so that an action's defaults do not undo what the group read,
    and `connection_defaults` sets what was not given to None once the line is parsed."""
    parser.add_argument(
        "--address",
        default=argparse.SUPPRESS,
        metavar="HOST:PORT",
        help=f"the server (loopback only without --tls-ca; default: ${ADDRESS_ENV}, else "
        f"{DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--tls-ca",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="PEM certificate(s) to trust: talk TLS to the server (any address)",
    )
    parser.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help=f"API bearer token (default: the environment variable {TOKEN_ENV})",
    )


def add_server_group(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help_: str,
    description: str,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command of actions on a running server (`node`, `tenant`, ...): its actions, to each of
    which `add_connection` is added; the connection flags may also stand before the action
    (`gbasched node --address A list`)."""
    group = commands.add_parser(name, help=help_, description=description)
    add_connection(group)
    return group.add_subparsers(dest="action", required=True, metavar="ACTION")


def connection_defaults(args: argparse.Namespace) -> None:
    """None for each connection flag the command line did not give (see `add_connection`)."""
    for name in CONNECTION:
        if not hasattr(args, name):
            setattr(args, name, None)


def add_remote_switch(parser: argparse.ArgumentParser, *local: str) -> None:
    """For a command that reads local files by default: `--address`, `--tls-ca` and `--token`
    (as `add_connection` has them) switch it to a running server (`wants_server`); `local` are
    its file options, which cannot be combined with them."""
    server = parser.add_argument_group(
        "reading a running server instead (operators)",
        f"Any of these reads from a server instead of files (default address {DEFAULT_ADDRESS};"
        f" the token from --token or ${TOKEN_ENV}); {', '.join(local) or 'no file option'}"
        " cannot be combined with them.",
    )
    server.add_argument(
        "--address",
        default=None,
        metavar="HOST:PORT",
        help=f"the server (loopback only without --tls-ca; default: ${ADDRESS_ENV}, else "
        f"{DEFAULT_ADDRESS})",
    )
    server.add_argument(
        "--tls-ca",
        type=Path,
        default=None,
        metavar="FILE",
        help="PEM certificate(s) to trust: talk TLS to the server (any address)",
    )
    server.add_argument(
        "--token",
        default=None,
        help=f"API bearer token (default: the environment variable {TOKEN_ENV})",
    )
    parser.set_defaults(local_options=local)


def wants_server(args: argparse.Namespace) -> bool:
    """True when `--address`, `--tls-ca` or `--token` was given (see `add_remote_switch`; the
    environment variables alone do not switch). InvalidField when a file option was given
    too."""
    if args.address is None and args.tls_ca is None and args.token is None:
        return False
    for option in getattr(args, "local_options", ()):
        if getattr(args, option.removeprefix("--").replace("-", "_"), None) is not None:
            raise InvalidField(
                option, "reads a local file; it cannot be combined with --address/--tls-ca/--token"
            )
    return True


def address_of(args: argparse.Namespace) -> tuple[str, str]:
    """(`--address`, else $GBASCHED_ADDRESS, else the default address; where it came from, as
    an error about it names it)."""
    if args.address:
        return args.address, "--address"
    from_env = os.environ.get(ADDRESS_ENV)
    if from_env:
        return from_env, f"${ADDRESS_ENV}"
    return DEFAULT_ADDRESS, "--address"


def token_of(args: argparse.Namespace) -> str:
    """`--token`, else $GBASCHED_TOKEN; a CommandError naming both when neither is set."""
    token: str | None = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        raise CommandError(
            f"no API token: pass --token TOKEN or set the environment variable {TOKEN_ENV} "
            f"(e.g. `export {TOKEN_ENV}=demo-hku-ml` for the demo server)",
            NO_TOKEN_STATUS,
        )
    return token


@contextlib.contextmanager
def connected(args: argparse.Namespace) -> Iterator[SchedulerClient]:
    """A client for the command's `--address`, `--tls-ca` and token; an ApiError raised inside
    becomes a CommandError `<STATUS>: <details>` with status 1."""
    token = token_of(args)
    address, source = address_of(args)
    root = read_certificate(args.tls_ca, "--tls-ca") if args.tls_ca is not None else None
    try:
        client = SchedulerClient(address, token, tls_root_cert=root)
    except InvalidField as exc:  # the client names its parameter; say what the user set
        raise InvalidField(source if exc.field == "address" else exc.field, exc.message) from None
    try:
        with client:
            yield client
    except ApiError as exc:
        hint = ""
        if exc.code == "UNAVAILABLE":
            hint = (
                f" (is `gbasched serve` running at {address}? --address or ${ADDRESS_ENV} "
                "names another)"
            )
        raise CommandError(f"{exc.code}: {exc.details}{hint}", API_ERROR_STATUS) from None


def placement_json(placement: Placement | None) -> dict[str, Any] | None:
    if placement is None:
        return None
    return {
        "model": placement.model,
        "zone": placement.zone.value,
        "workers": [{"node": node, "accelerators": n} for node, n in placement.workers],
        "approval": placement.approval,
    }


def job_json(job: JobView) -> dict[str, Any]:
    return {
        "id": job.id,
        "tenant": job.tenant,
        "state": job.state.value,
        "attempt": job.attempt,
        "failures": job.failures,
        "workers": job.workers,
        "per_worker": job.per_worker,
        "priority_class": job.priority_class,
        "accepted_models": list(job.accepted_models),
        "placement": placement_json(job.placement),
        "reason_code": job.reason_code,
        "reason": job.reason,
        "client_key": job.client_key,
        "submitted_at": job.submitted_at,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "updated_at": job.updated_at,
        "programs": list(job.programs),
        "cost": [money_json(m) for m in job.cost],
        "subsidy": [money_json(m) for m in job.subsidy],
        "copay": [money_json(m) for m in job.copay],
        "subsidy_by_program": [
            {"program": program, **money_json(amount)} for program, amount in job.subsidy_by_program
        ],
        "reserved": [money_json(m) for m in job.reserved],
        "progress_bp": job.progress_bp,
        "progress_at": job.progress_at,
        "checkpoint_bp": job.checkpoint_bp,
    }


def money_json(money: Money) -> dict[str, Any]:
    """`{"currency": "CNY", "minor": 1234}`: integer minor units, never a float."""
    return {"currency": money.currency.value, "minor": money.minor}


def amounts(moneys: Iterable[Money]) -> str:
    """E.g. `12.34 CNY, 5.00 HKD`; `-` when there are none."""
    return ", ".join(str(m) for m in moneys) or "-"


def event_json(event: EventView) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "kind": event.kind,
        "job_id": event.job_id,
        "tenant": event.tenant,
        "data": dict(event.data),
    }


def when(epoch_s: int | None) -> str:
    """Epoch seconds as `2026-03-01 08:00:00Z`; empty for None."""
    if epoch_s is None:
        return ""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
