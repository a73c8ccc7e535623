"""The configured voucher programs and the tenants' prepaid balances: the money side of the pool
as the programs file states it, before any usage has been drawn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Currency
from scheduler.ledger.programs import Program
from scheduler.ledger.split import Funds


@dataclass(frozen=True, slots=True)
class ProgramsConfig:
    """`programs` by id; `balances[(tenant, currency)]` is the tenant's prepaid balance in minor
    units of that currency (absent means zero)."""

    programs: Mapping[str, Program]
    balances: Mapping[tuple[str, Currency], int]

    def __post_init__(self) -> None:
        for key, program in self.programs.items():
            if key != program.id:
                raise InvalidField(f"programs.{key}", f"holds program {program.id!r}")
        for (tenant, currency), amount in self.balances.items():
            if amount < 0:
                raise InvalidField(f"balances.{tenant}.{currency}", "must not be negative")

    def balance(self, tenant: str, currency: Currency) -> int:
        return self.balances.get((tenant, currency), 0)

    def funds(self) -> Funds:
        """Funds before any usage: every program's whole budget left, nothing drawn."""
        return Funds({program_id: program.budget for program_id, program in self.programs.items()})
