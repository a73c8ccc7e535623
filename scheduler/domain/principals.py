"""Who is calling, and what that caller may name.

A principal is either a tenant's (it sees and changes only that tenant's jobs) or an operator's
(every tenant's, and the pool's administration). The rules are here, once; the API only
authenticates a call, asks, and calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.errors import DomainError, InvalidField


class Unauthenticated(DomainError):
    """A call carried no credentials, malformed ones, or ones nobody was given. The message
    never repeats what the caller sent (it may be a secret)."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this. `field` names the request field that asked for
    it (e.g. `jobs[2].tenant`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: `name` is the credential's name (for logs and audit), `tenant` the tenant it
    acts for (None for an operator)."""

    name: str
    tenant: str | None
    operator: bool

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidField("name", "must not be empty")
        if self.operator == (self.tenant is not None):
            raise InvalidField("tenant", "a principal is a tenant's or an operator's, not both")

    def tenant_to_submit_as(self, requested: str, field: str) -> str:
        """The tenant a submission is made for: a tenant's own (empty `requested` or its own
        id); an operator's must be named."""
        if self.tenant is None:
            if not requested:
                raise InvalidField(field, "an operator must name the tenant to submit as")
            return requested
        if requested and requested != self.tenant:
            raise PermissionDenied(
                field, f"{self.name} may submit only as tenant {self.tenant!r}, not {requested!r}"
            )
        return self.tenant

    def tenant_to_read(self, requested: str, field: str) -> str | None:
        """The tenant whose jobs or events a listing or watch may show: a tenant's own (empty
        `requested` or its own id); for an operator the one named, or every tenant (None)."""
        if self.tenant is None:
            return requested or None
        if requested and requested != self.tenant:
            raise PermissionDenied(
                field, f"{self.name} may read only tenant {self.tenant!r}, not {requested!r}"
            )
        return self.tenant

    def require_operator(self, what: str) -> None:
        """Only an operator administers the pool (`what`: the call, e.g. `Admin.GetPool`)."""
        if not self.operator:
            raise PermissionDenied(what, f"{self.name} is a tenant's credential; operators only")

    def sees(self, tenant: str | None) -> bool:
        """Whether something of `tenant` (None: about no tenant, e.g. a node) is visible."""
        return self.operator or (tenant is not None and tenant == self.tenant)
