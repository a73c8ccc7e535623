"""Queue policies: the order pending jobs are considered in, and what a blocked job does to
the jobs behind it."""

from __future__ import annotations

import enum
from typing import Protocol

from scheduler.domain.jobs import Job


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


class Fifo:
    name = "fifo"
    summary = "strict arrival order; the oldest job that does not fit blocks all others"
    discipline = Discipline.STRICT
    preemption = False
    arrival_order = True

    def head_key(self, job: Job, share_ppm: int) -> tuple[int, ...]:
        return (job.seq,)


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


class Backfill(PriorityFairShare):
    name = "backfill"
    summary = (
        "priority-fairshare order with EASY backfill: the first blocked job holds a reservation "
        "and later jobs start only if their walltime cannot delay it"
    )
    discipline = Discipline.BACKFILL
