"""Why a job is not admitted, as data (never an exception or silence)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ReasonCode(enum.StrEnum):
    # Infeasible: no change of load can make the job fit the configured pool; the job is rejected.
    UNKNOWN_TENANT = "UNKNOWN_TENANT"
    PRIORITY_NOT_ALLOWED = "PRIORITY_NOT_ALLOWED"
    NO_FLAVOR = "NO_FLAVOR"  # no accepted model exists in the pool
    RESIDENCY = "RESIDENCY"  # accepted models exist, but not in any zone the job may use
    GANG_TOO_LARGE = "GANG_TOO_LARGE"  # larger than the whole (model, zone) capacity
    QUOTA_TOO_SMALL = "QUOTA_TOO_SMALL"  # larger than nominal + borrowing limit for every model
    # Pending: the job waits and is reconsidered every cycle.
    OVER_QUOTA = "OVER_QUOTA"
    NO_CAPACITY = "NO_CAPACITY"
    BLOCKED_BY_HEAD = "BLOCKED_BY_HEAD"  # strict FIFO: an earlier job waits for capacity
    RESERVED = "RESERVED"  # backfill: capacity is being held for this job
    BACKFILL_WOULD_DELAY = "BACKFILL_WOULD_DELAY"  # backfill: it would delay the reserved job
    NO_FUNDS = "NO_FUNDS"


INFEASIBLE = frozenset(
    {
        ReasonCode.UNKNOWN_TENANT,
        ReasonCode.PRIORITY_NOT_ALLOWED,
        ReasonCode.NO_FLAVOR,
        ReasonCode.RESIDENCY,
        ReasonCode.GANG_TOO_LARGE,
        ReasonCode.QUOTA_TOO_SMALL,
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    message: str

    @property
    def infeasible(self) -> bool:
        return self.code in INFEASIBLE

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class PreemptionCause(enum.StrEnum):
    PRIORITY = "PRIORITY"  # a higher-priority job needs the capacity
    RECLAIM_OWNER = "RECLAIM_OWNER"  # the node's owner's own tenant takes back lent capacity
    RECLAIM_QUOTA = "RECLAIM_QUOTA"  # a tenant within its nominal quota takes back borrowed quota
    ATTAINED_SERVICE = "ATTAINED_SERVICE"  # las: a job of less attained service needs the room
