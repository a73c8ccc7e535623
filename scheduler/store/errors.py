"""What a store refuses. Nothing is written when one of these is raised."""

from __future__ import annotations

from scheduler.domain.errors import DomainError


class StoreError(DomainError):
    """Base of the store's errors (also: a closed store, an I/O failure of the database)."""


class CorruptStore(StoreError):
    """The file is not a SQLite database, or a stored value cannot be decoded. The message names
    the file (or the row); the file is left as it was."""


class ForeignStore(StoreError):
    """The file is a SQLite database, but not a scheduler store (another application's id)."""


class NewerSchema(StoreError):
    """The database was written by a newer version of the scheduler than this one."""


class DuplicateJob(StoreError):
    """A submitted job's id is already taken (in the store or earlier in the same batch).
    `field` is the path of the offending value, e.g. `jobs[3].id`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownJob(StoreError, LookupError):
    """A change, event, or paging cursor names a job the store does not hold."""


class UnknownNode(StoreError, LookupError):
    """A node state change names a node the store does not hold."""


class PostingOutOfOrder(StoreError):
    """A new posting's `seq` is not the next one after the last stored posting."""


class PostingConflict(StoreError):
    """A posting's key is already stored with other content."""
