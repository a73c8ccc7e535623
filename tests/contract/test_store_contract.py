"""The store contract: every test runs unchanged against the memory and the SQLite store.

A new Store implementation is added to the `store` fixture and must pass all of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import JobState
from scheduler.domain.nodes import NodeState
from scheduler.ledger.book import Ledger
from scheduler.store.base import ACTIVE_STATES, Store
from scheduler.store.errors import (
    DuplicateJob,
    PostingConflict,
    PostingOutOfOrder,
    StoreError,
    UnknownJob,
    UnknownNode,
)
from scheduler.store.memory import MemoryStore
from scheduler.store.records import (
    APPROVAL_PUT,
    CROSS_BORDER_PLACEMENT,
    NODE_PUT,
    NODE_REMOVE,
    NODE_STATE,
    PROGRAM_PUT,
    SCHEDULER,
    SUBMITTED,
    TENANT_PUT,
    Commit,
    FairShareUsage,
    JobChange,
    NewAudit,
    NewEvent,
    SubmitOutcome,
)
from scheduler.store.sqlite import SqliteStore
from tests.builders import H800, a_job, a_pool, a_program, a_tenant, an_approval
from tests.store_builders import (
    admitted,
    commit,
    everything,
    keyed,
    money_story,
    on,
    running,
)

T0 = 1_767_196_800
ADMIN = "ops@pool"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "s.db")
    yield made
    made.close()


def submitted(store: Store, *job_ids: str, at: int = T0) -> None:
    outcomes = store.submit([a_job(job_id).build() for job_id in job_ids], at)
    assert all(outcome.created for outcome in outcomes)


# ---------------------------------------------------------------------- submit


def test_a_submitted_job_reads_back_exactly_queued_before_its_first_attempt(store: Store) -> None:
    job = replace(
        a_job("j1").gang(4, H800, 8).tenant("pcl").programs("sz", "gd").approvals("ap1").build(),
        checkpoint_interval_s=600,
        entrypoint="pcl.llm.pretrain:main",
        min_tflops_fp16=900,
    )
    assert store.submit([job], T0) == [SubmitOutcome("j1", True)]
    record = store.job("j1")
    assert record is not None
    assert record.job == job
    assert (record.state, record.attempt, record.placement) == (JobState.QUEUED, 0, None)
    assert (record.started_at, record.ended_at, record.reason_code, record.reason) == (None,) * 4
    assert (record.updated_at, record.failures) == (T0, 0)
    assert store.job("nobody") is None


def test_each_created_job_gets_one_submitted_event(store: Store) -> None:
    store.submit([a_job("j1").tenant("pcl").build(), a_job("j2").tenant("hku").build()], T0)
    events = store.events()
    assert [(e.kind, e.job_id, e.tenant, e.at) for e in events] == [
        (SUBMITTED, "j1", "pcl", T0),
        (SUBMITTED, "j2", "hku", T0),
    ]
    assert events[0].seq < events[1].seq == store.last_event_seq()


def test_resubmitting_a_client_key_returns_the_first_job_and_writes_nothing(store: Store) -> None:
    store.submit([keyed(a_job("j1").tenant("pcl").build(), "run-7")], T0)
    before = everything(store)
    retry = keyed(a_job("j1-retry").tenant("pcl").build(), "run-7")
    assert store.submit([retry], T0 + 5) == [SubmitOutcome("j1", False)]
    assert store.job("j1-retry") is None
    assert everything(store) == before


def test_a_key_repeated_within_one_batch_creates_one_job(store: Store) -> None:
    jobs = [keyed(a_job(job_id).build(), "same") for job_id in ("a", "b", "c")]
    outcomes = store.submit(jobs, T0)
    assert outcomes == [
        SubmitOutcome("a", True),
        SubmitOutcome("a", False),
        SubmitOutcome("a", False),
    ]
    assert [record.id for record in store.jobs()] == ["a"]


def test_different_tenants_may_use_the_same_key(store: Store) -> None:
    outcomes = store.submit(
        [
            keyed(a_job("j1").tenant("pcl").build(), "k"),
            keyed(a_job("j2").tenant("hku").build(), "k"),
        ],
        T0,
    )
    assert outcomes == [SubmitOutcome("j1", True), SubmitOutcome("j2", True)]
    assert store.submit([keyed(a_job("j3").tenant("hku").build(), "k")], T0) == [
        SubmitOutcome("j2", False)
    ]


def test_a_known_key_wins_over_a_taken_id(store: Store) -> None:
    """A retry may reuse the id it was given: it is answered, not refused."""
    store.submit([keyed(a_job("j1").build(), "k")], T0)
    assert store.submit([keyed(a_job("j1").build(), "k")], T0) == [SubmitOutcome("j1", False)]


def test_a_batch_with_a_taken_id_writes_nothing_and_names_the_field(store: Store) -> None:
    submitted(store, "j1")
    before = everything(store)
    batch = [a_job("new-1").build(), keyed(a_job("new-2").build(), "k"), a_job("j1").build()]
    with pytest.raises(DuplicateJob) as refused:
        store.submit(batch, T0 + 1)
    assert refused.value.field == "jobs[2].id"
    assert everything(store) == before
    # The key of the refused batch was not taken either.
    assert store.submit([keyed(a_job("new-2").build(), "k")], T0 + 2)[0].created


def test_a_batch_repeating_an_id_writes_nothing(store: Store) -> None:
    before = everything(store)
    with pytest.raises(DuplicateJob) as refused:
        store.submit([a_job("x").build(), a_job("y").build(), a_job("x").build()], T0)
    assert refused.value.field == "jobs[2].id"
    assert "jobs[0]" in str(refused.value)
    assert everything(store) == before


def test_an_empty_batch_is_answered_with_nothing(store: Store) -> None:
    assert store.submit([], T0) == []
    assert store.last_event_seq() == 0


# ---------------------------------------------------------------------- commit


def test_job_changes_and_attempts_persist(store: Store) -> None:
    submitted(store, "j1")
    first = on(("sz-001", 4))
    store.commit(commit(T0 + 10, admitted("j1", 1, first)))
    store.commit(commit(T0 + 20, running("j1", 1, first, started_at=T0 + 20)))
    preempted = JobChange("j1", JobState.PREEMPTED, 1, None, T0 + 20, T0 + 90, "PRIORITY", "j9")
    store.commit(commit(T0 + 90, preempted))
    second = on(("sz-002", 2), ("sz-003", 2))
    store.commit(commit(T0 + 100, admitted("j1", 2, second)))
    record = store.job("j1")
    assert record is not None
    assert record.as_change() == JobChange("j1", JobState.ADMITTED, 2, second)
    assert record.updated_at == T0 + 100
    finished = JobChange("j1", JobState.SUCCEEDED, 2, second, T0 + 101, T0 + 500, None, "done")
    store.commit(commit(T0 + 500, finished))
    record = store.job("j1")
    assert record is not None
    assert record.as_change() == finished
    assert record.job == store.jobs()[0].job


def test_several_changes_of_one_job_apply_in_order(store: Store) -> None:
    submitted(store, "j1")
    placement = on(("sz-001", 1))
    store.commit(commit(T0, admitted("j1", 1, placement), running("j1", 1, placement, T0)))
    record = store.job("j1")
    assert record is not None
    assert (record.state, record.started_at) == (JobState.RUNNING, T0)


def test_commit_returns_the_last_event_seq(store: Store) -> None:
    submitted(store, "j1", "j2")
    last = store.commit(
        commit(T0, events=(NewEvent("admitted", "j1", "t1"), NewEvent("admitted", "j2", "t1")))
    )
    assert last == store.last_event_seq() == store.events()[-1].seq
    assert store.commit(commit(T0 + 1)) == last


def test_a_commit_naming_an_unknown_job_writes_nothing(store: Store) -> None:
    submitted(store, "j1")
    cycles = money_story()
    before = everything(store)
    bad = commit(
        T0,
        admitted("j1", 1, on(("sz-001", 1))),
        admitted("ghost", 1, on(("sz-002", 1))),
        postings=tuple(cycles[0]),
        events=(NewEvent("admitted", "j1"),),
        audits=(NewAudit(ADMIN, "job.priority", "j1"),),
    )
    with pytest.raises(UnknownJob, match="ghost"):
        store.commit(bad)
    assert everything(store) == before


def test_an_event_naming_an_unknown_job_is_refused(store: Store) -> None:
    before = everything(store)
    with pytest.raises(UnknownJob, match="ghost"):
        store.commit(commit(T0, events=(NewEvent("admitted", "ghost"),)))
    assert everything(store) == before


def test_a_commit_with_an_out_of_order_posting_writes_nothing(store: Store) -> None:
    submitted(store, "j1")
    first, _, settlement, *_ = money_story()
    store.commit(commit(T0, postings=tuple(first)))
    before = everything(store)
    skipping = commit(
        T0 + 1,
        admitted("j1", 1, on(("sz-001", 1))),
        postings=tuple(settlement),  # seq 4: reservation #3 was never stored
        events=(NewEvent("admitted", "j1"),),
    )
    with pytest.raises(PostingOutOfOrder, match="#4"):
        store.commit(skipping)
    assert everything(store) == before


def test_reposting_the_same_content_is_a_no_op_and_other_content_a_conflict(store: Store) -> None:
    first, reservation, *_ = money_story()
    store.commit(commit(T0, postings=tuple(first)))
    store.commit(commit(T0, postings=tuple(reservation)))
    # A retry of a cycle carries the same postings again, possibly stamped later.
    again = replace(reservation[0], seq=99, at=reservation[0].at + 60)
    store.commit(commit(T0 + 60, postings=(*first, again)))
    assert store.postings() == [*first, *reservation]
    before = everything(store)
    other = replace(reservation[0], tenant="someone-else")
    with pytest.raises(PostingConflict, match="reserve job j1 attempt 1"):
        store.commit(commit(T0 + 61, postings=(other,)))
    assert everything(store) == before


def test_event_data_that_is_not_json_is_refused(store: Store) -> None:
    submitted(store, "j1")
    before = everything(store)
    with pytest.raises(InvalidField, match=r"commit.events\[1\].data.nodes"):
        store.commit(
            commit(
                T0,
                admitted("j1", 1, on(("n", 1))),
                events=(NewEvent("ok"), NewEvent("bad", data={"nodes": {"n1", "n2"}})),
            )
        )
    assert everything(store) == before


def test_a_negative_attempt_is_refused(store: Store) -> None:
    submitted(store, "j1")
    with pytest.raises(InvalidField, match="attempt"):
        store.commit(commit(T0, JobChange("j1", JobState.QUEUED, -1)))


def test_failures_persist_and_read_back_from_every_query(store: Store) -> None:
    submitted(store, "j1", "j2", "j3")
    placement = on(("sz-001", 1))
    store.commit(commit(T0 + 1, admitted("j1", 1, placement), admitted("j2", 1, placement)))
    # j1 lost its node and waits again; j2 failed for good on its third failure.
    lost = JobChange("j1", JobState.QUEUED, 1, None, T0 + 1, T0 + 50, "NODE_LOST", "sz-001", 1)
    failed = JobChange("j2", JobState.FAILED, 1, None, T0 + 1, T0 + 60, "EXIT", "code 1", 3)
    store.commit(commit(T0 + 60, lost, failed))
    for job_id, change in (("j1", lost), ("j2", failed)):
        record = store.job(job_id)
        assert record is not None
        assert record.failures == change.failures
        assert record.as_change() == change
    assert [(r.id, r.failures) for r in store.jobs()] == [("j1", 1), ("j2", 3), ("j3", 0)]
    assert [(r.id, r.failures) for r in store.active_jobs()] == [("j1", 1), ("j3", 0)]
    # A change carries the full values: built from the record it keeps the count; built
    # afresh it sets 0 (failures is not a diff either).
    again = store.job("j1")
    assert again is not None
    store.commit(commit(T0 + 70, replace(again.as_change(), state=JobState.ADMITTED, attempt=2)))
    assert [(r.id, r.attempt, r.failures) for r in store.active_jobs()] == [
        ("j1", 2, 1),
        ("j3", 0, 0),
    ]
    store.commit(commit(T0 + 80, JobChange("j1", JobState.QUEUED, 2)))
    record = store.job("j1")
    assert record is not None and record.failures == 0


def test_a_negative_failure_count_is_refused_and_writes_nothing(store: Store) -> None:
    submitted(store, "j1", "j2")
    before = everything(store)
    bad = commit(
        T0 + 1,
        admitted("j1", 1, on(("sz-001", 1))),
        JobChange("j2", JobState.QUEUED, 1, failures=-1),
        postings=tuple(money_story()[0]),
        events=(NewEvent("admitted", "j1"),),
        audits=(NewAudit(ADMIN, "job.priority", "j1"),),
    )
    with pytest.raises(InvalidField) as refused:
        store.commit(bad)
    assert refused.value.field == "commit.changes[1].failures"
    assert everything(store) == before


# ---------------------------------------------------------------------- job seq


def test_last_job_seq_is_the_highest_seq_of_any_stored_job(store: Store) -> None:
    assert store.last_job_seq() == -1
    store.submit([a_job(f"j{seq}").seq(seq).build() for seq in (5, 2)], T0)
    assert store.last_job_seq() == 5
    store.submit([keyed(a_job("j9").seq(9).build(), "k9")], T0)
    assert store.last_job_seq() == 9
    # Jobs that were not created do not count: a retried key, a refused batch.
    retry = keyed(a_job("j9-retry").seq(50).build(), "k9")
    assert store.submit([retry], T0) == [SubmitOutcome("j9", False)]
    with pytest.raises(DuplicateJob):
        store.submit([a_job("j100").seq(100).build(), a_job("j5").seq(101).build()], T0)
    assert store.last_job_seq() == 9
    # Finished jobs count: the numbers must stay unique.
    store.commit(commit(T0 + 1, JobChange("j9", JobState.CANCELLED, 0, None, None, T0 + 1)))
    assert store.last_job_seq() == 9


# ---------------------------------------------------------------------- events


def test_events_are_numbered_strictly_increasing_and_filter_by_job(store: Store) -> None:
    submitted(store, "j1", "j2")
    store.commit(commit(T0 + 1, events=(NewEvent("admitted", "j1", "t1", {"nodes": ["n1"]}),)))
    store.commit(commit(T0 + 2, events=(NewEvent("pool", None, None, {"up": 3}),)))
    store.commit(commit(T0 + 3, events=(NewEvent("finished", "j1", "t1", {"ok": True}),)))
    events = store.events()
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)) and len(seqs) == 5
    assert [e.kind for e in store.events(job_id="j1")] == [SUBMITTED, "admitted", "finished"]
    assert [e.kind for e in store.events(job_id="j2")] == [SUBMITTED]
    resume = store.events(after_seq=seqs[2])
    assert [e.kind for e in resume] == ["pool", "finished"]
    assert store.events(after_seq=seqs[0], limit=2) == events[1:3]
    assert store.events(after_seq=seqs[0], job_id="j1", limit=1)[0].kind == "admitted"
    assert store.events(after_seq=seqs[-1]) == []


def test_event_data_comes_back_as_json_keeps_it(store: Store) -> None:
    submitted(store, "j1")
    data = {"nodes": ("n1", "n2"), "cost": 12_345_678_901_234_567_890, "zone": Jurisdiction.MACAO}
    store.commit(commit(T0, events=(NewEvent("admitted", "j1", "t1", data),)))
    event = store.events(job_id="j1")[-1]
    assert event.data == {
        "nodes": ["n1", "n2"],
        "cost": 12_345_678_901_234_567_890,
        "zone": "macao",
    }
    assert type(event.data["cost"]) is int


def test_a_refused_write_takes_no_event_number_that_is_later_reused(store: Store) -> None:
    submitted(store, "j1")
    last = store.last_event_seq()
    with pytest.raises(UnknownJob):
        store.commit(commit(T0, events=(NewEvent("x", "j1"), NewEvent("x", "ghost"))))
    store.commit(commit(T0, events=(NewEvent("y", "j1"),)))
    new = store.events(after_seq=last)
    assert [e.kind for e in new] == ["y"]
    assert new[0].seq > last


def test_last_event_is_the_jobs_newest_of_the_kinds_asked(store: Store) -> None:
    submitted(store, "j1", "j2")
    store.commit(commit(T0 + 1, events=(NewEvent("progress", "j1", "t1", {"bp": 1}),)))
    store.commit(commit(T0 + 2, events=(NewEvent("checkpoint", "j1", "t1", {"bp": 2}),)))
    store.commit(
        commit(
            T0 + 3,
            events=(
                NewEvent("progress", "j1", "t1", {"bp": 3}),  # newest of its kinds for j1
                NewEvent("progress", "j2", "t1", {"bp": 99}),  # another job's
                NewEvent("progress", None, None, {"bp": 98}),  # about no job
                NewEvent("started", "j1", "t1", {"attempt": 2}),  # newer, another kind
            ),
        )
    )

    newest = store.last_event("j1", ("progress", "checkpoint"))
    assert newest is not None
    assert (newest.kind, newest.job_id, newest.at, newest.data) == (
        "progress",
        "j1",
        T0 + 3,
        {"bp": 3},
    )
    assert newest == store.events(job_id="j1")[-2]  # the same event `events` reads
    checkpoint = store.last_event("j1", {"checkpoint"})
    assert checkpoint is not None and (checkpoint.at, checkpoint.data) == (T0 + 2, {"bp": 2})
    other = store.last_event("j2", ["progress"])
    assert other is not None and other.data == {"bp": 99}
    assert store.last_event("j2", ("checkpoint",)) is None
    assert store.last_event("nobody", ("progress",)) is None
    assert store.last_event("j1", ()) is None
    submitted_event = store.last_event("j1", (SUBMITTED,))
    assert submitted_event is not None and submitted_event.seq == store.events()[0].seq


def test_last_event_sees_a_later_commit_and_ignores_a_refused_one(store: Store) -> None:
    submitted(store, "j1")
    store.commit(commit(T0 + 1, events=(NewEvent("progress", "j1", "t1", {"bp": 1}),)))
    with pytest.raises(UnknownJob):
        store.commit(
            commit(
                T0 + 2,
                events=(NewEvent("progress", "j1", "t1", {"bp": 2}), NewEvent("x", "ghost")),
            )
        )
    kept = store.last_event("j1", ("progress",))
    assert kept is not None and kept.data == {"bp": 1}

    seq = store.commit(commit(T0 + 3, events=(NewEvent("progress", "j1", "t1", {"bp": 3}),)))
    newest = store.last_event("j1", ("progress",))
    assert newest is not None and (newest.seq, newest.data) == (seq, {"bp": 3})


def test_limits_below_one_are_refused(store: Store) -> None:
    with pytest.raises(InvalidField, match="limit"):
        store.events(limit=0)
    with pytest.raises(InvalidField, match="limit"):
        store.jobs(limit=0)


# ---------------------------------------------------------------------- queries and paging


def test_paging_visits_every_job_once_in_submission_order(store: Store) -> None:
    submitted(store, *(f"j{i:02d}" for i in range(10)))
    seen: list[str] = []
    page = store.jobs(limit=3)
    while page:
        seen += [record.id for record in page]
        # Work goes on between pages: jobs change state and new ones arrive (twice).
        store.commit(commit(T0 + 1, admitted(page[0].id, 1, on(("n", 1)))))
        if len(seen) <= 6:
            submitted(store, f"late-{len(seen)}")
        page = store.jobs(after_id=seen[-1], limit=3)
    assert seen == [f"j{i:02d}" for i in range(10)] + ["late-3", "late-6"]
    assert len(seen) == len(set(seen))
    assert seen == [record.id for record in store.jobs(limit=1000)]


def test_paging_newest_first_visits_every_job_there_was_once_newest_first(store: Store) -> None:
    submitted(store, *(f"j{i:02d}" for i in range(10)))
    seen: list[str] = []
    page = store.jobs(limit=3, newest_first=True)
    while page:
        seen += [record.id for record in page]
        store.commit(commit(T0 + 1, admitted(page[0].id, 1, on(("n", 1)))))
        submitted(store, f"late-{len(seen)}")  # newer than the first page: not visited
        page = store.jobs(after_id=seen[-1], limit=3, newest_first=True)
    assert seen == [f"j{i:02d}" for i in reversed(range(10))]
    newest = [record.id for record in store.jobs(limit=1000, newest_first=True)]
    assert newest == [record.id for record in reversed(store.jobs(limit=1000))]
    assert newest[:4] == ["late-10", "late-9", "late-6", "late-3"]


def test_jobs_filter_by_tenant_and_state(store: Store) -> None:
    store.submit(
        [
            a_job(f"{tenant}-{i}").tenant(tenant).build()
            for i in range(3)
            for tenant in ("pcl", "hku")
        ],
        T0,
    )
    store.commit(
        commit(T0 + 1, admitted("pcl-1", 1, on(("n", 1))), admitted("hku-2", 1, on(("n", 1))))
    )
    assert [r.id for r in store.jobs(tenant="pcl")] == ["pcl-0", "pcl-1", "pcl-2"]
    assert [r.id for r in store.jobs(states={JobState.ADMITTED})] == ["pcl-1", "hku-2"]
    assert [r.id for r in store.jobs(tenant="hku", states=[JobState.QUEUED])] == ["hku-0", "hku-1"]
    assert [r.id for r in store.jobs(tenant="pcl", after_id="pcl-0", limit=1)] == ["pcl-1"]
    assert [r.id for r in store.jobs(tenant="hku", newest_first=True)] == [
        "hku-2",
        "hku-1",
        "hku-0",
    ]
    assert [
        r.id for r in store.jobs(tenant="pcl", after_id="pcl-2", limit=1, newest_first=True)
    ] == ["pcl-1"]
    assert [r.id for r in store.jobs(states={JobState.ADMITTED}, newest_first=True, limit=1)] == [
        "hku-2"
    ]
    assert store.jobs(states=()) == []
    with pytest.raises(UnknownJob, match="nobody"):
        store.jobs(after_id="nobody")
    with pytest.raises(UnknownJob, match="nobody"):
        store.jobs(after_id="nobody", newest_first=True)


def test_active_jobs_are_those_not_finished(store: Store) -> None:
    states = list(JobState)
    submitted(store, *(state.value for state in states))
    placement = on(("n", 1))
    store.commit(
        commit(
            T0, *(JobChange(s.value, s, 1, placement) for s in states if s is not JobState.QUEUED)
        )
    )
    active = store.active_jobs()
    assert [record.id for record in active] == [s.value for s in states if s in ACTIVE_STATES]
    assert {record.state for record in active} == {
        JobState.QUEUED,
        JobState.ADMITTED,
        JobState.RUNNING,
        JobState.PREEMPTED,
    }


# ---------------------------------------------------------------------- ledger


def test_postings_replay_into_the_ledger_that_produced_them(store: Store) -> None:
    submitted(store, "j1", "j2")
    cycles = money_story()
    for at, postings in enumerate(cycles, start=T0):
        store.commit(commit(at, postings=tuple(postings)))
    written = [posting for postings in cycles for posting in postings]
    assert store.postings() == written
    replayed = Ledger.replay(store.postings())
    original = Ledger.replay(written)
    assert replayed.postings() == original.postings()
    assert replayed.balances() == original.balances()
    assert replayed.draws() == original.draws()
    assert replayed.check() == []
    assert store.postings(after_seq=3) == written[3:]
    settlement = next(p for p in store.postings() if p.usage is not None)
    assert settlement.usage == written[settlement.seq - 1].usage


# ---------------------------------------------------------------------- pool and audit


def test_nodes_round_trip_and_each_change_is_audited(store: Store) -> None:
    pool = a_pool().nodes(2, city=City.SHENZHEN).nodes(1, H800, city=City.HONG_KONG).build()
    nodes = list(pool.nodes.values())
    store.put_nodes(nodes, T0, ADMIN)
    assert store.nodes() == sorted(nodes, key=lambda node: node.id)
    audits = store.audit(action=NODE_PUT)
    assert sorted(a.subject for a in audits) == sorted(node.id for node in nodes)
    assert all((a.actor, a.at, a.details["old"]) == (ADMIN, T0, None) for a in audits)
    # Putting the same nodes again changes nothing, so nothing is audited.
    store.put_nodes(nodes, T0 + 1, ADMIN)
    assert store.audit(after_seq=audits[-1].seq) == []
    relabelled = replace(nodes[0], labels=(("rack", "r7"),))
    store.put_nodes([relabelled], T0 + 2, "someone-else")
    [change] = store.audit(after_seq=audits[-1].seq)
    assert (change.actor, change.action, change.subject) == ("someone-else", NODE_PUT, nodes[0].id)
    new = change.details["new"]
    assert isinstance(new, dict) and new["labels"] == [["rack", "r7"]]
    assert relabelled in store.nodes()
    assert nodes[0] not in store.nodes()


def test_a_node_state_change_is_audited(store: Store) -> None:
    node = next(iter(a_pool().nodes(1).build().nodes.values()))
    store.put_nodes([node], T0, ADMIN)
    cordoned = store.set_node_state(node.id, NodeState.CORDONED, T0 + 5, "oncall")
    assert cordoned == node.with_state(NodeState.CORDONED) == store.nodes()[0]
    [record] = store.audit(action=NODE_STATE)
    assert (record.at, record.actor, record.subject) == (T0 + 5, "oncall", node.id)
    assert record.details == {"from": "up", "to": "cordoned"}
    assert store.set_node_state(node.id, NodeState.CORDONED, T0 + 6, "oncall") == cordoned
    assert len(store.audit(action=NODE_STATE)) == 1
    with pytest.raises(UnknownNode, match="ghost"):
        store.set_node_state("ghost", NodeState.DOWN, T0, "oncall")
    with pytest.raises(InvalidField, match="actor"):
        store.set_node_state(node.id, NodeState.DOWN, T0, "")


def test_a_removed_node_is_gone_and_its_last_value_audited(store: Store) -> None:
    first, second = a_pool().nodes(2).build().nodes.values()
    store.put_nodes([first, second], T0, ADMIN)
    assert store.remove_node(first.id, T0 + 9, "oncall") == first
    assert store.nodes() == [second]
    [record] = store.audit(action=NODE_REMOVE)
    assert (record.at, record.actor, record.subject) == (T0 + 9, "oncall", first.id)
    old = record.details["old"]
    assert isinstance(old, dict) and old["model"] == first.model
    assert record.details["new"] is None
    with pytest.raises(UnknownNode, match=first.id):
        store.remove_node(first.id, T0 + 10, "oncall")
    with pytest.raises(InvalidField, match="actor"):
        store.remove_node(second.id, T0 + 10, "")
    assert store.nodes() == [second]
    assert len(store.audit(action=NODE_REMOVE)) == 1


def test_tenants_programs_and_approvals_round_trip_audited(store: Store) -> None:
    tenants = [
        a_tenant("pcl").weight(3).cohort("sz").quota(H800, 16, borrowing=8, lending=4).build(),
        a_tenant("hku").priorities("standard", "high").build(),
    ]
    programs = [
        a_program("sz").cap(800).group("gd").build(),
        a_program("hk").at_owners("hk").build(),
    ]
    approvals = [an_approval("ap1").held_by("pcl").into(Jurisdiction.HONG_KONG).build()]
    store.put_tenants(tenants, T0, ADMIN)
    store.put_programs(programs, T0 + 1, ADMIN)
    store.put_approvals(approvals, T0 + 2, ADMIN)
    assert store.tenants() == sorted(tenants, key=lambda t: t.id)
    assert store.programs() == sorted(programs, key=lambda p: p.id)
    assert store.approvals() == approvals
    assert [(a.action, a.subject, a.at) for a in store.audit()] == [
        (TENANT_PUT, "pcl", T0),
        (TENANT_PUT, "hku", T0),
        (PROGRAM_PUT, "sz", T0 + 1),
        (PROGRAM_PUT, "hk", T0 + 1),
        (APPROVAL_PUT, "ap1", T0 + 2),
    ]
    smaller = replace(tenants[0], quotas=())
    store.put_tenants([smaller], T0 + 3, ADMIN)
    assert store.tenants()[1] == smaller
    assert store.audit(action=TENANT_PUT)[-1].details["old"] is not None


def test_a_put_repeating_an_id_or_without_an_actor_writes_nothing(store: Store) -> None:
    tenant = a_tenant("pcl").build()
    with pytest.raises(InvalidField, match=r"tenants\[1\].id"):
        store.put_tenants([tenant, replace(tenant, weight=2)], T0, ADMIN)
    with pytest.raises(InvalidField, match="actor"):
        store.put_tenants([tenant], T0, "")
    assert store.tenants() == []
    assert store.audit() == []


def test_a_cross_border_placement_is_audited_with_its_approval(store: Store) -> None:
    job = a_job("j1").tenant("pcl").approvals("ap1").build()
    store.submit([job], T0)
    hk = on(("hk-001", 8), zone=Jurisdiction.HONG_KONG, approval="ap1", model=H800)
    store.commit(commit(T0 + 1, admitted("j1", 1, hk)))
    # Reported running on the same placement: no new cross-border placement.
    store.commit(commit(T0 + 2, running("j1", 1, hk, started_at=T0 + 2)))
    [record] = store.audit(action=CROSS_BORDER_PLACEMENT)
    assert (record.actor, record.subject, record.at) == (SCHEDULER, "j1", T0 + 1)
    assert record.details == {
        "tenant": "pcl",
        "attempt": 1,
        "approval": "ap1",
        "from_zone": "mainland",
        "to_zone": "hong-kong",
        "model": H800,
        "nodes": ["hk-001"],
    }
    # A home-zone placement owes no record; a new attempt abroad owes a new one.
    store.commit(commit(T0 + 3, admitted("j1", 2, on(("sz-001", 8)))))
    store.commit(commit(T0 + 4, admitted("j1", 3, hk)))
    assert [r.details["attempt"] for r in store.audit(action=CROSS_BORDER_PLACEMENT)] == [1, 3]


def test_a_commit_appends_its_own_audit_records(store: Store) -> None:
    submitted(store, "j1")
    store.commit(
        commit(
            T0,
            JobChange("j1", JobState.CANCELLED, 0, None, None, T0, None, "cancelled by admin"),
            audits=(NewAudit(ADMIN, "job.cancel", "j1", {"why": "duplicate run"}),),
        )
    )
    [record] = store.audit(action="job.cancel")
    assert (record.actor, record.subject, record.details) == (ADMIN, "j1", {"why": "duplicate run"})


# ---------------------------------------------------------------------- fair share


def test_fair_share_usage_is_none_until_a_commit_carries_it(store: Store) -> None:
    assert store.fair_share() is None
    store.commit(Commit(at=T0))
    assert store.fair_share() is None


def test_a_commit_with_fair_share_usage_replaces_the_stored_one(store: Store) -> None:
    store.commit(Commit(at=T0, fair_share=FairShareUsage(T0, {"t1": 500, "t2": 0})))
    store.commit(Commit(at=T0 + 60, fair_share=FairShareUsage(T0 + 60, {"t2": 7})))
    store.commit(Commit(at=T0 + 120))  # carries none: leaves it

    assert store.fair_share() == FairShareUsage(T0 + 60, {"t2": 7})


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"t1": -1}, "commit.fair_share.usage.t1"),
        ({"": 5}, "commit.fair_share.usage."),
        ({"t0": 3, "t1": -2, "t2": 4}, "commit.fair_share.usage.t1"),
        ({"t0": 3, "t1": True}, "commit.fair_share.usage.t1"),
        ({"t1": 2.0}, "commit.fair_share.usage.t1"),
        ({"t0": 3, "t1": "7"}, "commit.fair_share.usage.t1"),
    ],
)
def test_bad_fair_share_usage_is_refused_and_writes_nothing(
    store: Store, usage: dict[str, int], field: str
) -> None:
    submitted(store, "j1")
    store.commit(Commit(at=T0, fair_share=FairShareUsage(T0, {"t1": 1})))
    before = everything(store)

    with pytest.raises(InvalidField) as raised:
        store.commit(
            Commit(
                at=T0 + 1,
                events=(NewEvent("note", "j1"),),
                fair_share=FairShareUsage(T0 + 1, usage),
            )
        )

    assert raised.value.field == field
    assert everything(store) == before
    assert store.fair_share() == FairShareUsage(T0, {"t1": 1})


# ---------------------------------------------------------------------- lifetime


def test_a_closed_store_refuses_every_call(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError):
        store.submit([a_job("j1").build()], T0)
    with pytest.raises(StoreError):
        store.jobs()
    with pytest.raises(StoreError):
        store.events()
    with pytest.raises(StoreError):
        store.last_event("j1", ("progress",))


def test_the_audit_trail_filters_by_subject_and_stops_at_a_limit(store: Store) -> None:
    first, second = a_pool().nodes(2).build().nodes.values()
    store.put_nodes([first, second], T0, ADMIN)
    for i, state in enumerate((NodeState.CORDONED, NodeState.UP, NodeState.DOWN)):
        store.set_node_state(first.id, state, T0 + i, "oncall")
        store.set_node_state(second.id, state, T0 + i, "oncall")

    about_first = store.audit(subject=first.id)
    assert [r.subject for r in about_first] == [first.id] * 4  # put + three changes
    assert [r.details.get("to") for r in store.audit(action=NODE_STATE, subject=first.id)] == [
        "cordoned",
        "up",
        "down",
    ]
    assert store.audit(subject=first.id, limit=2) == about_first[:2]
    assert store.audit(about_first[1].seq, subject=first.id, limit=2) == about_first[2:4]
    assert store.audit(subject="nothing") == []
    with pytest.raises(InvalidField, match="limit"):
        store.audit(limit=0)
