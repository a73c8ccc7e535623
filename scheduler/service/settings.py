"""What an operator tunes about the coordinator's loop, with the defaults it runs on."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.errors import InvalidField


@dataclass(frozen=True, slots=True)
class CoordinatorSettings:
    """`max_retries`: how many times a job whose attempt failed or lost its node is queued again
    before it fails for good (preempted jobs are always queued again and do not count).
    `tick_interval_s`: the longest wait between two ticks; a submission wakes the loop sooner,
    but never sooner than `min_tick_gap_s` after the last tick, so a flood of submissions does
    not turn into a flood of cycles. `max_batch`: the most jobs one group commit writes."""

    max_retries: int = 3
    tick_interval_s: float = 1.0
    min_tick_gap_s: float = 0.05
    max_batch: int = 5_000

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise InvalidField("max_retries", "must not be negative")
        if self.tick_interval_s <= 0:
            raise InvalidField("tick_interval_s", "must be positive")
        if not 0 <= self.min_tick_gap_s <= self.tick_interval_s:
            raise InvalidField("min_tick_gap_s", "must be between 0 and tick_interval_s")
        if self.max_batch < 1:
            raise InvalidField("max_batch", "must be at least 1")
