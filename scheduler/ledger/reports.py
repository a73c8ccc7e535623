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
    "RunningReports",
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
    return RunningReports().programs(ledger, programs)


def tenant_report(ledger: Ledger) -> list[TenantReport]:
    """One report per tenant and currency it has money or usage in, sorted."""
    return RunningReports().tenants(ledger)


def owner_report(ledger: Ledger) -> list[OwnerReport]:
    """One report per owner and currency it is owed in, sorted."""
    return RunningReports().owners(ledger)


Key = tuple[str, Currency]


class RunningReports:
    """The three reports of one ledger, kept up to date: each call first reads the postings
    added since the last call, then answers from running sums and the ledger's balances. A
    long-lived coordinator's ledger grows by every settled attempt; the metrics endpoint asks
    for these reports at every scrape, and re-reading the whole book each time would make a
    scrape cost O(history) while it holds the coordinator's lock. Reading another ledger, or
    the same one after it shrank, starts again from its first posting. Not thread-safe: the
    caller serialises calls (the coordinator holds its core lock)."""

    def __init__(self) -> None:
        self._ledger: Ledger | None = None
        self._reset()

    def _reset(self) -> None:
        self._seen = 0
        self._budget: dict[str, int] = {}
        self._served: dict[str, set[str]] = {}
        self._paid_domestic: dict[str, int] = {}
        self._paid_other: dict[str, int] = {}
        self._subsidised: dict[Key, int] = {}
        self._tenant_attempts: dict[Key, int] = {}
        self._tenant_seconds: dict[Key, int] = {}
        self._owner_attempts: dict[Key, int] = {}
        self._owner_seconds: dict[Key, int] = {}

    def programs(self, ledger: Ledger, programs: Iterable[Program]) -> list[ProgramReport]:
        """One report per program, in the order given."""
        self._catch_up(ledger)
        out: list[ProgramReport] = []
        for program in programs:
            pid, currency = program.id, program.currency
            out.append(
                ProgramReport(
                    program=pid,
                    currency=currency,
                    budget=self._budget.get(pid, 0),
                    reserved=ledger.balance(Account(AccountKind.PROGRAM_RESERVED, pid, currency)),
                    paid=ledger.balance(Account(AccountKind.PROGRAM_PAID, pid, currency)),
                    remaining=ledger.balance(Account(AccountKind.PROGRAM_BUDGET, pid, currency)),
                    tenants_served=tuple(sorted(self._served.get(pid, ()))),
                    paid_domestic=self._paid_domestic.get(pid, 0),
                    paid_other=self._paid_other.get(pid, 0),
                )
            )
        return out

    def tenants(self, ledger: Ledger) -> list[TenantReport]:
        """One report per tenant and currency it has money or usage in, sorted."""
        self._catch_up(ledger)
        balances = ledger.balances()
        keys: set[Key] = {
            (account.holder, account.currency)
            for account in balances
            if account.kind in _TENANT_KINDS
        }
        keys.update(self._tenant_attempts)

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
                subsidised=self._subsidised.get((tenant, currency), 0),
                attempts_settled=self._tenant_attempts.get((tenant, currency), 0),
                accelerator_seconds=self._tenant_seconds.get((tenant, currency), 0),
            )
            for tenant, currency in sorted(keys)
        ]

    def owners(self, ledger: Ledger) -> list[OwnerReport]:
        """One report per owner and currency it is owed in, sorted."""
        self._catch_up(ledger)
        receivable = {
            (account.holder, account.currency): amount
            for account, amount in ledger.balances().items()
            if account.kind is AccountKind.OWNER_RECEIVABLE
        }
        return [
            OwnerReport(
                owner=owner,
                currency=currency,
                receivable=receivable.get((owner, currency), 0),
                accelerator_seconds=self._owner_seconds.get((owner, currency), 0),
                attempts_settled=self._owner_attempts.get((owner, currency), 0),
            )
            for owner, currency in sorted(set(receivable) | set(self._owner_attempts))
        ]

    def _catch_up(self, ledger: Ledger) -> None:
        if ledger is not self._ledger or len(ledger) < self._seen:
            self._reset()
            self._ledger = ledger
        seen = self._seen
        if len(ledger) == seen:
            return
        for posting in ledger.postings(seen):
            kind = posting.key.kind
            for account, amount in posting.entries:
                if kind is PostingKind.FUND and account.kind is AccountKind.PROGRAM_BUDGET:
                    self._budget[account.holder] = self._budget.get(account.holder, 0) + amount
                elif kind is PostingKind.SETTLE and account.kind is AccountKind.PROGRAM_PAID:
                    usage = posting.usage
                    if posting.tenant is not None:
                        self._served.setdefault(account.holder, set()).add(posting.tenant)
                    side = (
                        self._paid_domestic
                        if usage is not None and usage.domestic
                        else self._paid_other
                    )
                    side[account.holder] = side.get(account.holder, 0) + amount
        for row in evidence_rows(ledger, seen):
            tenant = (row.tenant, row.currency)
            self._subsidised[tenant] = self._subsidised.get(tenant, 0) + sum(
                amount for _, amount in row.shares
            )
            self._tenant_attempts[tenant] = self._tenant_attempts.get(tenant, 0) + 1
            self._tenant_seconds[tenant] = (
                self._tenant_seconds.get(tenant, 0) + row.accelerator_seconds
            )
            owner = (row.supplier, row.currency)
            self._owner_attempts[owner] = self._owner_attempts.get(owner, 0) + 1
            self._owner_seconds[owner] = self._owner_seconds.get(owner, 0) + row.accelerator_seconds
        self._seen = len(ledger)


_TENANT_KINDS = (
    AccountKind.TENANT_DEPOSITS,
    AccountKind.TENANT_BALANCE,
    AccountKind.TENANT_RESERVED,
    AccountKind.TENANT_SPENT,
)
