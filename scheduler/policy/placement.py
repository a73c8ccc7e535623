"""Placement strategies: which capacity group a job should prefer, and how tightly to pack.

A strategy gives each candidate group a tier (lower is preferred) and a fit rule applied within
the best tier that can host the job. The engine puts the job's own data zone before any zone an
approval opens, whatever the strategy: data leaves its zone only when it must.
"""

from __future__ import annotations

import enum
from typing import Protocol

from scheduler.domain.geography import Currency
from scheduler.domain.money import Money


class Fit(enum.StrEnum):
    BEST = "best"  # the node (or group) left with the least free capacity: packs, keeps big holes
    WORST = "worst"  # the node (or group) with the most free capacity: spreads load


class GroupView(Protocol):
    """What a strategy may look at about a group of interchangeable nodes."""

    @property
    def price(self) -> Money: ...
    @property
    def domestic(self) -> bool: ...
    @property
    def tflops_fp16(self) -> int: ...


class PlacementStrategy(Protocol):
    name: str
    summary: str
    fit: Fit

    def tier(self, group: GroupView, home_currency: Currency) -> int: ...


class BinPack:
    name = "binpack"
    summary = "best fit: fill partly used nodes first, keep whole nodes free for gangs"
    fit = Fit.BEST

    def tier(self, group: GroupView, home_currency: Currency) -> int:
        return 0


class Spread:
    name = "spread"
    summary = "worst fit: put each job where the most capacity is free"
    fit = Fit.WORST

    def tier(self, group: GroupView, home_currency: Currency) -> int:
        return 0


# Prices in another currency rank after every price in the job's home currency: the product never
# converts currencies, so it cannot claim a HKD price is cheaper than a CNY one.
_FOREIGN_CURRENCY = 1 << 40


class Cheapest:
    name = "cheapest"
    summary = "lowest price per accelerator-hour in the job's home currency first, then best fit"
    fit = Fit.BEST

    def tier(self, group: GroupView, home_currency: Currency) -> int:
        penalty = 0 if group.price.currency is home_currency else _FOREIGN_CURRENCY
        return penalty + group.price.minor


class DomesticFirst:
    name = "domestic-first"
    summary = "domestic accelerators (Ascend, Cambricon, Hygon…) first, then best fit"
    fit = Fit.BEST

    def tier(self, group: GroupView, home_currency: Currency) -> int:
        return 0 if group.domestic else 1


class Subsidised:
    """Ranks by what the tenant would pay after its vouchers: a supplier where a program applies
    can beat a cheaper one where none does. The engine works out each group's coverage."""

    name = "subsidised"
    summary = (
        "lowest price after the job's vouchers (so eligible suppliers win), in the job's home "
        "currency first, then best fit"
    )
    fit = Fit.BEST

    def tier(self, group: GroupView, home_currency: Currency) -> int:
        return Cheapest().tier(group, home_currency)

    def net_tier(self, group: GroupView, home_currency: Currency, coverage_bp: int) -> int:
        """The tier when programs cover `coverage_bp` basis points of the price."""
        penalty = 0 if group.price.currency is home_currency else _FOREIGN_CURRENCY
        return penalty + group.price.minor * (10_000 - coverage_bp) // 10_000
