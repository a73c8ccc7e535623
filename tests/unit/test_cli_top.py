"""`gbasched top`'s figures from two scrapes of hand-written exposition text: rates from the
counters' growth (a counter that fell restarted), the queue, utilisation, capacity against the
target, admission-wait quantiles as Prometheus' histogram_quantile estimates them, and an empty
pool."""

from __future__ import annotations

import io
import json
import math

import pytest
from rich.console import Console

from scheduler.cli.main import main
from scheduler.cli.top import (
    EXPECTED,
    Scrape,
    TopView,
    build_view,
    histogram_quantile,
    parse_scrape,
    render,
)

COUNTERS = """\
# TYPE gba_scheduler_jobs_submitted_total counter
gba_scheduler_jobs_submitted_total{{tenant="a"}} {sa}
gba_scheduler_jobs_submitted_total{{tenant="b"}} {sb}
# TYPE gba_scheduler_jobs_admitted_total counter
gba_scheduler_jobs_admitted_total{{tenant="a"}} {admitted}
# TYPE gba_scheduler_jobs_started_total counter
gba_scheduler_jobs_started_total{{tenant="a"}} {started}
# TYPE gba_scheduler_jobs_finished_total counter
gba_scheduler_jobs_finished_total{{tenant="a",outcome="succeeded"}} {ok}
gba_scheduler_jobs_finished_total{{tenant="a",outcome="failed"}} {failed}
"""

STATE = """\
# TYPE gba_scheduler_jobs_pending gauge
gba_scheduler_jobs_pending{tenant="a",priority_class="batch"} 3
gba_scheduler_jobs_pending{tenant="a",priority_class="urgent"} 1
gba_scheduler_jobs_pending{tenant="b",priority_class="batch"} 7
gba_scheduler_jobs_pending{tenant="c",priority_class="batch"} 2
gba_scheduler_jobs_pending{tenant="d",priority_class="batch"} 0
# TYPE gba_scheduler_jobs_pending_by_reason gauge
gba_scheduler_jobs_pending_by_reason{reason="QUOTA"} 9
gba_scheduler_jobs_pending_by_reason{reason="UNDECIDED"} 4
gba_scheduler_jobs_pending_by_reason{reason="CAPACITY"} 0
# TYPE gba_scheduler_jobs_running gauge
gba_scheduler_jobs_running{tenant="a"} 5
gba_scheduler_jobs_running{tenant="b"} 1
# TYPE gba_scheduler_accelerators gauge
gba_scheduler_accelerators{model="m1",city="shenzhen",owner_class="public"} 64
gba_scheduler_accelerators{model="m2",city="shenzhen",owner_class="commercial"} 32
gba_scheduler_accelerators{model="m1",city="hong-kong",owner_class="public"} 32
# TYPE gba_scheduler_accelerators_allocated gauge
gba_scheduler_accelerators_allocated{model="m1",city="shenzhen",owner_class="public"} 48
gba_scheduler_accelerators_allocated{model="m2",city="shenzhen",owner_class="commercial"} 8
gba_scheduler_accelerators_allocated{model="m1",city="hong-kong",owner_class="public"} 0
# TYPE gba_scheduler_capacity_pflops gauge
gba_scheduler_capacity_pflops{precision="fp16"} 40.5
gba_scheduler_capacity_pflops{precision="int8"} 81
# TYPE gba_scheduler_allocated_pflops gauge
gba_scheduler_allocated_pflops{precision="fp16"} 17.25
# TYPE gba_scheduler_capacity_target_pflops gauge
gba_scheduler_capacity_target_pflops{target="guangdong-2025"} 40000
gba_scheduler_capacity_target_pflops{target="guangdong-2027"} 60000
# TYPE gba_scheduler_last_tick_timestamp_seconds gauge
gba_scheduler_last_tick_timestamp_seconds 1700000000.5
# TYPE gba_scheduler_coordinator_stopped gauge
gba_scheduler_coordinator_stopped 0
# TYPE gba_scheduler_program_budget gauge
gba_scheduler_program_budget{program="gd-voucher",currency="CNY"} 1000000
gba_scheduler_program_budget{program="hk-ai-subsidy",currency="HKD"} 500000
# TYPE gba_scheduler_program_remaining gauge
gba_scheduler_program_remaining{program="hk-ai-subsidy",currency="HKD"} 499000.5
gba_scheduler_program_remaining{program="gd-voucher",currency="CNY"} 750000
"""

