"""What the coordinator refuses, beyond bad input (`InvalidField`) and store errors."""

from __future__ import annotations

from scheduler.domain.errors import DomainError


class CoordinatorError(DomainError):
    """Base of the coordinator's own errors."""


class CoordinatorStopped(CoordinatorError):
    """The coordinator was closed, or stopped after an error it cannot repair in place: its
    memory may no longer match the store, so it takes no more work. Restart it; recovery
    rebuilds everything from the store."""


class ChangeRefused(CoordinatorError):
    """An operator's change cannot be made in the pool's present state (a node that still holds
    work, the last node): nothing was changed. The message says what to do first."""


class JobAlreadyEnded(CoordinatorError):
    """The job finished, failed or was rejected before the request: nothing was changed."""

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"job {job_id} already ended ({state})")
        self.job_id = job_id
        self.state = state


def unknown_job_message(job_id: str) -> str:
    """What a lookup of a job that does not exist (or that the caller may not see) says."""
    return f"job_id: no job {job_id!r}"
