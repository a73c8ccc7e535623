"""The decisions every store makes the same way, as functions of what it already holds.

Each store validates a write with these before it changes anything, so a refused write leaves
it as it was, and the memory and SQLite stores cannot drift apart on what they accept."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import Job
from scheduler.domain.nodes import Node, NodeState
from scheduler.ledger.book import Posting, PostingKey
from scheduler.store.codec import JsonObject, dumps, encode_node, json_value
from scheduler.store.errors import (
    DuplicateJob,
    PostingConflict,
    PostingOutOfOrder,
    UnknownJob,
)
from scheduler.store.records import (
    CROSS_BORDER_PLACEMENT,
    NODE_REMOVE,
    NODE_STATE,
    SCHEDULER,
    Commit,
    FairShareUsage,
    JobRecord,
    NewAudit,
    NewEvent,
    SubmitOutcome,
)


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


V = TypeVar("V", bound=_HasId)


def canonical(value: object, where: str) -> str:
    """Event data or audit details as the JSON text both stores keep (InvalidField if it is not
    JSON)."""
    return dumps(json_value(value, where))


# ---------------------------------------------------------------------- submit


def plan_submit(
    jobs: Sequence[Job],
    *,
    known_key: Callable[[str, str], str | None],
    exists: Callable[[str], bool],
) -> tuple[list[SubmitOutcome], list[Job]]:
    """The outcome of each job of a batch, and the jobs to create.

    A job whose (tenant, client key) is known, in the store or earlier in the batch, gets the
    first job's id and is not created. Any other job whose id is taken raises DuplicateJob."""
    outcomes: list[SubmitOutcome] = []
    new: list[Job] = []
    ids: dict[str, int] = {}
    keys: dict[tuple[str, str], str] = {}
    for i, job in enumerate(jobs):
        if job.client_key is not None:
            key = (job.tenant, job.client_key)
            first = keys.get(key) or known_key(*key)
            if first is not None:
                outcomes.append(SubmitOutcome(first, False))
                continue
            keys[key] = job.id
        if job.id in ids:
            raise DuplicateJob(f"jobs[{i}].id", f"job {job.id!r} is also jobs[{ids[job.id]}]")
        if exists(job.id):
            raise DuplicateJob(f"jobs[{i}].id", f"job {job.id!r} already exists")
        ids[job.id] = i
        new.append(job)
        outcomes.append(SubmitOutcome(job.id, True))
    return outcomes, new


# ---------------------------------------------------------------------- commit


@dataclass(frozen=True, slots=True)
class CommitPlan:
    """What a valid commit writes: each changed job's final record, the postings that are new
    (in order), and the events and audit records with their JSON already made."""

    records: tuple[JobRecord, ...]
    postings: tuple[Posting, ...]
    events: tuple[tuple[NewEvent, str], ...]
    audits: tuple[tuple[NewAudit, str], ...]


def check_fair_share(fair_share: FairShareUsage) -> None:
    for tenant, usage in fair_share.usage.items():
        where = f"commit.fair_share.usage.{tenant}"
        if not tenant:
            raise InvalidField(where, "names no tenant")
        if isinstance(usage, bool) or not isinstance(usage, int) or usage < 0:
            raise InvalidField(where, f"must be a non-negative integer, not {usage!r}")


def plan_commit(
    commit: Commit,
    *,
    record: Callable[[str], JobRecord | None],
    known: Callable[[str], bool],
    last_posting_seq: int,
    posting: Callable[[PostingKey], Posting | None],
) -> CommitPlan:
    """Validate `commit` against the store's current records and postings; raise before
    anything is written (UnknownJob, PostingOutOfOrder, PostingConflict, InvalidField).

    `record` gives a changed job's stored record; `known` says whether a job an event names is
    stored (an event needs no record, so a store need not build one)."""
    if commit.fair_share is not None:
        check_fair_share(commit.fair_share)
    records: dict[str, JobRecord] = {}
    unknown: list[str] = []
    audits: list[tuple[NewAudit, str]] = []
    for i, change in enumerate(commit.changes):
        if change.attempt < 0:
            raise InvalidField(f"commit.changes[{i}].attempt", "must not be negative")
        if change.failures < 0:
            raise InvalidField(f"commit.changes[{i}].failures", "must not be negative")
        before = records.get(change.job_id) or record(change.job_id)
        if before is None:
            unknown.append(change.job_id)
            continue
        after = before.changed(change, commit.at)
        records[change.job_id] = after
        audit = cross_border_audit(before, after)
        if audit is not None:
            audits.append((audit, canonical(audit.details, f"commit.changes[{i}]")))
    events: list[tuple[NewEvent, str]] = []
    for i, event in enumerate(commit.events):
        if event.job_id is not None and event.job_id not in records and not known(event.job_id):
            unknown.append(event.job_id)
        events.append((event, canonical(event.data, f"commit.events[{i}].data")))
    if unknown:
        names = ", ".join(sorted(set(unknown)))
        raise UnknownJob(f"commit names unknown jobs: {names}; nothing was written")
    explicit = [
        (audit, canonical(audit.details, f"commit.audits[{i}].details"))
        for i, audit in enumerate(commit.audits)
    ]
    return CommitPlan(
        tuple(records.values()),
        tuple(plan_postings(commit.postings, last_seq=last_posting_seq, find=posting)),
        tuple(events),
        tuple(explicit + audits),
    )


