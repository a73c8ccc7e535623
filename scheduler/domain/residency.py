"""Cross-border data approvals (GBA Standard Contract) and the zones a job may run in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Jurisdiction


@dataclass(frozen=True, slots=True)
class Approval:
    """A tenant's filed permission to move data from one zone to another until `expires_at` (s)."""

    id: str
    tenant: str
    from_zone: Jurisdiction
    to_zone: Jurisdiction
    expires_at: int

    def __post_init__(self) -> None:
        if self.from_zone is self.to_zone:
            raise InvalidField(f"approvals.{self.id}.to_zone", "must differ from from_zone")

    def active(self, now: int) -> bool:
        return now < self.expires_at


def allowed_zones(
    tenant: str,
    origin: Jurisdiction,
    approval_ids: Iterable[str],
    approvals: dict[str, Approval],
    now: int,
) -> tuple[tuple[Jurisdiction, str | None], ...]:
    """(zone, approval id) pairs a job may run in: its origin zone first (no approval needed),
    then each zone an active approval of its own tenant allows from that origin."""
    zones: list[tuple[Jurisdiction, str | None]] = [(origin, None)]
    for approval_id in sorted(set(approval_ids)):
        approval = approvals.get(approval_id)
        if approval is None or approval.tenant != tenant or approval.from_zone is not origin:
            continue
        if approval.active(now) and all(zone is not approval.to_zone for zone, _ in zones):
            zones.append((approval.to_zone, approval.id))
    return tuple(zones)
