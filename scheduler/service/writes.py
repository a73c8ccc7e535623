"""One tick's writes and the actions that follow them.

The coordinator gathers everything a step decides here: the jobs' new values, events and audit
records (written in one store transaction, with the ledger's new postings), then the executor
calls that may only happen once that transaction is durable (principle 3: commit, then act).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.domain.jobs import Job, Placement
from scheduler.executor.base import StopReason
from scheduler.store.records import JobChange, NewAudit, NewEvent


@dataclass(frozen=True, slots=True)
class Launch:
    job: Job
    attempt: int
    placement: Placement


@dataclass(frozen=True, slots=True)
class Stop:
    job_id: str
    attempt: int
    reason: StopReason


@dataclass(slots=True)
class Writes:
    at: int
    changes: list[JobChange] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    audits: list[NewAudit] = field(default_factory=list)
    launches: list[Launch] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    nodes_lost: list[str] = field(default_factory=list)

    def event(self, kind: str, job: Job, **data: object) -> None:
        self.events.append(NewEvent(kind, job.id, job.tenant, data))

    @property
    def empty(self) -> bool:
        return not (self.changes or self.events or self.audits or self.launches or self.stops)
