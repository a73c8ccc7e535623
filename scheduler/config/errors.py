"""Configuration errors: a domain `InvalidField` that also names the file it came from."""

from __future__ import annotations

from scheduler.domain.errors import InvalidField


class ConfigError(InvalidField):
    """A configuration file is unreadable, malformed or inconsistent.

    `field` is the dotted key path inside the file ("" when the problem is the file as a whole,
    e.g. it is missing or is not valid TOML); the message always starts with the file name so that
    an operator can go straight to the line to fix.
    """

    def __init__(self, source: str, field: str, message: str) -> None:
        super().__init__(field, message)
        self.source = source
        location = f"{source}: {field}" if field else source
        self.args = (f"{location}: {message}",)
