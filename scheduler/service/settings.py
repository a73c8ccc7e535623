"""What an operator tunes about the coordinator's loop, with the defaults it runs on."""

from __future__ import annotations

import gc
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField


@dataclass(frozen=True, slots=True)
class CoordinatorSettings:
    """`max_retries`: how many times a job whose attempt failed or lost its node is queued again
    before it fails for good (preempted jobs are always queued again and do not count).
    `tick_interval_s`: the longest wait between two ticks; a submission wakes the loop sooner,
    but never sooner than `min_tick_gap_s` after the last tick, nor sooner than
    `rest_per_busy` times the last tick's duration: ticks share the interpreter with the
    submitters, and while a flood of submissions keeps waking the loop this keeps cycles to at
    most 1 / (1 + rest_per_busy) of the time. `idle_cycle_interval_s`: a tick runs a cycle only
    when something the cycle would see changed (new jobs, an attempt ended, a cancel, a node
    lost), or this many clock seconds after the last one. `arrival_cycle_interval_s`: when the
    only news since the last cycle is new jobs, the next cycle waits until this many clock
    seconds after it: a flood of submissions costs one cycle a second, not one per tick, and a
    job waits at most that long to be looked at (0: at once, as for any other change; an ended
    attempt, a cancel or a node change always cycles at once). `max_batch`: the most jobs one
    group commit writes. `commit_delay_s`: how long the group commit's writer thread lets
    non-blocking submissions (the gRPC handlers') gather before it writes them (0: at once), see
    `scheduler.service.submissions`. `switch_interval_s`: the interpreter's thread switch
    interval `start()` sets (None: leave it), see `Coordinator.start`. `refuse_oversize`: a
    submission whose gang the whole pool could never hold is refused, naming the field (see
    `scheduler.domain.requests.oversize`); off, such a job is stored and its first cycle rejects
    it (GANG_TOO_LARGE, NO_FLAVOR), as a trace replay wants."""

    max_retries: int = 3
    tick_interval_s: float = 1.0
    min_tick_gap_s: float = 0.05
    rest_per_busy: float = 1.0
    idle_cycle_interval_s: int = 10
    arrival_cycle_interval_s: int = 0
    max_batch: int = 5_000
    commit_delay_s: float = 0.002
    switch_interval_s: float | None = 0.001
    gc_young_threshold: int | None = None
    gc_freeze: bool = False
    refuse_oversize: bool = True

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise InvalidField("max_retries", "must not be negative")
        if self.tick_interval_s <= 0:
            raise InvalidField("tick_interval_s", "must be positive")
        if not 0 <= self.min_tick_gap_s <= self.tick_interval_s:
            raise InvalidField("min_tick_gap_s", "must be between 0 and tick_interval_s")
        if self.rest_per_busy < 0:
            raise InvalidField("rest_per_busy", "must not be negative")
        if self.idle_cycle_interval_s < 0:
            raise InvalidField("idle_cycle_interval_s", "must not be negative")
        if self.arrival_cycle_interval_s < 0:
            raise InvalidField("arrival_cycle_interval_s", "must not be negative")
        if self.switch_interval_s is not None and not 0 < self.switch_interval_s <= 1:
            raise InvalidField("switch_interval_s", "must be between 0 and 1 second")
        if not 0 <= self.commit_delay_s <= 1:
            raise InvalidField("commit_delay_s", "must be between 0 and 1 second")
        if self.gc_young_threshold is not None and self.gc_young_threshold < 1:
            raise InvalidField("gc_young_threshold", "must be at least 1")
        if self.max_batch < 1:
            raise InvalidField("max_batch", "must be at least 1")


def set_young_gc_threshold(threshold: int) -> None:
    """Set the garbage collector's first threshold, keeping the older generations' as they are
    (`Coordinator.start` with `gc_young_threshold`; benchmarks that stand for `serve`)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