HISTOGRAMS = """\
# TYPE gba_scheduler_admission_wait_seconds histogram
gba_scheduler_admission_wait_seconds_bucket{{le="1.0"}} {w1}
gba_scheduler_admission_wait_seconds_bucket{{le="5.0"}} {w5}
gba_scheduler_admission_wait_seconds_bucket{{le="10.0"}} {w10}
gba_scheduler_admission_wait_seconds_bucket{{le="+Inf"}} {winf}
gba_scheduler_admission_wait_seconds_count {winf}
gba_scheduler_admission_wait_seconds_sum {wsum}
# TYPE gba_scheduler_cycle_duration_seconds histogram
gba_scheduler_cycle_duration_seconds_bucket{{le="0.01"}} {cycles}
gba_scheduler_cycle_duration_seconds_bucket{{le="+Inf"}} {cycles}
gba_scheduler_cycle_duration_seconds_count {cycles}
gba_scheduler_cycle_duration_seconds_sum {csum}
# TYPE gba_scheduler_cycles_total counter
gba_scheduler_cycles_total {cycles}
"""

ZERO = {
    "sa": 0,
    "sb": 0,
    "admitted": 0,
    "started": 0,
    "ok": 0,
    "failed": 0,
    "w1": 0,
    "w5": 0,
    "w10": 0,
    "winf": 0,
    "wsum": 0,
    "cycles": 0,
    "csum": 0,
}


def exposition(**counts: float) -> str:
    values = {**ZERO, **counts}
    return COUNTERS.format(**values) + STATE + HISTOGRAMS.format(**values)


def view_of(before: str, after: str, seconds: float = 2.0, top: int = 5) -> TopView:
    return build_view(parse_scrape(before, 100.0), parse_scrape(after, 100.0 + seconds), top)


# ---------------------------------------------------------------------- rates


@pytest.mark.parametrize(
    ("name", "before", "after", "seconds", "submitted", "restarted"),
    [
        ("growth", {"sa": 10, "sb": 4}, {"sa": 30, "sb": 8}, 2.0, 12.0, False),
        ("no growth", {"sa": 10}, {"sa": 10}, 2.0, 0.0, False),
        ("longer interval", {"sa": 0}, {"sa": 50}, 5.0, 10.0, False),
        # a restart: the counters fell, and their new values are what grew since
        ("counter reset", {"sa": 1000, "sb": 500}, {"sa": 6, "sb": 2}, 2.0, 4.0, True),
        # one series reset (its new value counts), the other grew as usual
        ("one series reset", {"sa": 100, "sb": 10}, {"sa": 4, "sb": 14}, 2.0, 4.0, True),
    ],
)
def test_submissions_per_second_from_two_scrapes(
    name: str,
    before: dict[str, float],
    after: dict[str, float],
    seconds: float,
    submitted: float,
    restarted: bool,
) -> None:
    view = view_of(exposition(**before), exposition(**after), seconds)

    assert view.submitted_per_s == pytest.approx(submitted), name
    assert view.restarted is restarted, name
    assert view.interval_s == seconds


def test_admitted_started_and_finished_by_outcome() -> None:
    view = view_of(
        exposition(admitted=2, started=1, ok=5, failed=1),
        exposition(admitted=12, started=9, ok=9, failed=2),
    )

    assert view.admitted_per_s == pytest.approx(5.0)
    assert view.started_per_s == pytest.approx(4.0)
    assert view.finished_per_s == pytest.approx(2.5)
    assert dict(view.finished_per_s_by_outcome) == pytest.approx({"failed": 0.5, "succeeded": 2.0})


def test_a_series_that_appears_counts_from_zero() -> None:
    before = exposition(sa=10).replace('gba_scheduler_jobs_submitted_total{tenant="b"} 0\n', "")

    view = view_of(before, exposition(sa=10, sb=6))

    assert view.submitted_per_s == pytest.approx(3.0)
    assert view.restarted is False


# ---------------------------------------------------------------------- queue and capacity


