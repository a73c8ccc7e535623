"""How far a job got, as its workers reported it: read from the event log (`progress` and
`checkpoint` events, data {attempt, progress_bp}), never kept in memory, so a restarted
coordinator shows the same figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scheduler.domain.jobs import JobState
from scheduler.service import event_kinds as ek
from scheduler.store.records import Event, JobRecord

FULL_BP = 10_000
"""All of the work, in basis points."""

REPORT_KINDS = (ek.PROGRESS, ek.CHECKPOINT)
"""The events that carry a figure; a checkpoint is a progress report that can be resumed from."""


@dataclass(frozen=True, slots=True)
class JobProgress:
    """`progress_bp` (0..10000) of attempt `attempt`, reported at `at` (epoch seconds: when the
    coordinator recorded the report; for a succeeded job, when it ended). `checkpoint_bp`: the
    figure of the newest checkpoint of any attempt, None if none: a requeued job resumes from
    it, so it may belong to an earlier attempt than `progress_bp`."""

    attempt: int
    progress_bp: int
    at: int
    checkpoint_bp: int | None


def job_progress(
    record: JobRecord, newest: Event | None, checkpoint: Event | None
) -> JobProgress | None:
    """The job's progress from its newest progress-or-checkpoint event and its newest checkpoint.

    A report counts only for the job's current attempt (for an ended job, its last one): a new
    attempt starts over, and until it reports there is nothing to show. A succeeded job did all
    of its work, whatever its last report said."""
    checkpoint_bp = None if checkpoint is None else _bp(checkpoint)
    if record.state is JobState.SUCCEEDED:
        at = record.ended_at if record.ended_at is not None else record.updated_at
        return JobProgress(record.attempt, FULL_BP, at, checkpoint_bp)
    if newest is None or _int(newest.data, "attempt") != record.attempt:
        return None
    progress_bp = _bp(newest)
    if progress_bp is None:  # an executor that broke the port's promise of a figure
        return None
    return JobProgress(record.attempt, progress_bp, newest.at, checkpoint_bp)


def _bp(event: Event) -> int | None:
    value = _int(event.data, "progress_bp")
    # The executor port promises 0..10000; clamp rather than show a figure past either end if
    # an executor breaks that promise (the event log keeps what it said).
    return None if value is None else min(FULL_BP, max(0, value))


def _int(data: Mapping[str, object], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
