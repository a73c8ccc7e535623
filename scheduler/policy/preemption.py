"""Which running jobs to preempt first."""

from __future__ import annotations

from scheduler.domain.jobs import RunningJob


def victim_order(running: RunningJob) -> tuple[int, int, int]:
    """Lowest priority first; among equals the most recently started (it loses the least work)."""
    return (running.job.priority, -running.started_at, -running.job.seq)
