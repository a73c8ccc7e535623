"""What the coordinator counts as it works, in plain integers: job events by kind and tenant,
cycles, and two histograms (admission waits in clock seconds, cycle durations in microseconds).

The API's metrics collector (`scheduler.api.metrics`) reads a `TalliesSnapshot` at scrape time
and turns it into Prometheus families; nothing here knows Prometheus. Counts start at zero when
the coordinator is made (recovery's own events included).

Cost. The coordinator calls `count_events` once per committed transaction and `count_submitted`
once per group commit: one lock, one dictionary update per event (progress reports are skipped
at once). Every update and every snapshot holds the tallies' own lock, so a scrape never sees a
dictionary change under it.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scheduler.service import event_kinds as ek
from scheduler.store.records import NewEvent

# Kinds of the counts (the first part of a key); the label part is "" when the kind has none.
SUBMITTED = "submitted"
ADMITTED = "admitted"
STARTED = "started"
FINISHED = "finished"  # label: the outcome (succeeded, failed, cancelled)
PREEMPTED = "preempted"  # label: the cause
REJECTED = "rejected"  # label: the reason code
REQUEUED = "requeued"

Key = tuple[str, str, str]  # (kind, tenant, label)

_PLAIN = {ek.ADMITTED: ADMITTED, ek.STARTED: STARTED, ek.REQUEUED: REQUEUED}
_OUTCOMES = frozenset({ek.SUCCEEDED, ek.FAILED, ek.CANCELLED})

ADMISSION_WAIT_BOUNDS_S = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
"""Upper bounds (clock seconds) of the admission-wait buckets."""
CYCLE_BOUNDS_US = (
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
)
"""Upper bounds (microseconds) of the cycle-duration buckets: 1 ms to 10 s."""


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """`buckets[i]`: observations ≤ `bounds[i]` (cumulative); `count` includes those above the
    last bound; `total` is the sum of every observation, in the histogram's unit."""

    bounds: tuple[int, ...]
    buckets: tuple[int, ...]
    count: int
    total: int


class Histogram:
    """Observations of integer values in buckets of integer upper bounds (a value equal to a
    bound falls in that bound's bucket, as in Prometheus)."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Sequence[int]) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("histogram bounds must be distinct and increasing")
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last: above every bound
        self.count = 0
        self.total = 0

    def observe(self, value: int) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value

    def snapshot(self) -> HistogramSnapshot:
        cumulative: list[int] = []
        running = 0
        for n in self.counts[:-1]:
            running += n
            cumulative.append(running)
        return HistogramSnapshot(self.bounds, tuple(cumulative), self.count, self.total)


@dataclass(frozen=True, slots=True)
class LastCycle:
    """What the last scheduling cycle decided and looked at."""

    admissions: int
    preemptions: int
    considered: int


@dataclass(frozen=True, slots=True)
class TalliesSnapshot:
    counts: Mapping[Key, int]
    submit_transactions: int
    cycles: int
    cycle_admissions: int
    cycle_preemptions: int
    last_cycle: LastCycle | None
    cycle_duration_us: HistogramSnapshot
    admission_wait_s: HistogramSnapshot

    def count(self, kind: str, tenant: str | None = None, label: str | None = None) -> int:
        """The sum of the counts of `kind` (of one tenant, one label, if given)."""
        return sum(
            n
            for (k, t, lb), n in self.counts.items()
            if k == kind and tenant in (None, t) and label in (None, lb)
        )


class Tallies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[Key] = Counter()
        self._submit_transactions = 0
        self._cycles = 0
        self._cycle_admissions = 0
        self._cycle_preemptions = 0
        self._last_cycle: LastCycle | None = None
        self._cycle_duration = Histogram(CYCLE_BOUNDS_US)
        self._admission_wait = Histogram(ADMISSION_WAIT_BOUNDS_S)

    def count_submitted(self, tenants: Iterable[str]) -> None:
        """One group commit of submissions; `tenants` has one entry per job it created."""
        created = Counter(tenants)
        with self._lock:
            self._submit_transactions += 1
            counts = self._counts
            for tenant, n in created.items():
                counts[(SUBMITTED, tenant, "")] += n

    def count_events(self, events: Iterable[NewEvent]) -> None:
        """Job events a transaction committed."""
        with self._lock:
            counts = self._counts
            for event in events:
                kind = event.kind
                plain = _PLAIN.get(kind)
                if plain is not None:
                    counts[(plain, event.tenant or "", "")] += 1
                elif kind in _OUTCOMES:
                    counts[(FINISHED, event.tenant or "", kind)] += 1
                elif kind == ek.PREEMPTED:
                    cause = str(event.data.get("cause", ""))
                    counts[(PREEMPTED, event.tenant or "", cause)] += 1
                elif kind == ek.REJECTED:
                    reason = str(event.data.get("reason_code", ""))
                    counts[(REJECTED, event.tenant or "", reason)] += 1

    def count_cycle(
        self, admissions: int, preemptions: int, considered: int, duration_us: int
    ) -> None:
        with self._lock:
            self._cycles += 1
            self._cycle_admissions += admissions
            self._cycle_preemptions += preemptions
            self._last_cycle = LastCycle(admissions, preemptions, considered)
            self._cycle_duration.observe(duration_us)

    def admission_waits(self, waits_s: Iterable[int]) -> None:
        """How long each job a cycle admitted had waited (clock seconds)."""
        with self._lock:
            observe = self._admission_wait.observe
            for wait in waits_s:
                observe(max(0, wait))

    def snapshot(self) -> TalliesSnapshot:
        with self._lock:
            return TalliesSnapshot(
                counts=dict(self._counts),
                submit_transactions=self._submit_transactions,
                cycles=self._cycles,
                cycle_admissions=self._cycle_admissions,
                cycle_preemptions=self._cycle_preemptions,
                last_cycle=self._last_cycle,
                cycle_duration_us=self._cycle_duration.snapshot(),
                admission_wait_s=self._admission_wait.snapshot(),
            )
