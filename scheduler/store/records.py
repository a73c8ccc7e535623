"""The values a store speaks: job records, events, audit records and one commit's writes.

A `Commit` is everything one scheduling cycle (or one executor report) decided, written in one
transaction: the new values of the jobs it touched, the ledger postings it made, the events it
emits and the audit records it owes. Event `data` and audit `details` are JSON values; the
store gives back what JSON keeps (tuples come back as lists)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from scheduler.domain.frozen import quick_init
from scheduler.domain.jobs import Job, JobState, Placement
from scheduler.ledger.book import Posting

SUBMITTED = "submitted"
"""The event kind `Store.submit` writes for every job it creates."""

SCHEDULER = "scheduler"
"""The actor of audit records the scheduler itself causes (not an administrator)."""

# Audit actions the store writes by itself.
NODE_PUT = "node.put"
NODE_STATE = "node.state"
NODE_REMOVE = "node.remove"
TENANT_PUT = "tenant.put"
PROGRAM_PUT = "program.put"
APPROVAL_PUT = "approval.put"
CROSS_BORDER_PLACEMENT = "placement.cross-border"
CROSS_BORDER_STOP = "placement.approval-ended"


@quick_init
@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as stored: what was submitted, and where it stands now.

    `attempt` counts starts (0 before the first admission; each admission of a requeued job is
    a new attempt, as the ledger's attempt postings are). `reason_code` / `reason` say why the
    job waits, was rejected or ended (a `ReasonCode` value or an executor's cause). `failures`
    counts the attempts that ended in failure or with a lost node (the coordinator enforces its
    retry limit with it)."""

    job: Job
    state: JobState
    attempt: int
    placement: Placement | None
    started_at: int | None
    ended_at: int | None
    reason_code: str | None
    reason: str | None
    updated_at: int
    failures: int = 0

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def tenant(self) -> str:
        return self.job.tenant

    @property
    def client_key(self) -> str | None:
        return self.job.client_key

    def change(self, **moved: Any) -> JobChange:
        """The record's current values as a change, with the fields named in `moved` (fields of
        `JobChange` but `job_id`) set to the values given: `dataclasses.replace` of
        `as_change()`, without its per-field machinery (every commit's changes come here)."""
        unknown = moved.keys() - _MOVABLE
        if unknown:
            raise TypeError(f"JobChange has no field(s) {', '.join(sorted(unknown))} to change")
        get = moved.get
        return JobChange(
            self.job.id,
            get("state", self.state),
            get("attempt", self.attempt),
            get("placement", self.placement),
            get("started_at", self.started_at),
            get("ended_at", self.ended_at),
            get("reason_code", self.reason_code),
            get("reason", self.reason),
            get("failures", self.failures),
        )

    def as_change(self) -> JobChange:
        """The record's current values as a change."""
        return self.change()

    def changed(self, change: JobChange, at: int) -> JobRecord:
        return JobRecord(
            self.job,
            change.state,
            change.attempt,
            change.placement,
            change.started_at,
            change.ended_at,
            change.reason_code,
            change.reason,
            at,
            change.failures,
        )

    @classmethod
    def submitted(cls, job: Job, at: int) -> JobRecord:
        return cls(job, JobState.QUEUED, 0, None, None, None, None, None, at, 0)


@quick_init
@dataclass(frozen=True, slots=True)
class JobChange:
    """The full new values of one job's mutable fields (not a diff: absent means None)."""

    job_id: str
    state: JobState
    attempt: int
    placement: Placement | None = None
    started_at: int | None = None
    ended_at: int | None = None
    reason_code: str | None = None
    reason: str | None = None
    failures: int = 0


_MOVABLE = frozenset(f.name for f in fields(JobChange)) - {"job_id"}


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the append-only event log. `seq` is strictly increasing and never reused,
    so a watcher resumes with `events(after_seq=last seen)`."""

    seq: int
    at: int
    kind: str
    job_id: str | None
    tenant: str | None
    data: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append; the store numbers it."""

    kind: str
    job_id: str | None = None
    tenant: str | None = None
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who (`actor`) did what (`action`, e.g. `node.state`) to what (`subject`), when (`at`)."""

    seq: int
    at: int
    actor: str
    action: str
    subject: str
    details: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class NewAudit:
    actor: str
    action: str
    subject: str
    details: Mapping[str, object] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """`created` is False when the job's (tenant, client key) was already known: `job_id` is
    then the id of the job submitted first, and nothing was written."""

    job_id: str
    created: bool


@dataclass(frozen=True, slots=True)
class FairShareUsage:
    """Every tenant's decayed fair-share usage (TFLOP-seconds) as accrued up to `at`: what a
    restarted coordinator starts from instead of zero."""

    at: int
    usage: Mapping[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Commit:
    """One cycle's (or one executor report's) writes, applied all or nothing at `at`.
    `fair_share`, when set, replaces the stored fair-share usage."""

    at: int
    changes: tuple[JobChange, ...] = ()
    postings: tuple[Posting, ...] = ()
    events: tuple[NewEvent, ...] = ()
    audits: tuple[NewAudit, ...] = ()
    fair_share: FairShareUsage | None = None
