"""The eleven GBA cities, their three jurisdictions (data zones) and currencies."""

from __future__ import annotations

import enum
from typing import TypeVar

from scheduler.domain.errors import InvalidField


class Currency(enum.StrEnum):
    """Currencies of the pool; amounts are always integers of the minor unit."""

    CNY = "CNY"  # fen
    HKD = "HKD"  # cents
    MOP = "MOP"  # avos

    @property
    def minor_digits(self) -> int:
        """Decimal digits of the minor unit: a major unit is 10 ** minor_digits minor ones (ISO
        4217: 2 for CNY, HKD and MOP)."""
        return 2


class Jurisdiction(enum.StrEnum):
    """A data-residency zone. A job's data may leave its zone only under an approval."""

    MAINLAND = "mainland"
    HONG_KONG = "hong-kong"
    MACAO = "macao"

    @property
    def currency(self) -> Currency:
        return _CURRENCY[self]


_CURRENCY = {
    Jurisdiction.MAINLAND: Currency.CNY,
    Jurisdiction.HONG_KONG: Currency.HKD,
    Jurisdiction.MACAO: Currency.MOP,
}


class City(enum.StrEnum):
    GUANGZHOU = "guangzhou"
    SHENZHEN = "shenzhen"
    ZHUHAI = "zhuhai"
    FOSHAN = "foshan"
    HUIZHOU = "huizhou"
    DONGGUAN = "dongguan"
    ZHONGSHAN = "zhongshan"
    JIANGMEN = "jiangmen"
    ZHAOQING = "zhaoqing"
    HONG_KONG = "hong-kong"
    MACAO = "macao"

    @property
    def jurisdiction(self) -> Jurisdiction:
        if self is City.HONG_KONG:
            return Jurisdiction.HONG_KONG
        if self is City.MACAO:
            return Jurisdiction.MACAO
        return Jurisdiction.MAINLAND


E = TypeVar("E", bound=enum.Enum)


def parse_enum(kind: type[E], value: object, field: str) -> E:
    """Parse `value` into `kind`, with an error that names the field and the accepted values."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        accepted = ", ".join(str(m.value) for m in kind)
        raise InvalidField(field, f"unknown value {value!r}; expected one of: {accepted}") from None
