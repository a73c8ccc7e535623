"""The kinds of job events the coordinator appends to the event log (`Store.events`), which
watchers read and resume from. `submitted` is written by the store itself."""

from __future__ import annotations

from scheduler.store.records import SUBMITTED

ADMITTED = "admitted"  # data: attempt, model, zone, workers, approval
STARTED = "started"  # data: attempt
PROGRESS = "progress"  # data: attempt, progress_bp
CHECKPOINT = "checkpoint"  # data: attempt, progress_bp
PREEMPTED = "preempted"  # data: attempt, cause, by_job, message
REQUEUED = "requeued"  # data: attempt, reason_code, reason, failures
SUCCEEDED = "succeeded"  # data: attempt
FAILED = "failed"  # data: attempt, reason_code, reason, failures
CANCELLED = "cancelled"  # data: attempt, actor
REJECTED = "rejected"  # data: reason_code, reason

ALL = (
    SUBMITTED,
    ADMITTED,
    STARTED,
    PROGRESS,
    CHECKPOINT,
    PREEMPTED,
    REQUEUED,
    SUCCEEDED,
    FAILED,
    CANCELLED,
    REJECTED,
)
