"""Golden replays: small slices of the shared traces give exactly the recorded figures, every
time (regenerate with `python -m tests.golden.regenerate`, see tests/golden/cases.py)."""

from __future__ import annotations

import pytest

from tests.golden.cases import CASES, Case


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_trace_slice_replays_to_its_recorded_figures(case: Case) -> None:
    assert case.run() == case.recorded()


def test_a_replay_run_twice_gives_identical_figures() -> None:
    case = next(c for c in CASES if c.programs)
    assert case.run() == case.run()
