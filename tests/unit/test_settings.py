"""Coordinator settings refuse values that make no sense, naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.cli.serve import GC_YOUNG_THRESHOLD, serve_settings
from scheduler.domain.errors import InvalidField
from scheduler.service.settings import CoordinatorSettings


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_retries", -1, "must not be negative"),
        ("tick_interval_s", 0, "must be positive"),
        ("min_tick_gap_s", 2.0, "between 0 and tick_interval_s"),
        ("rest_per_busy", -0.5, "must not be negative"),
        ("idle_cycle_interval_s", -1, "must not be negative"),
        ("arrival_cycle_interval_s", -1, "must not be negative"),
        ("max_batch", 0, "must be at least 1"),
        ("commit_delay_s", -0.001, "between 0 and 1 second"),
        ("commit_delay_s", 1.5, "between 0 and 1 second"),
        ("switch_interval_s", 0, "between 0 and 1 second"),
        ("gc_young_threshold", 0, "must be at least 1"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidField, match=message) as refused:
        CoordinatorSettings(**{field: value})
    assert refused.value.field == field


def test_the_defaults_hold_together() -> None:
    settings = CoordinatorSettings()
    assert 0 < settings.commit_delay_s <= 0.01  # a few ms: commits gather, calls barely wait
    assert settings.min_tick_gap_s <= settings.tick_interval_s


def test_only_serve_tunes_the_garbage_collector() -> None:
    # a library user's process keeps Python's collector; the long-lived server tunes it
    assert CoordinatorSettings().gc_young_threshold is None
    assert not CoordinatorSettings().gc_freeze
    served = serve_settings(max_retries=3, tick_interval_s=1.0)
    assert served.gc_young_threshold == GC_YOUNG_THRESHOLD > 700
    assert served.gc_freeze