def test_the_queue_the_running_jobs_and_utilisation() -> None:
    view = view_of(exposition(), exposition(), top=2)

    assert view.pending == 13
    assert view.pending_by_tenant == (("b", 7.0), ("a", 4.0))  # top 2; d's zero never shows
    assert view.pending_by_reason == (("QUOTA", 9.0), ("UNDECIDED", 4.0))
    assert view.running == 6
    assert (view.accelerators, view.allocated) == (128, 56)
    assert view.utilisation == pytest.approx(56 / 128)
    assert [(s.name, s.allocated, s.accelerators) for s in view.utilisation_by_owner_class] == [
        ("commercial", 8, 32),
        ("public", 48, 96),
    ]
    assert [(s.name, s.utilisation) for s in view.utilisation_by_city] == [
        ("hong-kong", 0.0),
        ("shenzhen", pytest.approx(56 / 96)),
    ]
    assert (view.capacity_pflops_fp16, view.allocated_pflops_fp16) == (40.5, 17.25)
    assert (view.target, view.target_pflops_fp16) == ("guangdong-2027", 60000)
    assert view.last_tick_timestamp == 1700000000.5
    assert view.coordinator_stopped is False
    assert [(r.program, r.currency, r.remaining, r.budget) for r in view.program_remaining] == [
        ("gd-voucher", "CNY", 750000, 1000000),
        ("hk-ai-subsidy", "HKD", 499000.5, 500000),
    ]
    assert view.missing == ()


EMPTY_POOL = """\
# TYPE gba_scheduler_jobs_submitted_total counter
# TYPE gba_scheduler_jobs_pending gauge
# TYPE gba_scheduler_jobs_running gauge
# TYPE gba_scheduler_accelerators gauge
# TYPE gba_scheduler_accelerators_allocated gauge
# TYPE gba_scheduler_capacity_pflops gauge
gba_scheduler_capacity_pflops{precision="fp16"} 0
# TYPE gba_scheduler_coordinator_stopped gauge
gba_scheduler_coordinator_stopped 0
"""


def test_an_empty_pool() -> None:
    view = view_of(EMPTY_POOL, EMPTY_POOL)

    # A family with no samples is as good as absent: no figure, rather than a made-up zero.
    assert view.submitted_per_s is None
    assert view.pending is None and view.running is None
    assert view.accelerators is None and view.utilisation is None
    assert view.utilisation_by_owner_class == () and view.utilisation_by_city == ()
    assert view.capacity_pflops_fp16 == 0
    assert view.target_pflops_fp16 == 60000  # the 2027 target when the endpoint serves none
    assert view.admission_wait_p50_s is None and view.admission_wait_window == ""
    assert view.cycle_mean_s is None
    assert view.program_remaining == ()
    assert view.coordinator_stopped is False
    assert set(view.missing) == set(EXPECTED) - {
        "gba_scheduler_capacity_pflops",
        "gba_scheduler_coordinator_stopped",
    }


def test_a_pool_with_no_accelerators_is_zero_utilised() -> None:
    text = EMPTY_POOL + (
        'gba_scheduler_accelerators{model="m",city="c",owner_class="o",jurisdiction="j"} 0\n'
        'gba_scheduler_accelerators_allocated{model="m",city="c",owner_class="o",'
        'jurisdiction="j"} 0\n'
    )
    view = view_of(text, text)

    assert view.utilisation == 0.0
    assert [(s.name, s.utilisation) for s in view.utilisation_by_city] == [("c", 0.0)]


def test_the_old_endpoint_names_are_all_missing() -> None:
    old = "# TYPE gbasched_jobs_pending gauge\ngbasched_jobs_pending 3\n"

    view = view_of(old, old)

    assert view.missing == EXPECTED
    assert view.pending is None
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render(view, "http://x/metrics"))
    assert "serves none of the gba_scheduler_* metrics" in console.export_text()


# ---------------------------------------------------------------------- histograms


