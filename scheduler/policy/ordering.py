"""Queue policies: the order pending jobs are considered in, and what a blocked job does to
the jobs behind it."""

from __future__ import annotations

import bisect
import enum
import operator
from collections.abc import Iterable, Sequence
from typing import Protocol

from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import Job, RunningJob
from scheduler.policy.preemption import victim_order
from scheduler.policy.service import ServiceHistory


class Discipline(enum.StrEnum):
    STRICT = "strict"  # the first job that does not fit blocks every job behind it
    BEST_EFFORT = "best-effort"  # jobs that do not fit are skipped; later ones may start
    BACKFILL = "backfill"  # EASY: the first blocked job gets a reservation; later jobs may start
    # only if they cannot delay it (they end before it starts, or avoid its nodes)


class QueuePolicy(Protocol):
    name: str
    summary: str
    discipline: Discipline
    preemption: bool
    arrival_order: bool  # True: consider jobs strictly in arrival order

    def head_key(self, job: Job, share_ppm: int) -> tuple[int, ...]:
        """Sort key of a tenant's head job; `share_ppm` is the tenant's weighted fair share use."""
        ...

    def ranking(self, service: ServiceHistory, now: int) -> Ranking | None:
        """For a policy that orders by service (las, qssf): this cycle's ranking of every pending
        job. None: the cycle orders by arrival (`arrival_order`) or by tenants' heads
        (`head_key`), and reads no service figures at all."""
        ...


class Ranking(Protocol):
    """One cycle's view of service: the order of pending jobs, and (for a preemptive policy)
    which running jobs a pending one may displace and in which order."""

    def order(self, pending: Sequence[Job]) -> Iterable[Job]:
        """`pending` (in arrival order) in the order the cycle considers them."""
        ...

    def tier(self, job: Job) -> int:
        """The class of a pending job that decides whom it may displace (0 for all when none)."""
        ...

    def displaces(self, job: Job, running: RunningJob) -> bool:
        """True when pending `job` outranks `running` of the same priority class by service."""
        ...

    def victim_key(self, running: RunningJob) -> tuple[int, ...]:
        """Victim order: the smallest key is preempted first."""
        ...

    def why(self, job: Job, running: RunningJob) -> str:
        """Why `job` displaces `running`, in words, for the preemption's message."""
        ...


class Fifo:
    name = "fifo"
    summary = "strict arrival order; the oldest job that does not fit blocks all others"
    discipline = Discipline.STRICT
    preemption = False
    arrival_order = True

    def head_key(self, job: Job, share_ppm: int) -> tuple[int, ...]:
        return (job.seq,)

    def ranking(self, service: ServiceHistory, now: int) -> Ranking | None:
        return None


class PriorityFairShare:
    name = "priority-fairshare"
    summary = (
        "priority class first, then the tenant furthest below its weighted fair share; "
        "jobs that do not fit are skipped; higher priority and owners may preempt"
    )
    discipline = Discipline.BEST_EFFORT
    preemption = True
    arrival_order = False

    def head_key(self, job: Job, share_ppm: int) -> tuple[int, ...]:
        return (-job.priority, share_ppm, job.seq)

    def ranking(self, service: ServiceHistory, now: int) -> Ranking | None:
        return None


class Backfill(PriorityFairShare):
    name = "backfill"
    summary = (
        "priority-fairshare order with EASY backfill: the first blocked job holds a reservation "
        "and later jobs start only if their walltime cannot delay it"
    )
    discipline = Discipline.BACKFILL


_priority = operator.attrgetter("priority")


def _by_priority(jobs: Iterable[Job]) -> list[Job]:
    """Stable: equal priorities keep their order."""
    return sorted(jobs, key=_priority, reverse=True)


class Las:
    """Tiresias's discretised two-dimensional least-attained-service (2D-LAS; Gu et al., NSDI
    2019). A job's attained service is accelerators × time held, over all its attempts. Jobs
    fall into `len(thresholds) + 1` queues: queue i holds jobs whose attained service is at least
    `thresholds[i-1]` and below `thresholds[i]`. Priority classes come first, then the lower
    queue, then arrival order; jobs that do not fit are skipped. A pending job may preempt
    preemptible running jobs of its priority class in a higher queue, the highest queue (then
    the most attained service) first, besides the priority and reclaim preemptions every
    preemptive policy makes.

    Starvation guard (the paper's): a queued job that has waited since its last attempt ended
    for at least `starvation_factor` × the time it has run (over all attempts) competes in
    queue 0 again; 0 turns the guard off. Once it runs it is judged by its attained service
    again."""

    name = "las"
    summary = (
        "Tiresias 2D-LAS: least attained accelerator-seconds first in discrete queues, FIFO "
        "within a queue; a job in a lower queue preempts ones in higher queues"
    )
    discipline = Discipline.BEST_EFFORT
    preemption = True
    arrival_order = False

    DEFAULT_THRESHOLDS: tuple[int, ...] = (8 * 3600,)
    """One threshold: eight accelerator-hours (one 8-accelerator node for an hour)."""
    DEFAULT_STARVATION_FACTOR = 2

    def __init__(
        self,
        thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
        starvation_factor: int = DEFAULT_STARVATION_FACTOR,
    ) -> None:
        if not thresholds or any(t <= 0 for t in thresholds):
            raise InvalidField("las.thresholds", "must be positive accelerator-seconds")
        if list(thresholds) != sorted(set(thresholds)):
            raise InvalidField("las.thresholds", "must be strictly increasing")
        if starvation_factor < 0:
            raise InvalidField("las.starvation_factor", "must not be negative")
        self.thresholds = tuple(thresholds)
        self.starvation_factor = starvation_factor

    def head_key(self, job: Job, share_ppm: int) -> tuple[int, ...]:
        return (-job.priority, job.seq)  # not used: `ranking` orders every job

    def queue_of(self, attained: int) -> int:
        return bisect.bisect_right(self.thresholds, attained)

    def ranking(self, service: ServiceHistory, now: int) -> Ranking | None:
        return _LasRanking(self, service, now)


