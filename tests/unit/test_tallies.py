"""The coordinator's plain-integer tallies: job events counted by kind, tenant and label, and
integer bucket histograms (a value equal to a bound falls in that bound's bucket)."""

from __future__ import annotations

import pytest

from scheduler.service import event_kinds as ek
from scheduler.service.tallies import (
    ADMITTED,
    FINISHED,
    PREEMPTED,
    REJECTED,
    REQUEUED,
    STARTED,
    SUBMITTED,
    Histogram,
    Key,
    LastCycle,
    Tallies,
)
from scheduler.store.records import NewEvent


@pytest.mark.parametrize(
    ("values", "buckets", "count", "total"),
    [
        ((), (0, 0, 0), 0, 0),
        ((0,), (1, 1, 1), 1, 0),
        ((1,), (1, 1, 1), 1, 1),  # on the bound: in its bucket
        ((2,), (0, 1, 1), 1, 2),
        ((5, 10), (0, 2, 2), 2, 15),
        ((11,), (0, 0, 1), 1, 11),
        ((101,), (0, 0, 0), 1, 101),  # above every bound: only in the count (+Inf)
        ((1, 7, 50, 1000), (1, 2, 3), 4, 1058),
    ],
)
def test_a_histogram_counts_cumulatively_up_to_each_bound(
    values: tuple[int, ...], buckets: tuple[int, ...], count: int, total: int
) -> None:
    histogram = Histogram((1, 10, 100))
    for value in values:
        histogram.observe(value)
    snap = histogram.snapshot()
    assert (snap.bounds, snap.buckets, snap.count, snap.total) == (
        (1, 10, 100),
        buckets,
        count,
        total,
    )


@pytest.mark.parametrize("bounds", [(), (10, 1), (1, 1)])
def test_histogram_bounds_must_increase(bounds: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        Histogram(bounds)


@pytest.mark.parametrize(
    ("event", "key"),
    [
        (NewEvent(ek.ADMITTED, "job-1", "t1", {"attempt": 1}), (ADMITTED, "t1", "")),
        (NewEvent(ek.STARTED, "job-1", "t1", {"attempt": 1}), (STARTED, "t1", "")),
        (NewEvent(ek.SUCCEEDED, "job-1", "t2", {}), (FINISHED, "t2", "succeeded")),
        (NewEvent(ek.FAILED, "job-1", "t1", {"reason_code": "X"}), (FINISHED, "t1", "failed")),
        (NewEvent(ek.CANCELLED, "job-1", "t1", {}), (FINISHED, "t1", "cancelled")),
        (
            NewEvent(ek.PREEMPTED, "job-1", "t1", {"cause": "PRIORITY"}),
            (PREEMPTED, "t1", "PRIORITY"),
        ),
        (
            NewEvent(ek.REJECTED, "job-1", "t1", {"reason_code": "NO_FLAVOR"}),
            (REJECTED, "t1", "NO_FLAVOR"),
        ),
        (NewEvent(ek.REQUEUED, "job-1", "t1", {"reason_code": "RETRY"}), (REQUEUED, "t1", "")),
    ],
)
def test_each_job_event_kind_counts_under_its_key(event: NewEvent, key: Key) -> None:
    tallies = Tallies()
    tallies.count_events([event, event])
    assert tallies.snapshot().counts == {key: 2}


def test_progress_reports_and_events_about_no_job_kind_are_not_counted() -> None:
    tallies = Tallies()
    tallies.count_events(
        [
            NewEvent(ek.PROGRESS, "job-1", "t1", {"progress_bp": 10}),
            NewEvent(ek.CHECKPOINT, "job-1", "t1", {"progress_bp": 10}),
        ]
    )
    assert tallies.snapshot().counts == {}


def test_submissions_count_per_tenant_and_one_transaction_per_group_commit() -> None:
    tallies = Tallies()
    tallies.count_submitted(["t1", "t1", "t2"])
    tallies.count_submitted([])  # a group commit of resubmissions only
    snap = tallies.snapshot()
    assert snap.submit_transactions == 2
    assert snap.counts == {(SUBMITTED, "t1", ""): 2, (SUBMITTED, "t2", ""): 1}
    assert snap.count(SUBMITTED) == 3
    assert snap.count(SUBMITTED, tenant="t2") == 1


def test_cycles_add_up_and_the_last_one_is_kept() -> None:
    tallies = Tallies()
    tallies.count_cycle(3, 1, 10, 2_000)
    tallies.count_cycle(0, 0, 7, 0)
    snap = tallies.snapshot()
    assert (snap.cycles, snap.cycle_admissions, snap.cycle_preemptions) == (2, 3, 1)
    assert snap.last_cycle == LastCycle(0, 0, 7)
    assert (snap.cycle_duration_us.count, snap.cycle_duration_us.total) == (2, 2_000)


def test_admission_waits_are_observed_in_seconds_never_below_zero() -> None:
    tallies = Tallies()
    tallies.admission_waits([0, 30, -1])
    wait = tallies.snapshot().admission_wait_s
    assert (wait.count, wait.total) == (3, 30)
    assert wait.buckets[0] == 2  # 0 and the clamped -1, both ≤ 1 s
