"""Builders for ledger tests: programs, usage and splits in a line each, in domain words."""

from __future__ import annotations

from scheduler.domain.geography import Currency
from scheduler.ledger.programs import Program, Rates, Split
from scheduler.ledger.usage import Usage
from tests.builders import ASCEND

HOUR = 3600
YEAR_2026 = (1_767_196_800, 1_798_732_800)
START = YEAR_2026[0]


def a_program(
    program_id: str,
    rate_bp: int = 3000,
    *,
    budget: int = 1_000_000,
    currency: Currency = Currency.CNY,
    sponsor: str | None = None,
    other_bp: int | None = None,
    startup_bp: int | None = None,
    owners: tuple[str, ...] = (),
    tenant_cap: int | None = None,
    cap_period_s: int = 365 * 24 * HOUR,
    stacking_group: str | None = None,
) -> Program:
    """A program paying `rate_bp` on domestic chips (and `other_bp`, default the same, on
    others; start-ups `startup_bp` on both), valid for 2026, redeemable at `owners` (default
    anywhere)."""
    return Program(
        program_id,
        f"{program_id} vouchers",
        sponsor or f"{program_id}-sponsor",
        currency,
        budget,
        *YEAR_2026,
        Rates(rate_bp, rate_bp if other_bp is None else other_bp, startup_bp, startup_bp),
        eligible_owners=frozenset(owners),
        tenant_cap=tenant_cap,
        cap_period_s=cap_period_s,
        stacking_group=stacking_group,
    )


def a_split(cost: int, *shares: tuple[str, int], currency: Currency = Currency.CNY) -> Split:
    """`cost` split into `shares`; the tenant co-pays the rest."""
    return Split(currency, cost, shares, cost - sum(amount for _, amount in shares))


def a_usage(
    tenant: str = "lab",
    *,
    seconds: int = HOUR,
    price: int = 10_000,
    currency: Currency = Currency.CNY,
    owner: str = "sz-gov",
    nodes: tuple[str, ...] = ("sz-gov-910b-000",),
    model: str = ASCEND,
    domestic: bool = True,
) -> Usage:
    """`seconds` accelerator-seconds at `price` minor units per accelerator-hour (default
    100.00 CNY, so an accelerator-hour costs 10,000 fen)."""
    return Usage(tenant, owner, nodes, model, domestic, seconds, price, currency)