@pytest.mark.parametrize(
    ("name", "buckets", "q", "expected"),
    [
        # 10 observations: 2 ≤ 1 s, 6 in (1, 5], 2 in (5, 10]. The median's rank 5 is the third
        # of the six in (1, 5]: 1 + 4 × 3/6.
        ("median", {1.0: 2, 5.0: 8, 10.0: 10, math.inf: 10}, 0.5, 3.0),
        ("p90", {1.0: 2, 5.0: 8, 10.0: 10, math.inf: 10}, 0.9, 7.5),
        ("first bucket from zero", {1.0: 4, 5.0: 4, math.inf: 4}, 0.5, 0.5),
        ("rank in +Inf: the highest finite bound", {1.0: 1, 5.0: 2, math.inf: 10}, 0.9, 5.0),
        ("empty", {1.0: 0, math.inf: 0}, 0.5, None),
        ("no +Inf bucket", {1.0: 3}, 0.5, None),
    ],
)
def test_histogram_quantile_as_prometheus_estimates_it(
    name: str, buckets: dict[float, float], q: float, expected: float | None
) -> None:
    assert histogram_quantile(q, buckets) == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("name", "before", "after", "p50", "p90", "window"),
    [
        # over the interval: 10 admissions, 2 ≤ 1 s, 6 in (1, 5], 2 in (5, 10]
        (
            "interval",
            {"w1": 5, "w5": 5, "w10": 5, "winf": 5},
            {"w1": 7, "w5": 13, "w10": 15, "winf": 15},
            3.0,
            7.5,
            "interval",
        ),
        # none admitted in the interval: the quantiles since the coordinator started
        (
            "since start",
            {"w1": 2, "w5": 8, "w10": 10, "winf": 10},
            {"w1": 2, "w5": 8, "w10": 10, "winf": 10},
            3.0,
            7.5,
            "since start",
        ),
        # a restart: the new counts are all of the interval
        (
            "reset",
            {"w1": 50, "w5": 80, "w10": 100, "winf": 100},
            {"w1": 2, "w5": 8, "w10": 10, "winf": 10},
            3.0,
            7.5,
            "interval",
        ),
        ("none ever", {}, {}, None, None, ""),
    ],
)
def test_admission_wait_quantiles(
    name: str,
    before: dict[str, float],
    after: dict[str, float],
    p50: float | None,
    p90: float | None,
    window: str,
) -> None:
    view = view_of(exposition(**before), exposition(**after))

    assert view.admission_wait_p50_s == (None if p50 is None else pytest.approx(p50)), name
    assert view.admission_wait_p90_s == (None if p90 is None else pytest.approx(p90)), name
    assert view.admission_wait_window == window, name


def test_cycles_per_second_and_their_mean_duration() -> None:
    view = view_of(exposition(cycles=10, csum=0.05), exposition(cycles=14, csum=0.07))

    assert view.cycles_per_s == pytest.approx(2.0)
    assert view.cycle_mean_s == pytest.approx(0.005)


# ---------------------------------------------------------------------- output


def test_the_json_and_the_screen_carry_the_figures() -> None:
    view = view_of(exposition(sa=10), exposition(sa=30, w1=1, winf=1))

    figures = json.loads(json.dumps(view.to_json()))
    assert figures["submitted_per_s"] == pytest.approx(10.0)
    assert figures["pending"] == 13 and figures["running"] == 6
    assert figures["pending_by_tenant"][0] == {"tenant": "b", "jobs": 7}
    assert figures["utilisation_by_owner_class"][0] == {
        "name": "commercial",
        "allocated": 8,
        "accelerators": 32,
        "utilisation": 0.25,
    }
    assert figures["admission_wait_window"] == "interval"

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(render(view, "http://x/metrics", now=1700000002.5))
    screen = console.export_text()
    for expected in (
        "Submitted",
        "10.0",
        "tenant b",
        "QUOTA",
        "43.8%",
        "guangdong-2027",
        "2.0 s ago",
    ):
        assert expected in screen, screen


def test_parse_scrape_keeps_every_sample_by_name() -> None:
    scrape = parse_scrape(exposition(sa=3), 1.0)

    assert isinstance(scrape, Scrape)
    assert scrape.series("gba_scheduler_jobs_submitted_total")[(("tenant", "a"),)] == 3
    assert not scrape.has("gba_scheduler_nope")


def test_an_unreachable_endpoint_is_an_error_naming_the_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "http://127.0.0.1:9/metrics"  # discard: nothing listens

    status = main(["top", "--metrics", url, "--once", "--interval", "0.01"])

    assert status == 1
    assert capsys.readouterr().err.startswith(f"gbasched: error: cannot read metrics from {url}: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--interval", "0"], "--interval"),
        (["--top", "0"], "--top"),
        (["--json"], "--json"),
    ],
)
def test_bad_switches_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["top", *argv]) == 2
    assert message in capsys.readouterr().err


def test_live_mode_shows_the_error_retries_and_exits_0_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr("scheduler.cli.top.time.sleep", sleep)
    url = "http://127.0.0.1:9/metrics"

    assert main(["top", "--metrics", url, "--interval", "0.25"]) == 0

    assert sleeps == [0.25, 0.25, 0.25]  # it kept trying
    assert f"cannot read metrics from {url}" in capsys.readouterr().out
