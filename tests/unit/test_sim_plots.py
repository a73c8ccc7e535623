"""What the replay plots are drawn from: the tally's samples of the pool at every change, the
curves of a replay (CDF inputs, tenants, subsidy over time), and their slicing into time bins;
the count of jobs ended that progress lines show."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scheduler.policy.registry import resolve_policy
from scheduler.sim.plots import binned
from scheduler.sim.replay import Replay, ReplaySettings
from scheduler.sim.report import curves, figures
from scheduler.sim.tally import Outcome, Sample, Tally
from tests.service_builders import money
from tests.unit.test_sim_replay import a_trace, nodes


def test_the_tally_keeps_no_series_unless_asked() -> None:
    tally = Tally({})
    tally.arrive("j1", "t1", 0)
    assert tally.series is None


def test_the_series_samples_held_and_waiting_once_per_changed_second() -> None:
    tally = Tally({})
    tally.keep_series()
    tally.arrive("j1", "t1", 0)
    tally.arrive("j2", "t1", 0)
    tally.admit("j1", 8, 0)
    tally.admit("j2", 4, 10)
    tally.release("j2", 20, preempted=True)
    tally.end("j1", 30, tally.jobs["j1"].outcome.SUCCEEDED)
    assert tally.series == [
        Sample(0, 8, 1),  # the state after the second's last change
        Sample(10, 12, 0),
        Sample(20, 8, 1),
        Sample(30, 0, 1),
    ]


def test_curves_of_a_replay() -> None:
    trace = a_trace().job(at=0, runs=100, gpus=8).job(at=0, runs=50, gpus=8, tenant="t2")
    replay = Replay(trace.build(), nodes(1), resolve_policy("fifo"), settings=ReplaySettings())
    replay.tally.keep_series()
    result = replay.run()
    drawn = curves(result)
    assert drawn.policy == "fifo:binpack"
    assert (drawn.capacity, drawn.span_s) == (8, 150)
    assert sorted(drawn.jct_s) == [100, 150]
    assert sorted(drawn.queue_s) == [0, 100]
    assert drawn.samples == (Sample(0, 8, 1), Sample(100, 8, 0), Sample(150, 0, 0))
    assert drawn.tenants == (("t1", 1, 800), ("t2", 1, 400))
    # without programs nothing is paid; with them the last point is the figure
    assert drawn.subsidy == {}


def test_the_subsidy_curve_ends_at_what_the_programs_paid() -> None:
    trace = a_trace().job(at=0, runs=3_600, tenant="t1").job(at=0, runs=1_800, tenant="t2")
    policy = resolve_policy("fifo")
    result = Replay(trace.build(), nodes(2), policy, programs=money()).run()
    drawn = curves(result)
    paid = figures(result)["subsidy_paid_minor"]
    assert set(drawn.subsidy) == set(paid)
    for currency, points in drawn.subsidy.items():
        assert [at for at, _ in points] == [1_800, 3_600]
        assert points[-1][1] == paid[currency] > 0


def test_bins_are_time_weighted_means() -> None:
    samples = [Sample(0, 8, 2), Sample(50, 0, 0), Sample(150, 4, 1)]
    points = binned(samples, 200, bins=4)
    assert [round(p[0] * 3600) for p in points] == [25, 75, 125, 175]
    assert [p[1] for p in points] == [8.0, 0.0, 0.0, 4.0]
    assert [p[2] for p in points] == [2.0, 0.0, 0.0, 1.0]
    # a change inside a bin is weighted by how long each state lasted
    assert binned([Sample(0, 8, 0), Sample(25, 0, 0)], 100, bins=2)[0][1] == 4.0
    assert binned([], 100) == [] and binned(samples, 0) == []


def test_the_replay_and_the_command_line_run_without_matplotlib() -> None:
    code = (
        "import sys, scheduler.cli.main, scheduler.sim.replay, scheduler.sim.report; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_tally_counts_jobs_ended_and_refuses_to_end_one_twice() -> None:
    tally = Tally({})
    for job in ("j1", "j2", "j3"):
        tally.arrive(job, "t1", 0)
    tally.admit("j1", 8, 0)
    tally.end("j1", 30, Outcome.SUCCEEDED)  # while holding
    tally.end("j2", 30, Outcome.REJECTED)  # while waiting
    assert (tally.ended_jobs, tally.waiting, tally.holding) == (2, 1, 0)
    with pytest.raises(ValueError, match="j1 already ended"):
        tally.end("j1", 40, Outcome.FAILED)
    assert tally.ended_jobs == 2
