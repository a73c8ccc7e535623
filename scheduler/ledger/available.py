"""What the ledger says is still available, in the shapes the engine reads: `Funds` (programs'
remaining budgets and what each tenant drew per cap period) and `Budgets` (those plus tenants'
balances). The coordinator builds them from the ledger for each cycle's snapshot."""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.ledger.book import Account, AccountKind, Ledger
from scheduler.ledger.budgets import Budgets
from scheduler.ledger.programs import Program
from scheduler.ledger.split import Funds


def drawn_in_period(ledger: Ledger, program: Program, tenant: str, at: int) -> int:
    """What `tenant` draws from `program` (reserved or paid) in the cap period of `at`: draws
    count in the period their reservation was made, as the engine's `Funds` counts them."""
    period = program.period(at)
    return sum(
        amount
        for reserved_at, amount in ledger.drawn(program.id, tenant).items()
        if program.period(reserved_at) == period
    )


def funds_from(ledger: Ledger, programs: Iterable[Program]) -> Funds:
    by_id = {program.id: program for program in programs}
    remaining = {
        program.id: ledger.balance(
            Account(AccountKind.PROGRAM_BUDGET, program.id, program.currency)
        )
        for program in by_id.values()
    }
    drawn: dict[tuple[str, str, int], int] = {}
    for (program_id, tenant), draws in ledger.draws().items():
        program = by_id.get(program_id)
        if program is None:
            continue
        for reserved_at, amount in draws.items():
            key = (program_id, tenant, program.period(reserved_at))
            drawn[key] = drawn.get(key, 0) + amount
    return Funds(remaining, drawn)


def budgets_from(ledger: Ledger, programs: Iterable[Program]) -> Budgets:
    by_id = {program.id: program for program in programs}
    balances = {
        (account.holder, account.currency): amount
        for account, amount in ledger.balances().items()
        if account.kind is AccountKind.TENANT_BALANCE
    }
    return Budgets(by_id, funds_from(ledger, by_id.values()), balances)
