"""The in-memory store: for tests and the simulator. "Durable" means: visible to every later call
on this object; nothing survives the process."""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from scheduler.domain.jobs import Job, JobState
from scheduler.domain.nodes import Node, NodeState
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import Tenant
from scheduler.ledger.book import Posting, PostingKey
from scheduler.ledger.programs import Program
from scheduler.store.base import ACTIVE_STATES, Store
from scheduler.store.codec import (
    JsonObject,
    encode_approval,
    encode_node,
    encode_program,
    encode_tenant,
)
from scheduler.store.errors import StoreError, UnknownJob, UnknownNode
from scheduler.store.records import (
    APPROVAL_PUT,
    NODE_PUT,
    PROGRAM_PUT,
    SUBMITTED,
    TENANT_PUT,
    AuditRecord,
    Commit,
    Event,
    FairShareUsage,
    JobRecord,
    NewAudit,
    SubmitOutcome,
)
from scheduler.store.rules import (
    V,
    canonical,
    check_fair_share,
    check_limit,
    node_remove_audit,
    node_state_audit,
    plan_commit,
    plan_puts,
    plan_submit,
)

# Events and audit records keep their JSON as text, so that what a caller reads is a fresh
# value (as from SQLite) and never aliases the store's own.


@dataclass(frozen=True, slots=True)
class _Event:
    seq: int
    at: int
    kind: str
    job_id: str | None
    tenant: str | None
    data: str

    def read(self) -> Event:
        return Event(self.seq, self.at, self.kind, self.job_id, self.tenant, json.loads(self.data))


@dataclass(frozen=True, slots=True)
class _Audit:
    seq: int
    at: int
    audit: NewAudit
    details: str

    def read(self) -> AuditRecord:
        a = self.audit
        return AuditRecord(
            self.seq, self.at, a.actor, a.action, a.subject, json.loads(self.details)
        )


