"""Closing an attempt in the ledger when it ends, however it ends."""

from __future__ import annotations

from scheduler.domain.jobs import Job, Placement
from scheduler.domain.pool import Pool
from scheduler.ledger.book import Ledger, Posting
from scheduler.ledger.flows import actual_split, is_open, release, reservation, settle
from scheduler.ledger.usage import placement_usage


def close_attempt(
    ledger: Ledger,
    pool: Pool,
    job: Job,
    attempt: int,
    placement: Placement | None,
    started_at: int | None,
    ended_at: int,
) -> Posting | None:
    """Settle the attempt for the time it ran, or release its reservation when it never started.
    Returns the posting, or None when there was nothing to close (no money configured, or
    closed already: closing twice never bills twice).

    An attempt is billed for at most its walltime: the coordinator stops it there, and what it
    runs over while the stop takes effect is the pool's slack, not the tenant's bill."""
    if not is_open(ledger, job.id, attempt):
        return None
    if started_at is None or placement is None:
        return release(ledger, job.id, attempt, ended_at)
    seconds = min(max(0, ended_at - started_at), job.walltime_s)
    usage = placement_usage(pool, job.tenant, placement, seconds)
    reserved = reservation(ledger, job.id, attempt)
    return settle(ledger, job.id, attempt, usage, actual_split(reserved, usage.cost), ended_at)
