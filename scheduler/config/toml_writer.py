"""Just enough TOML emitting for generated pool files: keys, scalars, arrays and inline tables.

Hand-written because the standard library reads TOML but does not write it, and the generated
files use a handful of value types only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f"}

Value = str | int | bool | dt.datetime | Sequence[str] | Mapping[str, str]


def key(name: str) -> str:
    return name if _BARE_KEY.match(name) else string(name)


def string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return f'"{"".join(out)}"'


def value(item: Value) -> str:
    # bool before int: True is an int in Python but `true` in TOML.
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, dt.datetime):
        if item.tzinfo is None:
            raise ValueError("a datetime needs an offset to be written unambiguously")
        return item.isoformat()
    if isinstance(item, Mapping):
        pairs = ", ".join(f"{key(k)} = {string(v)}" for k, v in item.items())
        return f"{{ {pairs} }}" if pairs else "{}"
    return f"[{', '.join(string(s) for s in item)}]"


def table(header: str, pairs: Mapping[str, Value | None]) -> str:
    """`[header]` (or `[[header]]` when given with brackets) and its key/value lines; None values
    are left out, so optional keys need no special casing at the call site."""
    lines = [header]
    lines.extend(f"{key(k)} = {value(v)}" for k, v in pairs.items() if v is not None)
    return "\n".join(lines) + "\n"
