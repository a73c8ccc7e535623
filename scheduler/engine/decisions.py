"""What a cycle decides. The coordinator commits these, then acts on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from scheduler.domain.jobs import Job, Placement
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


class PendingReasons(Mapping[str, Reason]):
    """Why each waiting job waits: `explicit` reasons by job id, then every job of `blocked` (a
    run of the snapshot's pending jobs, none of them in `explicit`) for the one reason
    `blocked_by`: under strict FIFO all the jobs behind a blocked head share it, and keeping
    them as a run costs a cycle nothing per job. A Mapping like any other (ids of the run are
    indexed on first lookup); `explicit` and `blocked` let a reader skip the expansion."""

    __slots__ = ("_blocked_ids", "blocked", "blocked_by", "explicit")

    def __init__(
        self,
        explicit: Mapping[str, Reason],
        blocked: Sequence[Job] = (),
        blocked_by: Reason | None = None,
    ) -> None:
        if blocked and blocked_by is None:
            raise ValueError("a blocked run needs its reason")
        self.explicit = explicit
        self.blocked = blocked
        self.blocked_by = blocked_by
        self._blocked_ids: frozenset[str] | None = None

    def blocked_reason(self, job_id: str) -> Reason | None:
        """`blocked_by` if the job is one of the blocked run, else None."""
        if not self.blocked:
            return None
        if self._blocked_ids is None:
            self._blocked_ids = frozenset(job.id for job in self.blocked)
        return self.blocked_by if job_id in self._blocked_ids else None

    def __getitem__(self, job_id: str) -> Reason:
        reason = self.explicit.get(job_id)
        if reason is None:
            reason = self.blocked_reason(job_id)
            if reason is None:
                raise KeyError(job_id)
        return reason

    def __contains__(self, job_id: object) -> bool:
        if not isinstance(job_id, str):
            return False
        return job_id in self.explicit or self.blocked_reason(job_id) is not None

    def __iter__(self) -> Iterator[str]:
        yield from self.explicit
        for job in self.blocked:
            yield job.id

    def __len__(self) -> int:
        return len(self.explicit) + len(self.blocked)

    def __repr__(self) -> str:
        return f"PendingReasons({dict(self)!r})"


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
