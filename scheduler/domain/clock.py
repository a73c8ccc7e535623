"""The clock port: what time it is, in integer epoch seconds.

The core never reads the wall clock itself (principle 2): the service, the simulator and the fake
executor are handed a `Clock`, so a test or a replay decides what "now" is.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from scheduler.domain.errors import InvalidField


class Clock(ABC):
    """A source of the current time."""

    @abstractmethod
    def now(self) -> int:
        """The current time in integer epoch seconds.

        MUST never go backwards between two calls on one clock object."""


class SystemClock(Clock):
    """The machine's clock, truncated to whole seconds."""

    def __init__(self) -> None:
        self._last = 0

    def now(self) -> int:
        # The wall clock can step back (NTP); the port promises it never does, so hold the
        # highest reading seen.
        self._last = max(self._last, int(time.time()))
        return self._last


class ManualClock(Clock):
    """A clock that moves only when told: tests, the simulator and the fake executor."""

    def __init__(self, start: int = 0) -> None:
        if start < 0:
            raise InvalidField("start", f"must not be negative, got {start}")
        self._now = start

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> int:
        """Move forward by `seconds` (0 allowed) and return the new time."""
        if seconds < 0:
            raise InvalidField("seconds", f"a clock never goes backwards, got {seconds}")
        self._now += seconds
        return self._now

    def set(self, t: int) -> int:
        """Move to time `t`, not earlier than now, and return it."""
        if t < self._now:
            raise InvalidField(
                "t", f"a clock never goes backwards: {t} is before now ({self._now})"
            )
        self._now = t
        return self._now
