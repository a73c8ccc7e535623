"""The progress lines `gbasched sim` writes to stderr while a replay runs."""

from __future__ import annotations

import io

import pytest

from scheduler.cli.replay_progress import ReplayProgress, sim_time
from scheduler.service.coordinator import TickReport


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "00:00:00"),
        (59, "00:00:59"),
        (3_661, "01:01:01"),
        (86_400, "1d 00:00:00"),
        (3 * 86_400 + 4 * 3_600 + 5 * 60 + 6, "3d 04:05:06"),
        (-5, "00:00:00"),
    ],
)
def test_sim_time_reads_as_days_and_a_clock(seconds: int, shown: str) -> None:
    assert sim_time(seconds) == shown


def tick(at: int, pending: int, running: int) -> TickReport:
    return TickReport(at, 0, 0, 0, 0, pending, running, 0.0, True)


class Wall:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def meter(stream: io.StringIO, wall: Wall, ended: list[int], *, in_place: bool) -> ReplayProgress:
    return ReplayProgress(
        "fifo:binpack",
        1_200,
        1_000,
        lambda: ended[0],
        stream,
        interval_s=2.0,
        in_place=in_place,
        clock=wall,
    )


def test_a_line_every_interval_then_the_last_one() -> None:
    stream, wall, ended = io.StringIO(), Wall(), [0]
    progress = meter(stream, wall, ended, in_place=False)
    progress(tick(1_000, 5, 1), 0.0)
    wall.now += 1.0
    progress(tick(1_500, 9, 2), 0.0)  # within the interval: nothing
    assert stream.getvalue() == ""
    wall.now += 1.5
    ended[0] = 1_000
    progress(tick(90_061, 30, 4), 0.0)
    wall.now += 0.5
    ended[0] = 1_200
    progress(tick(100_000, 0, 0), 0.0)
    progress.done()
    assert stream.getvalue().splitlines() == [
        "fifo:binpack: 1,000 of 1,200 jobs ended, 30 waiting, 4 running"
        " · sim time 1d 00:44:21 · 2.5 s",
        "fifo:binpack: 1,200 of 1,200 jobs ended, 0 waiting, 0 running"
        " · sim time 1d 03:30:00 · 3.0 s",
    ]


def test_on_a_terminal_one_line_is_rewritten_and_ended_by_the_last() -> None:
    stream, wall, ended = io.StringIO(), Wall(), [3]
    progress = meter(stream, wall, ended, in_place=True)
    wall.now += 2.0
    progress(tick(1_060, 1, 1), 0.0)
    progress.done()
    line = "fifo:binpack: 3 of 1,200 jobs ended, 1 waiting, 1 running · sim time 00:01:00 · 2.0 s"
    assert stream.getvalue() == f"\r{line}\x1b[K\r{line}\x1b[K\n"


def test_a_replay_that_never_ticked_writes_nothing() -> None:
    stream = io.StringIO()
    meter(stream, Wall(), [0], in_place=False).done()
    assert stream.getvalue() == ""
