"""Strict, typed reading of a parsed TOML document.

Every value is checked where it is read, and every error names the file and the dotted key path,
because a pool file is edited by hand and a vague error costs an operator a search through
hundreds of lines. Arrays are indexed from 0 in paths (`node_groups[3]`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from scheduler.config.errors import ConfigError
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import parse_enum

# Ids end up inside dotted key paths and node ids, so dots and spaces would make both ambiguous.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

E = TypeVar("E", bound=enum.Enum)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; every way it can fail becomes a ConfigError naming the file."""
    source = str(path)
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(source, "", "no such file") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(source, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"invalid TOML: {exc}") from None


@contextmanager
def domain_errors(source: str, path: Callable[[str], str]) -> Iterator[None]:
    """Re-raise a domain constructor's error as a ConfigError at the key path in this file;
    `path` maps the domain's own field path (e.g. `quotas.x.nominal`) to the file's."""
    try:
        yield
    except ConfigError:
        raise
    except InvalidField as exc:
        raise ConfigError(source, path(exc.field), exc.message) from exc


def known(names: Iterable[str]) -> str:
    """The valid names, for an "unknown x" message."""
    return ", ".join(sorted(names)) or "(none)"


@dataclass(frozen=True, slots=True)
class Where:
    """A position in a configuration file: the file name and the dotted key path."""

    source: str
    path: str = ""

    def key(self, name: str) -> Where:
        return Where(self.source, f"{self.path}.{name}" if self.path else name)

    def index(self, i: int) -> Where:
        return Where(self.source, f"{self.path}[{i}]")

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.source, self.path, message)


def describe(value: object) -> str:
    """The TOML type name of a parsed value, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, dt.datetime):
        return "a datetime"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dt.time):
        return "a time"
    return type(value).__name__


def ident(value: str, where: Where) -> str:
    if not _ID.match(value):
        raise where.error(
            f"{value!r} is not a valid id (letters, digits, '-' and '_', starting with a letter "
            "or digit)"
        )
    return value


class Table:
    """One TOML table whose keys are checked against the accepted set on entry, so a misspelt key
    is reported rather than silently ignored."""

    __slots__ = ("_data", "where")

    def __init__(
        self,
        value: object,
        where: Where,
        required: Sequence[str] = (),
        optional: Sequence[str] = (),
    ) -> None:
        if not isinstance(value, Mapping):
            raise where.error(f"must be a table, got {describe(value)}")
        accepted = (*required, *optional)
        for key in value:
            if key not in accepted:
                listed = ", ".join(accepted)
                raise where.key(str(key)).error(f"unknown key; accepted keys: {listed}")
        for key in required:
            if key not in value:
                raise where.key(key).error("missing required key")
        self._data: Mapping[str, object] = value
        self.where = where

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str) -> object:
        return self._data.get(key)

    def text(self, key: str) -> str:
        value = self._data.get(key)
        if not isinstance(value, str):
            raise self.where.key(key).error(f"must be a string, got {describe(value)}")
        if not value:
            raise self.where.key(key).error("must not be empty")
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if key in self._data else None

    def ident(self, key: str) -> str:
        return ident(self.text(key), self.where.key(key))

    def integer(self, key: str, *, minimum: int | None = None, unit: str = "") -> int:
        value = self._data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            what = f"an integer{f' ({unit})' if unit else ''}"
            raise self.where.key(key).error(f"must be {what}, got {describe(value)}")
        if minimum is not None and value < minimum:
            bound = {0: "must not be negative", 1: "must be a positive integer"}
            raise self.where.key(key).error(bound.get(minimum, f"must be at least {minimum}"))
        return value

    def opt_integer(self, key: str, *, minimum: int | None = None) -> int | None:
        return self.integer(key, minimum=minimum) if key in self._data else None

    def boolean(self, key: str) -> bool:
        value = self._data.get(key)
        if not isinstance(value, bool):
            raise self.where.key(key).error(f"must be true or false, got {describe(value)}")
        return value

    def choice(self, kind: type[E], key: str) -> E:
        where = self.where.key(key)
        return choice(kind, self.text(key), where)

    def texts(self, key: str) -> list[tuple[str, Where]]:
        """An optional array of distinct strings, each with its own position."""
        if key not in self._data:
            return []
        where = self.where.key(key)
        value = self._data[key]
        if not isinstance(value, list):
            raise where.error(f"must be an array of strings, got {describe(value)}")
        out: list[tuple[str, Where]] = []
        seen: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise where.index(i).error(f"must be a string, got {describe(item)}")
            if item in seen:
                raise where.index(i).error(f"{item!r} is listed twice")
            seen.add(item)
            out.append((item, where.index(i)))
        return out

    def labels(self, key: str) -> tuple[tuple[str, str], ...]:
        """An optional inline table of string values, sorted so equal labels compare equal."""
        if key not in self._data:
            return ()
        where = self.where.key(key)
        value = self._data[key]
        if not isinstance(value, Mapping):
            raise where.error(f"must be a table of strings, got {describe(value)}")
        for name, item in value.items():
            if not isinstance(item, str):
                raise where.key(str(name)).error(f"must be a string, got {describe(item)}")
        return tuple(sorted(value.items()))

    def entries(self, key: str) -> Iterator[tuple[str, object, Where]]:
        """The named sub-tables of an optional table (`[tenants.pcl]` …), in file order."""
        if key not in self._data:
            return
        where = self.where.key(key)
        value = self._data[key]
        if not isinstance(value, Mapping):
            raise where.error(f"must be a table, got {describe(value)}")
        for name, item in value.items():
            entry = where.key(str(name))
            yield ident(str(name), entry), item, entry

    def array(self, key: str) -> Iterator[tuple[object, Where]]:
        """The elements of an optional array of tables (`[[node_groups]]`), in file order."""
        if key not in self._data:
            return
        where = self.where.key(key)
        value = self._data[key]
        if not isinstance(value, list):
            raise where.error(f"must be an array of tables ([[{key}]]), got {describe(value)}")
        for i, item in enumerate(value):
            yield item, where.index(i)

    def epoch_seconds(self, key: str) -> int:
        """A moment as integer epoch seconds, from a TOML offset datetime or an integer."""
        value = self._data.get(key)
        where = self.where.key(key)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return (value - _EPOCH) // dt.timedelta(seconds=1)
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise where.error("must not be negative")
            return value
        got = "a datetime without an offset" if isinstance(value, dt.datetime) else describe(value)
        raise where.error(
            "must be a datetime with a UTC offset (e.g. 2027-12-31T23:59:59+08:00) or integer "
            f"epoch seconds, got {got}"
        )


def choice(kind: type[E], value: str, where: Where) -> E:
    try:
        return parse_enum(kind, value, where.path)
    except InvalidField as exc:
        raise where.error(exc.message) from None
