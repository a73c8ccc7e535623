"""What the ledger refuses, and why. Every error names the posting or attempt it is about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.domain.errors import CurrencyMismatch, DomainError
from scheduler.domain.geography import Currency


class LedgerError(DomainError):
    """Base of the ledger's refusals. Nothing is posted when one is raised."""


class UnbalancedPosting(LedgerError, ValueError):
    """A posting's entries do not sum to zero in some currency, or are malformed."""


class MixedCurrencies(UnbalancedPosting, CurrencyMismatch):
    """A posting that names its currency has an entry in another one."""


class ConflictingPosting(LedgerError):
    """A posting's key was already used for a posting with different content."""


class Overdraft(LedgerError):
    """A posting would take an account past zero on the wrong side (a budget or a balance below
    zero, a source account above it). The flows check first and raise InsufficientFunds; this is
    the book's own backstop."""


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One thing that is short: `what` (e.g. "budget of program sz"), in `currency`."""

    what: str
    currency: Currency
    needed: int
    available: int

    def __str__(self) -> str:
        return f"{self.what} has {self.available} {self.currency}, needs {self.needed}"


class InsufficientFunds(LedgerError):
    """Money is short for `subject` (e.g. "job j1 attempt 2"); `shortfalls` says where."""

    def __init__(self, subject: str, shortfalls: Iterable[Shortfall]) -> None:
        self.subject = subject
        self.shortfalls = tuple(shortfalls)
        super().__init__(f"{subject}: " + "; ".join(str(s) for s in self.shortfalls))


class UnknownAttempt(LedgerError, LookupError):
    """Settling or releasing an attempt that was never reserved."""


class AttemptClosed(LedgerError):
    """The attempt was already settled (or released) and cannot be closed the other way."""


class AttemptStillOpen(LedgerError):
    """A new attempt of a job was reserved while an earlier one still holds its reservation."""


class InvalidSettlement(LedgerError, ValueError):
    """The actual split does not fit the usage or the reservation (a share above what was
    reserved, a cost that is not the usage's cost, another tenant or currency)."""


class ReplayError(LedgerError):
    """Postings handed to `Ledger.replay` are not one contiguous, valid sequence."""
