"""The domain error tree. Every error names the field (or key path) it is about."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the product raises about bad input or bad state."""


class InvalidField(DomainError, ValueError):
    """A value is malformed or out of range. `field` is the dotted path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def moved(self, old: str, new: str) -> InvalidField:
        """The same error with the field path's prefix `old` replaced by `new`: a pool's key path
        (`nodes.n1.owner`) shown as the request field it came from (`node.owner`)."""
        if self.field == old or self.field.startswith(old + "."):
            return type(self)(new + self.field[len(old) :], self.message)
        return self


class UnknownReference(InvalidField):
    """A value names something (accelerator, owner, tenant, …) that does not exist."""


class CurrencyMismatch(DomainError, ValueError):
    """Two amounts in different currencies were combined; the product never converts silently."""
