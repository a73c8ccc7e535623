"""The scale run's benchmark (benchmarks/scale.py), with tiny parameters: it runs, stops at its
bound and prints the documented figures."""

from __future__ import annotations

import gc
import json

import pytest

from benchmarks import scale
from scheduler.cli.serve import GC_YOUNG_THRESHOLD

FIELDS = {
    "pool_accelerators",
    "pool_nodes",
    "jobs",
    "arrived",
    "stopped_at_bound",
    "pending_end",
    "pending_min",
    "pending_max",
    "running_end",
    "utilisation_end",
    "admissions",
    "preemptions",
    "ticks",
    "cycles",
    "fill_cycle_ms",
    "cycle_ms_p50",
    "cycle_ms_p99",
    "cycle_ms_max",
    "fill_tick_ms",
    "tick_ms_p50",
    "tick_ms_p99",
    "tick_ms_max",
    "setup_s",
    "run_wall_s",
    "wall_s",
    "peak_rss_mib",
    "rss_target_mib",
    "rss_met",
    "engine_cycle_ms",
    "engine_pending",
    "engine_admitted",
    "tick_vs_engine",
    "gc",
}


def test_a_tiny_scale_run_prints_the_documented_figures(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--accelerators", "800", "--pending", "300", "--minutes", "20", "--json"]
    threshold = gc.get_threshold()
    try:
        assert scale.main(argv) == 0
        # tuned as `serve` tunes it: the backlog frozen after the fill
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:  # the rest of the test session keeps Python's collector
        gc.unfreeze()
        gc.set_threshold(*threshold)
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= FIELDS
    assert out["pool_accelerators"] == 800
    assert out["stopped_at_bound"] is True
    assert out["ticks"] == 21  # one a simulated minute, from 0 to 20 minutes
    assert out["cycles"] >= 1 and out["admissions"] > 0
    assert out["pending_max"] >= out["pending_end"] > 200  # a backlog remains
    assert out["engine_pending"] == out["pending_end"]
    assert out["rss_met"] is (out["peak_rss_mib"] <= 2048)
