"""How far a replay got, written to stderr while it runs: `gbasched sim` and `sim compare` can
take minutes on a large trace, and stdout is kept for the figures (and `--json`).

On a terminal one line is rewritten in place; elsewhere (a log file, `--progress` in CI) a line
is added every interval. A last line is written when the replay ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from scheduler.service.coordinator import TickReport

DEFAULT_INTERVAL_S = 2.0
"""Wall seconds between lines when `--progress` is given without a value."""

TERMINAL_INTERVAL_S = 0.5
"""Wall seconds between updates of the line rewritten on a terminal."""


def sim_time(seconds: int) -> str:
    """Simulated time since the replay's start: `3d 04:05:06`, or `04:05:06` under a day."""
    days, rest = divmod(max(seconds, 0), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


class ReplayProgress:
    """An `on_tick` for `Replay.run` that writes `label: E of N jobs ended, W waiting, R running
    · sim time T · S s` to `stream` at most every `interval_s` wall seconds; `done()` writes
    the last line. `ended` reads how many jobs have ended so far."""

    def __init__(
        self,
        label: str,
        jobs: int,
        start: int,
        ended: Callable[[], int],
        stream: TextIO,
        *,
        interval_s: float,
        in_place: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label = label
        self._jobs = jobs
        self._start = start
        self._ended = ended
        self._stream = stream
        self._interval_s = interval_s
        self._in_place = in_place
        self._clock = clock
        self._began = clock()
        self._last_line = self._began
        self._last: TickReport | None = None

    def __call__(self, report: TickReport, _took_s: float) -> None:
        self._last = report
        now = self._clock()
        if now - self._last_line >= self._interval_s:
            self._last_line = now
            self._write(report, now, final=False)

    def done(self) -> None:
        if self._last is not None:
            self._write(self._last, self._clock(), final=True)

    def _write(self, report: TickReport, now: float, *, final: bool) -> None:
        line = (
            f"{self._label}: {self._ended():,} of {self._jobs:,} jobs ended,"
            f" {report.pending:,} waiting, {report.running:,} running"
            f" · sim time {sim_time(report.at - self._start)} · {now - self._began:.1f} s"
        )
        if self._in_place:
            # \x1b[K clears what a longer earlier line left on the right
            self._stream.write(f"\r{line}\x1b[K" + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
