"""Voucher programs and prepaid balances in TOML → a validated `ProgramsConfig`.

The file shape is documented at the top of `deploy/programs/gba-sample.toml`. A programs file
is read against a loaded `Pool`, because what a program names (tenants, owners, nodes) must
exist there. Like the pool loader, reading is strict (unknown keys, wrong types and missing keys
are errors; money and rates are integers only) and all-or-nothing: either a consistent
`ProgramsConfig` or a `ConfigError` naming the file and the key path. Range rules the domain
objects enforce (`Program`, `Rates`) are left to them and re-raised at the key that set the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scheduler.config.reader import Table, Where, choice, domain_errors, known, load_toml
from scheduler.domain.geography import Currency
from scheduler.domain.pool import Pool
from scheduler.domain.tenants import TenantFlag
from scheduler.ledger.config import ProgramsConfig
from scheduler.ledger.programs import YEAR_S, Program, Rates

_REQUIRED = ("name", "sponsor", "currency", "budget", "valid_from", "valid_until")
_RATE_KEYS = (
    "rate_bp",
    "rate_domestic_bp",
    "rate_other_bp",
    "startup_rate_bp",
    "startup_rate_domestic_bp",
    "startup_rate_other_bp",
)
_OPTIONAL = (
    *_RATE_KEYS,
    "eligible_tenants",
    "eligible_flags",
    "eligible_owners",
    "eligible_nodes",
    "tenant_cap",
    "cap_period_s",
    "stacking_group",
)
_MINOR = "minor units"
_BP = "basis points"


def load_programs(path: str | Path, pool: Pool) -> ProgramsConfig:
    return parse_programs(load_toml(path), str(path), pool)


def parse_programs(data: Mapping[str, object], source: str, pool: Pool) -> ProgramsConfig:
    root = Table(data, Where(source), ("programs",), ("balances",))
    programs = _programs(root, pool)
    balances = _balances(root, pool)
    # ProgramsConfig names a field by its key path in this file, so the path maps to itself.
    with domain_errors(source, lambda field: field):
        return ProgramsConfig(programs=programs, balances=balances)


def load_program_definitions(path: str | Path, pool: Pool) -> dict[str, Program]:
    """The `[programs.<id>]` tables of a TOML file (no `[balances]`: opening balances are the
    start-up file's), checked as `load_programs` checks them against `pool` (a running server's,
    for `gbasched program put`). Errors name the file and the key path."""
    root = Table(load_toml(path), Where(str(path)), ("programs",))
    programs = _programs(root, pool)
    if not programs:
        raise root.where.key("programs").error("must hold at least one program")
    return programs


def _programs(root: Table, pool: Pool) -> dict[str, Program]:
    """The `[programs.<id>]` tables of `root`, each checked against `pool`."""
    return {
        program_id: _program(program_id, Table(value, where, _REQUIRED, _OPTIONAL), pool)
        for program_id, value, where in root.entries("programs")
    }


def _program(program_id: str, t: Table, pool: Pool) -> Program:
    rate_key = _rate_keys(t)
    currency = t.choice(Currency, "currency")
    tenants = _references(t, "eligible_tenants", "tenant", pool.tenants)
    owners = _references(t, "eligible_owners", "owner", pool.owners)
    nodes = _references(t, "eligible_nodes", "node", pool.nodes, list_known=False)
    flags = frozenset(choice(TenantFlag, flag, at) for flag, at in _nonempty(t, "eligible_flags"))
    _check_some_supplier_bills_in(t, currency, owners, nodes, pool)

    def path(field: str) -> str:
        # Rates name their fields `rates.<field>`; Program already uses `programs.<id>.<key>`.
        if field.startswith("rates."):
            key: str = getattr(rate_key, field.removeprefix("rates."))
            return t.where.key(key).path
        return field

    def rate(key: str | None) -> int | None:
        return None if key is None else t.integer(key, unit=_BP)

    with domain_errors(t.where.source, path):
        return Program(
            id=program_id,
            name=t.text("name"),
            sponsor=t.text("sponsor"),
            currency=currency,
            budget=t.integer("budget", unit=_MINOR),
            valid_from=t.epoch_seconds("valid_from"),
            valid_until=t.epoch_seconds("valid_until"),
            rates=Rates(
                domestic_bp=t.integer(rate_key.domestic_bp, unit=_BP),
                other_bp=t.integer(rate_key.other_bp, unit=_BP),
                startup_domestic_bp=rate(rate_key.startup_domestic_bp),
                startup_other_bp=rate(rate_key.startup_other_bp),
            ),
            eligible_tenants=tenants,
            eligible_flags=flags,
            eligible_owners=owners,
            eligible_nodes=nodes,
            tenant_cap=t.integer("tenant_cap", unit=_MINOR) if t.has("tenant_cap") else None,
            cap_period_s=(
                t.integer("cap_period_s", unit="seconds") if t.has("cap_period_s") else YEAR_S
            ),
            stacking_group=t.ident("stacking_group") if t.has("stacking_group") else None,
        )


@dataclass(frozen=True, slots=True)
class _RateKeys:
    """The key of the file that sets each `Rates` field (same names); None: not set."""

    domestic_bp: str
    other_bp: str
    startup_domestic_bp: str | None
    startup_other_bp: str | None


def _rate_keys(t: Table) -> _RateKeys:
    """Which keys set the rates, after checking that the program uses exactly one of the two
    forms for its rate and at most one for its start-up rate."""
    if t.has("rate_bp"):
        for key in ("rate_domestic_bp", "rate_other_bp"):
            if t.has(key):
                raise t.where.key("rate_bp").error(
                    f"give either rate_bp or rate_domestic_bp and rate_other_bp, not both "
                    f"({key} is also set)"
                )
        domestic = other = "rate_bp"
    elif t.has("rate_domestic_bp") or t.has("rate_other_bp"):
        for key in ("rate_domestic_bp", "rate_other_bp"):
            if not t.has(key):
                raise t.where.key(key).error(
                    "missing required key: rate_domestic_bp and rate_other_bp go together"
                )
        domestic, other = "rate_domestic_bp", "rate_other_bp"
    else:
        raise t.where.key("rate_bp").error(
            "missing required key: give rate_bp, or rate_domestic_bp and rate_other_bp"
        )
    if t.has("startup_rate_bp"):
        for key in ("startup_rate_domestic_bp", "startup_rate_other_bp"):
            if t.has(key):
                raise t.where.key("startup_rate_bp").error(
                    "give either startup_rate_bp or startup_rate_domestic_bp / "
                    f"startup_rate_other_bp, not both ({key} is also set)"
                )
        startup_domestic: str | None = "startup_rate_bp"
        startup_other: str | None = "startup_rate_bp"
    else:
        startup_domestic = "startup_rate_domestic_bp" if t.has("startup_rate_domestic_bp") else None
        startup_other = "startup_rate_other_bp" if t.has("startup_rate_other_bp") else None
    return _RateKeys(domestic, other, startup_domestic, startup_other)


def _nonempty(t: Table, key: str) -> list[tuple[str, Where]]:
    items = t.texts(key)
    # An empty list would read as "nobody" but the domain reads it as "anyone".
    if t.has(key) and not items:
        raise t.where.key(key).error("must not be empty; leave the key out to allow anyone")
    return items


def _references(
    t: Table, key: str, kind: str, existing: Mapping[str, object], *, list_known: bool = True
) -> frozenset[str]:
    names = _nonempty(t, key)
    for name, at in names:
        if name not in existing:
            # A real pool has thousands of nodes: listing them would bury the message.
            hint = f"; known: {known(existing)}" if list_known else f" (no such {kind} in the pool)"
            raise at.error(f"unknown {kind} {name!r}{hint}")
    return frozenset(name for name, _ in names)


def _check_some_supplier_bills_in(
    t: Table, currency: Currency, owners: frozenset[str], nodes: frozenset[str], pool: Pool
) -> None:
    """A program pays only costs in its own currency, and a cost is in its supplier's currency:
    if no eligible supplier bills in the program's currency, the program can never pay."""
    suppliers = owners | {pool.nodes[node].owner for node in nodes}
    if not suppliers:
        suppliers = frozenset(pool.owners)
    billed = {pool.owners[owner].currency for owner in suppliers}
    if currency not in billed:
        whom = "its eligible suppliers" if owners or nodes else "the pool's owners"
        raise t.where.key("currency").error(
            f"the program can never pay: {whom} bill only in {known(billed)}, not {currency}"
        )


def _balances(root: Table, pool: Pool) -> dict[tuple[str, Currency], int]:
    balances = {}
    currencies = tuple(c.value for c in Currency)
    for tenant, value, where in root.entries("balances"):
        if tenant not in pool.tenants:
            raise where.error(f"unknown tenant {tenant!r}; known: {known(pool.tenants)}")
        if isinstance(value, Mapping):
            for code in value:
                if code not in currencies:
                    raise where.key(str(code)).error(
                        f"unknown currency {code!r}; expected one of: {', '.join(currencies)}"
                    )
        t = Table(value, where, (), currencies)
        for code in currencies:
            if t.has(code):
                balances[tenant, Currency(code)] = t.integer(code, minimum=0, unit=_MINOR)
    return balances
