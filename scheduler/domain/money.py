"""Money: integer minor units (fen, HK cents, avos) of one currency. No floats, no conversion."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.errors import CurrencyMismatch
from scheduler.domain.geography import Currency


@dataclass(frozen=True, slots=True, order=True)
class Money:
    currency: Currency
    minor: int

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError(f"Money.minor must be int, got {type(self.minor).__name__}")

    def _same(self, other: Money) -> None:
        if other.currency is not self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor - other.minor)

    def times(self, factor: int) -> Money:
        return Money(self.currency, self.minor * factor)

    def __str__(self) -> str:
        sign = "-" if self.minor < 0 else ""
        whole, cents = divmod(abs(self.minor), 100)
        return f"{sign}{whole:,}.{cents:02d} {self.currency}"


def accelerator_seconds_cost(price_per_accel_hour: Money, accelerator_seconds: int) -> Money:
    """Cost of `accelerator_seconds` at an hourly price, rounded half up to the minor unit."""
    minor, rest = divmod(price_per_accel_hour.minor * accelerator_seconds, 3600)
    if rest * 2 >= 3600:
        minor += 1
    return Money(price_per_accel_hour.currency, minor)
