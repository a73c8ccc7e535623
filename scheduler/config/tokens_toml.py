"""API tokens in TOML → `{sha256 hex digest: Principal}`.

The file holds only the SHA-256 of each token, never the token itself (`gbasched token new`
makes a token and prints its entry):

    [tokens.hku-ml-ci]
    sha256 = "<64 lowercase hex digits>"
    tenant = "hku-ml"          # a tenant of the pool; or instead:
    # role = "operator"

Reading is strict like the pool loader's: unknown keys, a malformed hash, an unknown tenant,
both or neither of `tenant` and `role`, and a hash listed twice are errors naming the file and
the key path. A token's entry name becomes the principal's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from scheduler.config.reader import Table, Where, known, load_toml
from scheduler.domain.pool import Pool
from scheduler.domain.principals import Principal

OPERATOR_ROLE = "operator"
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def load_tokens(path: str | Path, pool: Pool) -> dict[str, Principal]:
    return parse_tokens(load_toml(path), str(path), pool)


def parse_tokens(data: Mapping[str, object], source: str, pool: Pool) -> dict[str, Principal]:
    root = Table(data, Where(source), ("tokens",))
    principals: dict[str, Principal] = {}
    names: dict[str, str] = {}  # digest -> the entry that listed it first
    for name, value, where in root.entries("tokens"):
        t = Table(value, where, ("sha256",), ("tenant", "role"))
        digest = _digest(t)
        if digest in names:
            raise t.where.key("sha256").error(f"the same hash as tokens.{names[digest]}")
        names[digest] = name
        principals[digest] = _principal(name, t, pool)
    if not principals:
        raise root.where.key("tokens").error("must list at least one token")
    return principals


def _digest(t: Table) -> str:
    value = t.text("sha256")
    if not _HEX64.match(value):
        # Not echoed: a plain token pasted here by mistake must not end up in a log.
        raise t.where.key("sha256").error(
            f"must be 64 lowercase hex digits (the token's SHA-256); the value given has "
            f"{len(value)} characters and is not shown: keep only a token's hash here"
        )
    return value


def _principal(name: str, t: Table, pool: Pool) -> Principal:
    if t.has("tenant") and t.has("role"):
        raise t.where.key("role").error("give either tenant or role, not both")
    if t.has("role"):
        role = t.text("role")
        if role != OPERATOR_ROLE:
            raise t.where.key("role").error(f"unknown role {role!r}; the only role is operator")
        return Principal(name, None, operator=True)
    if not t.has("tenant"):
        raise t.where.key("tenant").error(
            'missing required key: give tenant = "<tenant id>" or role = "operator"'
        )
    tenant = t.text("tenant")
    if tenant not in pool.tenants:
        raise t.where.key("tenant").error(
            f"unknown tenant {tenant!r}; known: {known(pool.tenants)}"
        )
    return Principal(name, tenant, operator=False)
