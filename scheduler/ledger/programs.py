"""Subsidy (compute-voucher) programs and how one job's cost is split between them and the
tenant. Integer minor units and basis points only; a program pays only in its own currency.

The shapes of DOMAIN.md's table map onto one `Program`:
- Beijing-style: one rate (≤ 20 %), a total budget, a per-tenant cap per year;
- Shanghai-style: city and district programs in one stacking group, never more than the cost;
- Shenzhen-style: 50 %, 60 % for start-ups (`startup_*` rates);
- Hangzhou-style: 30 % on domestic accelerators, 20 % on others, a per-firm cap;
- Hong Kong-style: 70 % only at the designated supplier (`eligible_owners`);
- Chengdu-style: redeemable only at whitelisted centres (`eligible_owners` / `eligible_nodes`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Currency
from scheduler.domain.tenants import Tenant, TenantFlag

BASIS_POINTS = 10_000
YEAR_S = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Rates:
    """Share of the cost a program pays, in basis points (10,000 = 100 %)."""

    domestic_bp: int
    other_bp: int
    startup_domestic_bp: int | None = None  # None: start-ups get the ordinary rate
    startup_other_bp: int | None = None

    def __post_init__(self) -> None:
        for name in ("domestic_bp", "other_bp", "startup_domestic_bp", "startup_other_bp"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= BASIS_POINTS:
                raise InvalidField(f"rates.{name}", "must be between 0 and 10000 basis points")

    def for_job(self, domestic: bool, startup: bool) -> int:
        if startup:
            special = self.startup_domestic_bp if domestic else self.startup_other_bp
            if special is not None:
                return special
        return self.domestic_bp if domestic else self.other_bp


@dataclass(frozen=True, slots=True)
class Program:
    """One voucher program. Empty eligibility sets mean "anyone"."""

    id: str
    name: str
    sponsor: str
    currency: Currency
    budget: int  # minor units, the program's total
    valid_from: int  # epoch seconds, inclusive
    valid_until: int  # epoch seconds, exclusive
    rates: Rates
    eligible_tenants: frozenset[str] = frozenset()
    eligible_flags: frozenset[TenantFlag] = frozenset()
    eligible_owners: frozenset[str] = frozenset()
    eligible_nodes: frozenset[str] = frozenset()
    tenant_cap: int | None = None  # minor units per tenant per period
    cap_period_s: int = YEAR_S
    stacking_group: str | None = None  # programs may stack only within one group

    def __post_init__(self) -> None:
        where = f"programs.{self.id}"
        if not self.id:
            raise InvalidField("programs.id", "must not be empty")
        if self.budget < 0:
            raise InvalidField(f"{where}.budget", "must not be negative")
        if self.valid_until <= self.valid_from:
            raise InvalidField(f"{where}.valid_until", "must be after valid_from")
        if self.tenant_cap is not None and self.tenant_cap < 0:
            raise InvalidField(f"{where}.tenant_cap", "must not be negative")
        if self.cap_period_s <= 0:
            raise InvalidField(f"{where}.cap_period_s", "must be a positive number of seconds")

    def active(self, now: int) -> bool:
        return self.valid_from <= now < self.valid_until

    def period(self, now: int) -> int:
        """The index of the cap period `now` falls in (periods start at valid_from)."""
        return (now - self.valid_from) // self.cap_period_s

    def tenant_eligible(self, tenant: Tenant) -> bool:
        if not self.eligible_tenants and not self.eligible_flags:
            return True
        return tenant.id in self.eligible_tenants or bool(self.eligible_flags & tenant.flags)

    def supplier_eligible(self, owner: str, nodes: Iterable[str]) -> bool:
        if not self.eligible_owners and not self.eligible_nodes:
            return True
        if owner in self.eligible_owners:
            return True
        node_set = frozenset(nodes)
        return bool(node_set) and node_set <= self.eligible_nodes

    def rate_bp(self, tenant: Tenant, domestic: bool) -> int:
        return self.rates.for_job(domestic, TenantFlag.STARTUP in tenant.flags)


@dataclass(frozen=True, slots=True)
class Split:
    """Who pays what of one cost: each program's share, in the order applied, and the tenant's
    co-payment. Shares + co-payment == cost, always."""

    currency: Currency
    cost: int
    shares: tuple[tuple[str, int], ...]
    copay: int

    def __post_init__(self) -> None:
        if self.copay < 0 or any(amount < 0 for _, amount in self.shares):
            raise InvalidField("split", "shares and co-payment must not be negative")
        ids = [program_id for program_id, _ in self.shares]
        if len(ids) != len(set(ids)):
            raise InvalidField("split.shares", "a program appears twice")
        if sum(amount for _, amount in self.shares) + self.copay != self.cost:
            raise InvalidField("split", "shares and co-payment must add up to the cost")

    @property
    def subsidy(self) -> int:
        return sum(amount for _, amount in self.shares)

    def share_of(self, program_id: str) -> int:
        return sum(amount for pid, amount in self.shares if pid == program_id)
