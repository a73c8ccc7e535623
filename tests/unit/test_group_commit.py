"""Group commit: a lone submitter writes on its own thread; submitters that arrive during a
write share the next one; one bad request fails alone; batches stay within their limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from scheduler.domain.jobs import Job
from scheduler.service.errors import CoordinatorStopped
from scheduler.service.submissions import DELAY_BELOW, GroupCommit
from scheduler.store.records import SubmitOutcome
from tests.builders import a_job

WAIT_S = 10


class Disk:
    """Records every write: which jobs, on which thread. `hold` keeps the first write open
    until released, so that others queue up behind it."""

    def __init__(self, *, hold: bool = False, refuse: str | None = None) -> None:
        self.writes: list[tuple[list[str], str]] = []
        self.hold = threading.Event() if hold else None
        self.writing = threading.Event()
        self.refuse = refuse

    def write(self, jobs: Sequence[Job]) -> list[SubmitOutcome]:
        self.writing.set()
        if self.hold is not None and not self.writes:
            assert self.hold.wait(WAIT_S)
        if any(job.id == self.refuse for job in jobs):
            raise ValueError(f"{self.refuse} is refused")
        self.writes.append(([job.id for job in jobs], threading.current_thread().name))
        return [SubmitOutcome(job.id, True) for job in jobs]


def wait_until_waiting(group: GroupCommit, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while group.waiting < count:
        assert time.monotonic() < deadline, f"{group.waiting} submitters waiting, not {count}"
        time.sleep(0.001)


def behind_a_held_write(
    disk: Disk, group: GroupCommit, first: threading.Thread, *others: threading.Thread
) -> None:
    """`first` starts a write that `disk` holds open; `others` queue up behind it; then the
    write is let go and everyone finishes."""
    first.start()
    assert disk.writing.wait(WAIT_S)
    for thread in others:
        thread.start()
    wait_until_waiting(group, len(others))
    assert disk.hold is not None
    disk.hold.set()
    for thread in (first, *others):
        thread.join(WAIT_S)


def jobs(*ids: str) -> list[Job]:
    return [a_job(job_id).build() for job_id in ids]


def test_a_lone_submitter_writes_on_its_own_thread() -> None:
    disk = Disk()
    group = GroupCommit(disk.write, max_batch=100)

    outcomes = group.submit(jobs("a", "b"))

    assert [o.job_id for o in outcomes] == ["a", "b"]
    assert disk.writes == [(["a", "b"], threading.current_thread().name)]


def test_submitters_arriving_during_a_write_share_the_next_one() -> None:
    disk = Disk(hold=True)
    group = GroupCommit(disk.write, max_batch=100)
    results: dict[str, list[str]] = {}

    def submit(job_id: str) -> None:
        results[job_id] = [o.job_id for o in group.submit(jobs(job_id))]

    first = threading.Thread(target=submit, args=("first",))
    others = [threading.Thread(target=submit, args=(f"j{i}",)) for i in range(8)]
    behind_a_held_write(disk, group, first, *others)

    assert [len(ids) for ids, _ in disk.writes] == [1, 8]
    assert results == {job_id: [job_id] for job_id in ["first", *(f"j{i}" for i in range(8))]}


def test_a_bad_request_fails_alone() -> None:
    disk = Disk(hold=True, refuse="bad")
    group = GroupCommit(disk.write, max_batch=100)
    errors: dict[str, BaseException] = {}
    done: dict[str, list[SubmitOutcome]] = {}

    def submit(job_id: str) -> None:
        try:
            done[job_id] = group.submit(jobs(job_id))
        except ValueError as exc:
            errors[job_id] = exc

    threads = [threading.Thread(target=submit, args=(job_id,)) for job_id in ("x", "bad", "y")]
    behind_a_held_write(disk, group, *threads)

    assert sorted(done) == ["x", "y"]
    assert list(errors) == ["bad"]


def test_a_batch_holds_at_most_max_batch_jobs() -> None:
    disk = Disk(hold=True)
    group = GroupCommit(disk.write, max_batch=3)
    threads = [
        threading.Thread(target=group.submit, args=(jobs(f"{i}a", f"{i}b"),)) for i in range(4)
    ]
    behind_a_held_write(disk, group, *threads)

    assert all(len(ids) <= 3 for ids, _ in disk.writes)
    assert sum(len(ids) for ids, _ in disk.writes) == 8


def test_a_closed_group_takes_nothing_more() -> None:
    group = GroupCommit(Disk().write, max_batch=10)
    group.close()

    with pytest.raises(CoordinatorStopped):
        group.submit(jobs("late"))


def test_waiting_callers_futures_share_a_batch_with_blocking_submitters() -> None:
    disk = Disk(hold=True)
    group = GroupCommit(disk.write, max_batch=100)
    first = threading.Thread(target=group.submit, args=([a_job("first").build()],), name="first")
    first.start()
    assert disk.writing.wait(WAIT_S)

    later = [group.submit_later([a_job(f"later-{i}").build()]) for i in range(3)]
    blocking = threading.Thread(
        target=group.submit, args=([a_job("blocking").build()],), name="blocking"
    )
    blocking.start()
    wait_until_waiting(group, 4)
    assert not any(future.done() for future in later)  # not durable yet: not answered
    assert disk.hold is not None
    disk.hold.set()

    assert [f.result(WAIT_S) for f in later] == [
        [SubmitOutcome(f"later-{i}", True)] for i in range(3)
    ]
    first.join(WAIT_S)
    blocking.join(WAIT_S)
    assert len(disk.writes) == 2  # the held write, then one batch of the other four
    assert sorted(disk.writes[1][0]) == ["blocking", "later-0", "later-1", "later-2"]


def test_a_waiting_callers_future_carries_the_write_error_and_close_drains_the_queue() -> None:
    disk = Disk(refuse="bad")
    group = GroupCommit(disk.write, max_batch=100)

    bad = group.submit_later([a_job("bad").build()])
    good = group.submit_later([a_job("good").build()])

    with pytest.raises(ValueError, match="bad is refused"):
        bad.result(WAIT_S)
    assert good.result(WAIT_S) == [SubmitOutcome("good", True)]
    group.close()
    with pytest.raises(CoordinatorStopped):
        group.submit_later([a_job("late").build()])


def test_waiting_callers_arriving_within_the_commit_delay_share_one_commit() -> None:
    disk = Disk()
    group = GroupCommit(disk.write, max_batch=100, delay_s=1.0)

    first = group.submit_later([a_job("first").build()])
    time.sleep(0.05)  # well inside the delay; without it "first" would be written alone
    second = group.submit_later([a_job("second").build()])

    assert first.result(WAIT_S) == [SubmitOutcome("first", True)]
    assert second.result(WAIT_S) == [SubmitOutcome("second", True)]
    assert disk.writes == [(["first", "second"], "group-commit")]


def test_closing_cuts_the_commit_delay_short_and_writes_what_is_queued() -> None:
    disk = Disk()
    group = GroupCommit(disk.write, max_batch=100, delay_s=1.0)
    queued = group.submit_later([a_job("queued").build()])

    started = time.monotonic()
    group.close()

    assert time.monotonic() - started < 0.9  # did not sit out the delay
    assert queued.result(WAIT_S) == [SubmitOutcome("queued", True)]
    assert disk.writes == [(["queued"], "group-commit")]


def test_blocking_submitters_do_not_wait_for_the_commit_delay() -> None:
    disk = Disk()
    group = GroupCommit(disk.write, max_batch=100, delay_s=5.0)

    started = time.monotonic()
    assert group.submit([a_job("now").build()]) == [SubmitOutcome("now", True)]

    assert time.monotonic() - started < 4
    assert disk.writes == [(["now"], threading.current_thread().name)]


def test_a_batch_already_large_is_written_without_the_commit_delay() -> None:
    disk = Disk()
    group = GroupCommit(disk.write, max_batch=1000, delay_s=5.0)

    started = time.monotonic()
    bulk = group.submit_later([a_job(f"bulk-{i}").build() for i in range(DELAY_BELOW)])

    assert len(bulk.result(WAIT_S)) == DELAY_BELOW
    assert time.monotonic() - started < 4