class _LasRanking:
    def __init__(self, las: Las, service: ServiceHistory, now: int) -> None:
        self.las = las
        self.service = service
        self.now = now
        self._running: dict[str, tuple[int, int]] = {}  # id -> (queue, attained)

    def order(self, pending: Sequence[Job]) -> Iterable[Job]:
        if not self.service.past:  # nobody has run yet: every job is in queue 0
            return _by_priority(pending)
        return _by_priority(sorted(pending, key=self.tier))

    def tier(self, job: Job) -> int:
        past = self.service.past.get(job.id)
        if past is None:
            return 0
        factor = self.las.starvation_factor
        if factor and self.now - past.ended_at >= factor * (past.accelerator_s // job.gang.total):
            return 0  # starved: promoted
        return self.las.queue_of(past.accelerator_s)

    def running(self, r: RunningJob) -> tuple[int, int]:
        known = self._running.get(r.id)
        if known is None:
            attained = self.service.attained_running(r, self.now)
            known = (self.las.queue_of(attained), attained)
            self._running[r.id] = known
        return known

    def displaces(self, job: Job, running: RunningJob) -> bool:
        return self.tier(job) < self.running(running)[0]

    def victim_key(self, running: RunningJob) -> tuple[int, ...]:
        queue, attained = self.running(running)
        return (running.job.priority, -queue, -attained, -running.started_at, -running.job.seq)

    def why(self, job: Job, running: RunningJob) -> str:
        queue, attained = self.running(running)
        return (
            f"preempted by {job.id}: least attained service first (it has attained"
            f" {attained} accelerator-seconds, queue {queue}; {job.id} is in queue"
            f" {self.tier(job)})"
        )


class Qssf:
    """Helios's Quasi-Shortest-Service-First (Hu et al., SC 2021): a job's service is its
    accelerators × its expected run time, and the queue runs the smallest expected service
    first. The expected run time is the rolling mean run time of the tenant's last
    `HISTORY_WINDOW` finished jobs of the same accelerator count; else of its last finished
    jobs of any size; else of the pool's last finished jobs; else `default_runtime_s`; never
    more than the job's walltime (it is stopped there). Priority classes come first, ties go
    by arrival; jobs that do not fit are skipped; it never preempts for service."""

    name = "qssf"
    summary = (
        "Helios QSSF: smallest expected accelerator-seconds first, expected run time from the "
        "tenant's recently finished jobs; non-preemptive"
    )
    discipline = Discipline.BEST_EFFORT
    preemption = False
    arrival_order = False

    DEFAULT_RUNTIME_S = 3600

    def __init__(self, default_runtime_s: int = DEFAULT_RUNTIME_S) -> None:
        if default_runtime_s <= 0:
            raise InvalidField("qssf.default_runtime_s", "must be a positive number of seconds")
        self.default_runtime_s = default_runtime_s

    def head_key(self, job: Job, share_ppm: int) -> tuple[int, ...]:
        return (-job.priority, job.seq)  # not used: `ranking` orders every job

    def ranking(self, service: ServiceHistory, now: int) -> Ranking | None:
        return _QssfRanking(self.default_runtime_s, service)


class _QssfRanking:
    def __init__(self, default_runtime_s: int, service: ServiceHistory) -> None:
        self.default_runtime_s = default_runtime_s
        self.service = service
        self._means: dict[tuple[str, int], int] = {}

    def expected_service(self, job: Job) -> int:
        total = job.gang.total
        key = (job.tenant, total)
        mean = self._means.get(key)
        if mean is None:
            found = self.service.mean_runtime(job.tenant, total)
            mean = self.default_runtime_s if found is None else found
            self._means[key] = mean
        return total * min(mean, job.walltime_s)

    def order(self, pending: Sequence[Job]) -> Iterable[Job]:
        return _by_priority(sorted(pending, key=self.expected_service))

    def tier(self, job: Job) -> int:
        return 0

    def displaces(self, job: Job, running: RunningJob) -> bool:
        return False

    def victim_key(self, running: RunningJob) -> tuple[int, ...]:
        return victim_order(running)

    def why(self, job: Job, running: RunningJob) -> str:
        return f"preempted by {job.id}"
