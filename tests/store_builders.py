"""Builders for store tests: keyed jobs, job changes, commits, a store's whole visible state, and
a ledger driven through the real money flows."""

from __future__ import annotations

from dataclasses import dataclass, replace

from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Job, JobState, Placement
from scheduler.ledger.book import Ledger, Posting
from scheduler.ledger.flows import actual_split, fund_program, release, reserve, settle, top_up
from scheduler.store.base import Store
from scheduler.store.records import (
    AuditRecord,
    Commit,
    Event,
    JobChange,
    JobRecord,
    NewAudit,
    NewEvent,
)
from tests.builders import ASCEND
from tests.ledger_builders import HOUR, START, a_program, a_split, a_usage


def keyed(job: Job, client_key: str) -> Job:
    """`job` submitted with an idempotency key."""
    return replace(job, client_key=client_key)


def on(
    *workers: tuple[str, int],
    zone: Jurisdiction = Jurisdiction.MAINLAND,
    approval: str | None = None,
    model: str = ASCEND,
) -> Placement:
    return Placement(model, zone, tuple(workers), approval)


def admitted(job_id: str, attempt: int, placement: Placement) -> JobChange:
    return JobChange(job_id, JobState.ADMITTED, attempt, placement)


def running(job_id: str, attempt: int, placement: Placement, started_at: int) -> JobChange:
    return JobChange(job_id, JobState.RUNNING, attempt, placement, started_at)


def commit(
    at: int,
    *changes: JobChange,
    postings: tuple[Posting, ...] = (),
    events: tuple[NewEvent, ...] = (),
    audits: tuple[NewAudit, ...] = (),
) -> Commit:
    return Commit(at=at, changes=changes, postings=postings, events=events, audits=audits)


@dataclass(frozen=True)
class Seen:
    """Everything a store shows, to compare before and after a refused write."""

    jobs: list[JobRecord]
    postings: list[Posting]
    events: list[Event]
    audit: list[AuditRecord]
    last_event_seq: int


def everything(store: Store) -> Seen:
    return Seen(
        store.jobs(limit=10_000),
        store.postings(),
        store.events(limit=10_000),
        store.audit(),
        store.last_event_seq(),
    )


SZ = a_program("sz", 3000)
HK_LAB = "lab"


def money_story() -> list[list[Posting]]:
    """A ledger's postings, cycle by cycle: programs funded and a tenant topped up; job j1
    attempt 1 reserved, then settled for 40 minutes of use; attempt 2 reserved and released
    (preempted before it started); j2 reserved and settled at the full estimate."""
    ledger = Ledger()
    cycles: list[list[Posting]] = []

    def cycle(*postings: Posting) -> None:
        cycles.append(list(postings))

    cycle(fund_program(ledger, SZ), top_up(ledger, HK_LAB, SZ.currency, 50_000, "pay-1", START))
    estimate = a_split(10_000, ("sz", 3000))
    cycle(reserve(ledger, "j1", 1, HK_LAB, estimate, START + 10))
    usage = a_usage(HK_LAB, seconds=40 * 60)
    cycle(settle(ledger, "j1", 1, usage, actual_split(estimate, usage.cost), START + HOUR))
    cycle(
        reserve(ledger, "j1", 2, HK_LAB, estimate, START + HOUR + 5),
        reserve(ledger, "j2", 1, HK_LAB, estimate, START + HOUR + 5),
    )
    full = a_usage(HK_LAB, seconds=HOUR)
    cycle(
        release(ledger, "j1", 2, START + HOUR + 60),
        settle(ledger, "j2", 1, full, actual_split(estimate, full.cost), START + 2 * HOUR),
    )
    assert ledger.check() == []
    return cycles
