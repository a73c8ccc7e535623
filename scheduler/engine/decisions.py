"""What a cycle decides. The coordinator commits these, then acts on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.domain.jobs import Placement
from scheduler.engine.reasons import PreemptionCause, Reason
from scheduler.ledger.programs import Split


@dataclass(frozen=True, slots=True)
class Admission:
    """Start `job_id` on `placement`, after stopping the jobs in `preempts`."""

    job_id: str
    tenant: str
    placement: Placement
    borrowing: bool = False  # uses quota lent by the cohort
    preempts: tuple[str, ...] = ()
    funding: Split | None = None  # the reserved estimate: programs' shares and co-payment


@dataclass(frozen=True, slots=True)
class Preemption:
    job_id: str
    tenant: str
    by_job: str
    cause: PreemptionCause
    message: str


@dataclass(frozen=True)
class CycleResult:
    now: int
    policy: str
    admissions: tuple[Admission, ...]
    preemptions: tuple[Preemption, ...]
    pending: Mapping[str, Reason]  # waiting; reconsidered next cycle
    rejected: Mapping[str, Reason]  # can never run in this pool as configured
    considered: int

    @property
    def gangs_admitted(self) -> int:
        return sum(1 for a in self.admissions if len(a.placement.workers) > 1)