class MemoryStore(Store):
    def __init__(self) -> None:
        self._fair_share: FairShareUsage | None = None
        self._jobs: dict[str, JobRecord] = {}  # in submission order
        self._position: dict[str, int] = {}
        self._order: list[str] = []
        self._keys: dict[tuple[str, str], str] = {}
        self._last_job_seq: int | None = None  # None: no job yet
        self._nodes: dict[str, Node] = {}
        self._tenants: dict[str, Tenant] = {}
        self._programs: dict[str, Program] = {}
        self._approvals: dict[str, Approval] = {}
        self._postings: list[Posting] = []
        self._posting_keys: dict[PostingKey, Posting] = {}
        self._events: list[_Event] = []
        self._event_seqs: list[int] = []
        self._events_of: dict[str, list[int]] = {}
        self._audit: list[_Audit] = []
        self._closed = False

    # ------------------------------------------------------------------ jobs

    def submit(self, jobs: Sequence[Job], at: int) -> list[SubmitOutcome]:
        self._open()
        outcomes, new = plan_submit(
            jobs,
            known_key=lambda tenant, key: self._keys.get((tenant, key)),
            exists=self._jobs.__contains__,
        )
        for job in new:
            self._jobs[job.id] = JobRecord.submitted(job, at)
            self._position[job.id] = len(self._order)
            self._order.append(job.id)
            if job.client_key is not None:
                self._keys[(job.tenant, job.client_key)] = job.id
            if self._last_job_seq is None or job.seq > self._last_job_seq:
                self._last_job_seq = job.seq
            self._append_event(at, SUBMITTED, job.id, job.tenant, "{}")
        return outcomes

    def job(self, job_id: str) -> JobRecord | None:
        self._open()
        return self._jobs.get(job_id)

    def jobs(
        self,
        *,
        tenant: str | None = None,
        states: Collection[JobState] | None = None,
        after_id: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[JobRecord]:
        self._open()
        check_limit(limit)
        order = self._order
        after = None
        if after_id is not None:
            if after_id not in self._position:
                raise UnknownJob(f"after_id: no job {after_id!r}")
            after = self._position[after_id]
        if newest_first:
            end = len(order) if after is None else after
            ids: Iterable[str] = (order[i] for i in range(end - 1, -1, -1))
        else:
            ids = itertools.islice(order, 0 if after is None else after + 1, None)
        wanted = None if states is None else frozenset(states)
        matches = (
            record
            for record in (self._jobs[job_id] for job_id in ids)
            if (tenant is None or record.tenant == tenant)
            and (wanted is None or record.state in wanted)
        )
        return list(itertools.islice(matches, limit))

    def active_jobs(self) -> list[JobRecord]:
        self._open()
        return [record for record in self._jobs.values() if record.state in ACTIVE_STATES]

    def last_job_seq(self) -> int:
        self._open()
        return -1 if self._last_job_seq is None else self._last_job_seq

    def commit(self, commit: Commit) -> int:
        self._open()
        last = self._postings[-1].seq if self._postings else 0
        fair_share = commit.fair_share
        if fair_share is not None:
            # checked here (as `plan_commit` would, first): one pass in C when it is sound
            usage = fair_share.usage
            if "" in usage or not all(type(v) is int and v >= 0 for v in usage.values()):
                check_fair_share(fair_share)  # raises naming the tenant (or passes an int subclass)
            commit = replace(commit, fair_share=None)
        plan = plan_commit(
            commit,
            record=self._jobs.get,
            known=self._jobs.__contains__,
            last_posting_seq=last,
            posting=self._posting_keys.get,
        )
        # Nothing below can fail: the plan checked everything.
        for record in plan.records:
            self._jobs[record.id] = record
        for posting in plan.postings:
            self._postings.append(posting)
            self._posting_keys[posting.key] = posting
        for event, data in plan.events:
            self._append_event(commit.at, event.kind, event.job_id, event.tenant, data)
        for audit, details in plan.audits:
            self._append_audit(commit.at, audit, details)
        if fair_share is not None:
            self._fair_share = FairShareUsage(fair_share.at, dict(fair_share.usage))
        return self._last_event_seq()

    def fair_share(self) -> FairShareUsage | None:
        self._open()
        return self._fair_share

    # ------------------------------------------------------------------ the pool

    def put_nodes(self, nodes: Iterable[Node], at: int, actor: str) -> None:
        self._put(self._nodes, nodes, "nodes", NODE_PUT, at, actor, encode_node)

    def nodes(self) -> list[Node]:
        self._open()
        return _by_id(self._nodes)

    def set_node_state(self, node_id: str, state: NodeState, at: int, actor: str) -> Node:
        self._open()
        node = self._nodes.get(node_id)
        if node is None:
            raise UnknownNode(f"node {node_id!r} is not in the pool")
        if node.state is state:
            return node
        audit = node_state_audit(node, state, actor)
        changed = node.with_state(state)
        self._nodes[node_id] = changed
        self._append_audit(at, audit, canonical(audit.details, "details"))
        return changed

    def remove_node(self, node_id: str, at: int, actor: str) -> Node:
        self._open()
        node = self._nodes.get(node_id)
        if node is None:
            raise UnknownNode(f"node {node_id!r} is not in the pool")
        audit = node_remove_audit(node, actor)
        details = canonical(audit.details, "details")
        del self._nodes[node_id]
        self._append_audit(at, audit, details)
        return node

    def put_tenants(self, tenants: Iterable[Tenant], at: int, actor: str) -> None:
        self._put(self._tenants, tenants, "tenants", TENANT_PUT, at, actor, encode_tenant)

    def tenants(self) -> list[Tenant]:
        self._open()
        return _by_id(self._tenants)

    def put_programs(self, programs: Iterable[Program], at: int, actor: str) -> None:
        self._put(self._programs, programs, "programs", PROGRAM_PUT, at, actor, encode_program)

    def programs(self) -> list[Program]:
        self._open()
        return _by_id(self._programs)

    def put_approvals(self, approvals: Iterable[Approval], at: int, actor: str) -> None:
        self._put(self._approvals, approvals, "approvals", APPROVAL_PUT, at, actor, encode_approval)

    def approvals(self) -> list[Approval]:
        self._open()
        return _by_id(self._approvals)

    def _put(
        self,
        table: dict[str, V],
        items: Iterable[V],
        what: str,
        action: str,
        at: int,
        actor: str,
        encode: Callable[[V], JsonObject],
    ) -> None:
        self._open()
        plan = plan_puts(
            items, what=what, action=action, actor=actor, current=table.get, encode=encode
        )
        logged = [(item, audit, canonical(audit.details, "details")) for item, audit in plan]
        for item, audit, details in logged:
            table[item.id] = item
            self._append_audit(at, audit, details)

    # ------------------------------------------------------------------ ledger, events, audit

    def postings(self, after_seq: int = 0) -> list[Posting]:
        self._open()
        return [posting for posting in self._postings if posting.seq > after_seq]

    def events(
        self, after_seq: int = 0, *, job_id: str | None = None, limit: int = 1000
    ) -> list[Event]:
        self._open()
        check_limit(limit)
        if job_id is None:
            start = bisect.bisect_right(self._event_seqs, after_seq)
            # A slice, not islice: islice walks the list from its start on every read.
            found: Iterable[_Event] = self._events[start : start + limit]
        else:
            indexes = self._events_of.get(job_id, [])
            later = (self._events[i] for i in indexes if self._events[i].seq > after_seq)
            found = itertools.islice(later, limit)
        return [event.read() for event in found]

    def last_event(self, job_id: str, kinds: Collection[str]) -> Event | None:
        self._open()
        wanted = frozenset(kinds)
        for index in reversed(self._events_of.get(job_id, [])):
            if self._events[index].kind in wanted:
                return self._events[index].read()
        return None

    def last_event_seq(self) -> int:
        self._open()
        return self._last_event_seq()

    def audit(
        self,
        after_seq: int = 0,
        *,
        action: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        self._open()
        if limit is not None:
            check_limit(limit)
        matching = (
            rec.read()
            for rec in self._audit
            if rec.seq > after_seq
            and (action is None or rec.audit.action == action)
            and (subject is None or rec.audit.subject == subject)
        )
        return list(itertools.islice(matching, limit))

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        self._closed = True

    def _open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    # ------------------------------------------------------------------ appending

    def _last_event_seq(self) -> int:
        return self._event_seqs[-1] if self._event_seqs else 0

    def _append_event(
        self, at: int, kind: str, job_id: str | None, tenant: str | None, data: str
    ) -> None:
        seq = self._last_event_seq() + 1
        if job_id is not None:
            self._events_of.setdefault(job_id, []).append(len(self._events))
        self._events.append(_Event(seq, at, kind, job_id, tenant, data))
        self._event_seqs.append(seq)

    def _append_audit(self, at: int, audit: NewAudit, details: str) -> None:
        seq = self._audit[-1].seq + 1 if self._audit else 1
        self._audit.append(_Audit(seq, at, audit, details))


def _by_id(table: dict[str, V]) -> list[V]:
    return [table[key] for key in sorted(table)]
