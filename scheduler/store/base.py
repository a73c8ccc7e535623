"""The store port: everything the coordinator must not lose.

Implementations: `MemoryStore` (tests, simulator) and `SqliteStore` (the default). One contract
suite (tests/contract/test_store_contract.py) runs unchanged against both; a new implementation
passes it before it is used.

Every write either happens completely or not at all, and raises from the `errors` tree when it
is refused. Values come back equal to what was written (event data and audit details as JSON
keeps them).

Threads. The coordinator owns its store. Calls on one store object must not overlap: a caller
that shares a store between threads serializes its calls (the coordinator holds a lock around
each one). A store may then be called from any thread, not only the one that opened it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from types import TracebackType
from typing import Self

from scheduler.domain.jobs import Job, JobState
from scheduler.domain.nodes import Node, NodeState
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import Tenant
from scheduler.ledger.book import Posting
from scheduler.ledger.programs import Program
from scheduler.store.records import (
    AuditRecord,
    Commit,
    Event,
    FairShareUsage,
    JobRecord,
    SubmitOutcome,
)

ACTIVE_STATES = frozenset(state for state in JobState if not state.terminal)
"""What a coordinator reloads on start: queued, admitted, running and preempted jobs."""


class Store(ABC):
    """Jobs (with attempts), the pool's nodes, tenants (with their quotas), programs and
    approvals, the ledger's postings, an append-only event log, idempotency keys and the audit
    trail."""

    # ------------------------------------------------------------------ jobs

    @abstractmethod
    def submit(self, jobs: Sequence[Job], at: int) -> list[SubmitOutcome]:
        """Store a batch of new jobs, all or nothing; one outcome per job, in order.

        MUST return, for a job whose (tenant, client key) was seen before (in the store or
        earlier in the batch), the first job's id with created=False, and write nothing for it.
        MUST store every other job QUEUED, attempt 0, `updated_at` = `at`, and append one
        `submitted` event for it (job id and tenant set).
        MUST raise DuplicateJob naming the field (`jobs[i].id`) when a new job's id is taken, in
        the store or in the batch, and then write nothing at all.
        MUST be durable when it returns: a process killed right after still has the jobs."""

    @abstractmethod
    def job(self, job_id: str) -> JobRecord | None:
        """The job's record, or None."""

    @abstractmethod
    def jobs(
        self,
        *,
        tenant: str | None = None,
        states: Collection[JobState] | None = None,
        after_id: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[JobRecord]:
        """Up to `limit` jobs, filtered by tenant and states, in submission order (newest
        first with `newest_first`).

        MUST order by submission (a stable order that never changes), so paging with
        `after_id` = the last id of the previous page visits every match exactly once even
        while jobs are added or change state (newest first: every match there was when paging
        began; later jobs are newer than the first page). MUST raise UnknownJob for an unknown
        `after_id` and InvalidField for a limit below 1."""

    @abstractmethod
    def active_jobs(self) -> list[JobRecord]:
        """Every job whose state is not terminal (`ACTIVE_STATES`), in submission order."""

    @abstractmethod
    def last_job_seq(self) -> int:
        """The highest `Job.seq` of any stored job, -1 when the store holds none. A coordinator
        numbers new jobs after it on start, so ids and arrival order stay unique across
        restarts.

        MUST count every stored job, whatever its state."""

    @abstractmethod
    def commit(self, commit: Commit) -> int:
        """Apply one cycle's writes in ONE transaction, all or nothing; return the last event
        seq (the current last one when the commit has no events).

        MUST set each changed job's fields to the change's values and `updated_at` to
        `commit.at` (several changes of one job apply in order).
        MUST append each posting whose key is new with `seq` = last stored seq + 1, else raise
        PostingOutOfOrder; MUST treat a posting whose key is stored with the same content
        (`Posting.same_content`) as a no-op, and raise PostingConflict for other content.
        MUST replace the stored fair-share usage with `commit.fair_share` when it is set, and
        leave it as it was when it is None; MUST raise InvalidField naming
        `commit.fair_share.usage.<tenant>` for a negative usage or an empty tenant.
        MUST append the events (numbered as `events` says) and the audit records, and add one
        `placement.cross-border` audit record (actor `scheduler`) for each change that gives a
        job a new placement under an approval.
        MUST raise UnknownJob when a change or an event names a job the store does not hold.
        MUST leave jobs, postings, events, audit records and fair-share usage exactly as they
        were when it raises."""

    @abstractmethod
    def fair_share(self) -> FairShareUsage | None:
        """The fair-share usage the last commit that carried one stored, or None if none did."""

    # ------------------------------------------------------------------ the pool

    @abstractmethod
    def put_nodes(self, nodes: Iterable[Node], at: int, actor: str) -> None:
        """Add or replace nodes by id. MUST write a `node.put` audit record (old and new value)
        for each node that changes, none for a node put unchanged."""

    @abstractmethod
    def nodes(self) -> list[Node]:
        """Every node, by id."""

    @abstractmethod
    def set_node_state(self, node_id: str, state: NodeState, at: int, actor: str) -> Node:
        """Change a node's state (cordon, drain, down, up) and return the node.

        MUST write a `node.state` audit record (from, to) when the state changes; MUST raise
        UnknownNode for an unknown node."""

    @abstractmethod
    def remove_node(self, node_id: str, at: int, actor: str) -> Node:
        """Take a node out of the pool for good and return it as it was.

        MUST write a `node.remove` audit record (the node's last value); MUST raise UnknownNode
        for an unknown node. Jobs, postings and events that name the node are kept."""

    @abstractmethod
    def put_tenants(self, tenants: Iterable[Tenant], at: int, actor: str) -> None:
        """Add or replace tenants (with their quotas) by id; audited as `tenant.put`, as
        `put_nodes` says."""

    @abstractmethod
    def tenants(self) -> list[Tenant]:
        """Every tenant, by id."""

    @abstractmethod
    def put_programs(self, programs: Iterable[Program], at: int, actor: str) -> None:
        """Add or replace programs by id; audited as `program.put`, as `put_nodes` says."""

    @abstractmethod
    def programs(self) -> list[Program]:
        """Every program, by id."""

    @abstractmethod
    def put_approvals(self, approvals: Iterable[Approval], at: int, actor: str) -> None:
        """Add or replace cross-border approvals by id; audited as `approval.put`, as
        `put_nodes` says."""

    @abstractmethod
    def approvals(self) -> list[Approval]:
        """Every approval, by id."""

    # ------------------------------------------------------------------ ledger, events, audit

    @abstractmethod
    def postings(self, after_seq: int = 0) -> list[Posting]:
        """The stored postings with seq > `after_seq`, in seq order. From 0, MUST replay
        (`Ledger.replay`) into the ledger that produced them."""

    @abstractmethod
    def events(
        self, after_seq: int = 0, *, job_id: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Up to `limit` events with seq > `after_seq` (of one job if `job_id`), in seq order.

        MUST number events strictly increasing, never reusing a number, also across reopening
        a durable store and after refused writes."""

    @abstractmethod
    def last_event(self, job_id: str, kinds: Collection[str]) -> Event | None:
        """The job's newest event (highest seq) of one of `kinds`, or None: none of those kinds,
        an unknown job, or no kinds at all. One indexed lookup, however long the job's log is
        (a `GetJob` asks for it on every read)."""

    @abstractmethod
    def last_event_seq(self) -> int:
        """The highest event seq ever written (0 for a new store)."""

    @abstractmethod
    def audit(
        self,
        after_seq: int = 0,
        *,
        action: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """The audit records with seq > `after_seq` (of one action, about one subject, if
        given), in order; the first `limit` of them if given (a positive integer)."""

    # ------------------------------------------------------------------ lifetime

    @abstractmethod
    def close(self) -> None:
        """Release the store. MUST be idempotent; every other call afterwards raises
        StoreError."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
