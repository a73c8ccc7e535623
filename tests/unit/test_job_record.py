"""`JobRecord.change`: what `dataclasses.replace(record.as_change(), **moved)` gives, field by
field, without its machinery (the coordinator makes every job change through it)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest

from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import JobState, Placement
from scheduler.store.records import JobChange, JobRecord
from tests.builders import ASCEND, a_job

RECORD = JobRecord(
    a_job("j1").build(),
    JobState.RUNNING,
    2,
    Placement(ASCEND, Jurisdiction.MAINLAND, (("n1", 1),)),
    40,
    None,
    "x",
    "why",
    70,
    1,
)

MOVES: list[dict[str, Any]] = [
    {},
    {"state": JobState.SUCCEEDED},
    {"attempt": 3},
    {"placement": None},
    {"started_at": None},
    {"ended_at": 90},
    {"reason_code": None},
    {"reason": "other"},
    {"failures": 0},
    {"state": JobState.QUEUED, "placement": None, "started_at": None, "reason": None},
]


@pytest.mark.parametrize("moved", MOVES, ids=lambda m: ",".join(m) or "nothing")
def test_a_change_holds_the_record_with_the_moved_fields(moved: dict[str, Any]) -> None:
    assert RECORD.change(**moved) == replace(RECORD.as_change(), **moved)


def test_every_field_of_a_change_but_the_job_id_can_be_moved() -> None:
    names = {f.name for f in fields(JobChange)} - {"job_id"}
    assert {name for move in MOVES for name in move} == names


@pytest.mark.parametrize("name", ["job_id", "updated_at", "stat"])
def test_a_field_a_change_cannot_move_is_refused(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        RECORD.change(**{name: 1})
