"""What an executor refuses. Nothing is launched or stopped when one of these is raised."""

from __future__ import annotations

from scheduler.domain.errors import DomainError


class ExecutorError(DomainError):
    """Base of the executor's errors (also: a closed executor)."""


class AttemptConflict(ExecutorError):
    """A launch names an attempt that cannot run now: an older attempt of the job still runs, or
    a newer one was already launched. Two live attempts of one job would double-spend capacity
    and bill twice."""

    def __init__(self, job_id: str, attempt: int, message: str) -> None:
        super().__init__(f"job {job_id} attempt {attempt}: {message}")
        self.job_id = job_id
        self.attempt = attempt


class UnknownAttempt(ExecutorError, LookupError):
    """A test hook names a job with no live attempt."""


class ExecutorClosed(ExecutorError):
    """The executor was closed; it launches, stops and reports nothing more."""