def plan_postings(
    postings: Iterable[Posting], *, last_seq: int, find: Callable[[PostingKey], Posting | None]
) -> list[Posting]:
    """The postings to append. A posting whose key is stored (or earlier in the batch) with the
    same content is a retry and is skipped; with other content it raises PostingConflict. Every
    other posting must carry the next seq, so the stored log replays as the ledger was."""
    out: list[Posting] = []
    batch: dict[PostingKey, Posting] = {}
    expected = last_seq + 1
    for i, new in enumerate(postings):
        existing = batch.get(new.key) or find(new.key)
        if existing is not None:
            if existing.same_content(new):
                continue
            raise PostingConflict(
                f"commit.postings[{i}]: {new.key} is already posted as #{existing.seq}"
                " with other content"
            )
        if new.seq != expected:
            raise PostingOutOfOrder(
                f"commit.postings[{i}]: posting #{new.seq} ({new.key}) where #{expected}"
                " was expected"
            )
        batch[new.key] = new
        out.append(new)
        expected += 1
    return out


def cross_border_audit(before: JobRecord, after: JobRecord) -> NewAudit | None:
    """The audit record a change owes when it places a job outside its data's zone under an
    approval: once per new placement (a running job reported again owes nothing)."""
    placement = after.placement
    if placement is None or placement.approval is None:
        return None
    if before.placement == placement and before.attempt == after.attempt:
        return None
    details: JsonObject = {
        "tenant": after.tenant,
        "attempt": after.attempt,
        "approval": placement.approval,
        "from_zone": after.job.data_origin.value,
        "to_zone": placement.zone.value,
        "model": placement.model,
        "nodes": sorted(placement.nodes),
    }
    return NewAudit(SCHEDULER, CROSS_BORDER_PLACEMENT, after.id, details)


# ---------------------------------------------------------------------- administration


def plan_puts(
    items: Iterable[V],
    *,
    what: str,
    action: str,
    actor: str,
    current: Callable[[str], V | None],
    encode: Callable[[V], JsonObject],
) -> list[tuple[V, NewAudit]]:
    """The items of a put that change something, each with its audit record (old and new
    value). An item equal to the stored one is not written and owes no audit."""
    if not actor:
        raise InvalidField("actor", "must name who makes the change")
    seen: dict[str, int] = {}
    out: list[tuple[V, NewAudit]] = []
    for i, item in enumerate(items):
        if item.id in seen:
            raise InvalidField(f"{what}[{i}].id", f"{item.id!r} is also {what}[{seen[item.id]}]")
        seen[item.id] = i
        old = current(item.id)
        if old == item:
            continue
        details: JsonObject = {"old": None if old is None else encode(old), "new": encode(item)}
        out.append((item, NewAudit(actor, action, item.id, details)))
    return out


def node_state_audit(node: Node, state: NodeState, actor: str) -> NewAudit:
    if not actor:
        raise InvalidField("actor", "must name who makes the change")
    return NewAudit(actor, NODE_STATE, node.id, {"from": node.state.value, "to": state.value})


def node_remove_audit(node: Node, actor: str) -> NewAudit:
    if not actor:
        raise InvalidField("actor", "must name who makes the change")
    return NewAudit(actor, NODE_REMOVE, node.id, {"old": encode_node(node), "new": None})


def check_limit(limit: int) -> None:
    if limit <= 0:
        raise InvalidField("limit", "must be a positive integer")
