"""What the engine needs to know about money in one cycle: the programs, what they have left,
and each tenant's prepaid balance. Built by the coordinator from the ledger; the engine only
reads it (a cycle works on a copy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.domain.geography import Currency
from scheduler.ledger.programs import Program, Split
from scheduler.ledger.split import Funds


@dataclass
class Budgets:
    programs: Mapping[str, Program]
    funds: Funds
    balances: dict[tuple[str, Currency], int]  # (tenant, currency) -> minor units available

    def copy(self) -> Budgets:
        return Budgets(self.programs, self.funds.copy(), dict(self.balances))

    def balance(self, tenant: str, currency: Currency) -> int:
        return self.balances.get((tenant, currency), 0)

    def take(self, tenant: str, split: Split, now: int) -> None:
        """Reserve a split: programs' shares and the tenant's co-payment."""
        self.funds.take(self.programs, tenant, split, now)
        key = (tenant, split.currency)
        self.balances[key] = self.balances.get(key, 0) - split.copay

    def give_back(self, tenant: str, split: Split, taken_at: int) -> None:
        """Undo `take`; `taken_at` is when the split was taken (see Funds.give_back)."""
        self.funds.give_back(self.programs, tenant, split, taken_at)
        key = (tenant, split.currency)
        self.balances[key] = self.balances.get(key, 0) + split.copay
