"""`gbasched token new (--tenant T | --operator) [--name N]`: a fresh API token.

The token is printed once, on stderr, and kept nowhere; the entry, on stdout, holds only its
SHA-256, for the tokens file `gbasched serve --tokens` reads: `gbasched token new --tenant T
>> tokens.toml` appends it, and the token shows on the terminal, not in the file. Losing the
token means making a new one (and deleting the old entry revokes the old one).
"""

from __future__ import annotations

import argparse
import secrets
import sys

from scheduler.api.auth import token_hash
from scheduler.config.reader import Where, ident
from scheduler.config.tokens_toml import OPERATOR_ROLE
from scheduler.domain.errors import InvalidField

TOKEN_BYTES = 32


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("token", help="API tokens")
    commands = parser.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    new = commands.add_parser("new", help="make a token and print its tokens-file entry")
    who = new.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant", help="the tenant the token acts for")
    who.add_argument("--operator", action="store_true", help="an operator's token")
    new.add_argument(
        "--name", default=None, help="the entry's name (default: the tenant's id, or operator)"
    )
    new.set_defaults(handler=run_new)


def run_new(args: argparse.Namespace) -> int:
    tenant: str | None = args.tenant
    if tenant is not None:
        _checked("--tenant", tenant)
    name = _checked("--name", args.name or tenant or OPERATOR_ROLE)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    who = f'tenant = "{tenant}"' if tenant is not None else f'role = "{OPERATOR_ROLE}"'
    # The secret on stderr, the entry on stdout: `>> tokens.toml` must not write the token.
    print(f"token: {token}", file=sys.stderr)
    print("(shown once and stored nowhere: hand it to its holder now)", file=sys.stderr)
    print("# the tokens-file entry (gbasched serve --tokens FILE) of this token:")
    print(f"[tokens.{name}]")
    print(f'sha256 = "{token_hash(token)}"')
    print(who)
    return 0


def _checked(flag: str, value: str) -> str:
    try:
        return ident(value, Where("", flag))
    except InvalidField as exc:
        raise InvalidField(flag, exc.message) from None
