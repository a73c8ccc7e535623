"""Reports read from the ledger: per program, per tenant, per owner, and the usage evidence
(see `evidence`). Every amount is an integer of minor units with its currency named."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.domain.geography import Currency
from scheduler.ledger.book import Account, AccountKind, Ledger, PostingKind
from scheduler.ledger.evidence import (
    EvidenceRow,
    evidence_rows,
    read_evidence_csv,
    read_evidence_jsonl,
    write_evidence_csv,
    write_evidence_jsonl,
)
from scheduler.ledger.programs import BASIS_POINTS, Program

__all__ = [
    "EvidenceRow",
    "OwnerReport",
    "ProgramReport",
    "TenantReport",
    "evidence_rows",
    "owner_report",
    "program_report",
    "read_evidence_csv",
    "read_evidence_jsonl",
    "tenant_report",
    "write_evidence_csv",
    "write_evidence_jsonl",
]


@dataclass(frozen=True, slots=True)
class ProgramReport:
    """`budget` is what the sponsor funded; budget == reserved + paid + remaining. `paid` splits
    into usage on domestic accelerators and on others."""

    program: str
    currency: Currency
    budget: int
    reserved: int
    paid: int
    remaining: int
    tenants_served: tuple[str, ...]  # tenants the program paid something for, sorted
    paid_domestic: int
    paid_other: int

    @property
    def domestic_bp(self) -> int:
        """The domestic part of `paid` in basis points, rounded down (0 when nothing is paid)."""
        return self.paid_domestic * BASIS_POINTS // self.paid if self.paid else 0


@dataclass(frozen=True, slots=True)
class TenantReport:
    """One tenant in one currency. `subsidised` is what programs paid for its usage, beside
    what it `spent` itself."""

    tenant: str
    currency: Currency
    deposited: int
    balance: int
    reserved: int
    spent: int
    subsidised: int
    attempts_settled: int
    accelerator_seconds: int


@dataclass(frozen=True, slots=True)
class OwnerReport:
    owner: str
    currency: Currency
    receivable: int
    accelerator_seconds: int  # supplied to settled attempts
    attempts_settled: int


def program_report(ledger: Ledger, programs: Iterable[Program]) -> list[ProgramReport]:
    """One report per program, in the order given."""
    budget: dict[str, int] = {}
    served: dict[str, set[str]] = {}
    domestic: dict[str, int] = {}
    other: dict[str, int] = {}
    for posting in ledger.postings():
        kind = posting.key.kind
        for account, amount in posting.entries:
            if kind is PostingKind.FUND and account.kind is AccountKind.PROGRAM_BUDGET:
                budget[account.holder] = budget.get(account.holder, 0) + amount
            elif kind is PostingKind.SETTLE and account.kind is AccountKind.PROGRAM_PAID:
                usage = posting.usage
                if posting.tenant is not None:
                    served.setdefault(account.holder, set()).add(posting.tenant)
                side = domestic if usage is not None and usage.domestic else other
                side[account.holder] = side.get(account.holder, 0) + amount
    out: list[ProgramReport] = []
    for program in programs:
        pid, currency = program.id, program.currency
        out.append(
            ProgramReport(
                program=pid,
                currency=currency,
                budget=budget.get(pid, 0),
                reserved=ledger.balance(Account(AccountKind.PROGRAM_RESERVED, pid, currency)),
                paid=ledger.balance(Account(AccountKind.PROGRAM_PAID, pid, currency)),
                remaining=ledger.balance(Account(AccountKind.PROGRAM_BUDGET, pid, currency)),
                tenants_served=tuple(sorted(served.get(pid, ()))),
                paid_domestic=domestic.get(pid, 0),
                paid_other=other.get(pid, 0),
            )
        )
    return out


def tenant_report(ledger: Ledger) -> list[TenantReport]:
    """One report per tenant and currency it has money or usage in, sorted."""
    keys: set[tuple[str, Currency]] = set()
    balances = ledger.balances()
    tenant_kinds = (
        AccountKind.TENANT_DEPOSITS,
        AccountKind.TENANT_BALANCE,
        AccountKind.TENANT_RESERVED,
        AccountKind.TENANT_SPENT,
    )
    for account in balances:
        if account.kind in tenant_kinds:
            keys.add((account.holder, account.currency))
    subsidised: dict[tuple[str, Currency], int] = {}
    attempts: dict[tuple[str, Currency], int] = {}
    seconds: dict[tuple[str, Currency], int] = {}
    for row in evidence_rows(ledger):
        key = (row.tenant, row.currency)
        keys.add(key)
        subsidised[key] = subsidised.get(key, 0) + sum(amount for _, amount in row.shares)
        attempts[key] = attempts.get(key, 0) + 1
        seconds[key] = seconds.get(key, 0) + row.accelerator_seconds

    def held(kind: AccountKind, tenant: str, currency: Currency) -> int:
        return balances.get(Account(kind, tenant, currency), 0)

    return [
        TenantReport(
            tenant=tenant,
            currency=currency,
            deposited=-held(AccountKind.TENANT_DEPOSITS, tenant, currency),
            balance=held(AccountKind.TENANT_BALANCE, tenant, currency),
            reserved=held(AccountKind.TENANT_RESERVED, tenant, currency),
            spent=held(AccountKind.TENANT_SPENT, tenant, currency),
            subsidised=subsidised.get((tenant, currency), 0),
            attempts_settled=attempts.get((tenant, currency), 0),
            accelerator_seconds=seconds.get((tenant, currency), 0),
        )
        for tenant, currency in sorted(keys)
    ]


def owner_report(ledger: Ledger) -> list[OwnerReport]:
    """One report per owner and currency it is owed in, sorted."""
    receivable = {
        (account.holder, account.currency): amount
        for account, amount in ledger.balances().items()
        if account.kind is AccountKind.OWNER_RECEIVABLE
    }
    attempts: dict[tuple[str, Currency], int] = {}
    seconds: dict[tuple[str, Currency], int] = {}
    for row in evidence_rows(ledger):
        key = (row.supplier, row.currency)
        attempts[key] = attempts.get(key, 0) + 1
        seconds[key] = seconds.get(key, 0) + row.accelerator_seconds
    return [
        OwnerReport(
            owner=owner,
            currency=currency,
            receivable=receivable.get((owner, currency), 0),
            accelerator_seconds=seconds.get((owner, currency), 0),
            attempts_settled=attempts.get((owner, currency), 0),
        )
        for owner, currency in sorted(set(receivable) | set(attempts))
    ]
