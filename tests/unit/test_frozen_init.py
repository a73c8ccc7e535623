"""`quick_init` builds the same objects as the dataclass's own `__init__`, and they stay frozen."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.errors import InvalidField
from scheduler.domain.frozen import quick_init
from scheduler.domain.jobs import Gang, Job
from scheduler.domain.requests import JobRequest
from scheduler.store.records import JobChange, JobRecord, SubmitOutcome


@dataclass(frozen=True, slots=True)
class Plain:
    name: str
    count: int
    tags: tuple[str, ...] = ()
    note: str | None = None

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")


@quick_init
@dataclass(frozen=True, slots=True)
class Quick:
    name: str
    count: int
    tags: tuple[str, ...] = ()
    note: str | None = None

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")


def values(obj: Any) -> tuple[object, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))


def outcome(make: type, *args: object, **kwargs: object) -> object:
    try:
        return values(make(*args, **kwargs))
    except (TypeError, ValueError) as exc:
        return type(exc)


ARGS = st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=3), st.none()), max_size=5)
KWARGS = st.dictionaries(
    st.sampled_from(["name", "count", "tags", "note", "other"]),
    st.one_of(st.integers(-3, 3), st.just(("a",)), st.none()),
    max_size=4,
)


@given(ARGS, KWARGS)
def test_builds_what_the_generated_init_builds_or_fails_alike(
    args: list[object], kwargs: dict[str, object]
) -> None:
    assert outcome(Quick, *args, **kwargs) == outcome(Plain, *args, **kwargs)


def test_instances_stay_frozen_and_post_init_still_checks() -> None:
    quick = Quick("a", 1)
    with pytest.raises(FrozenInstanceError):
        quick.count = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="count must not be negative"):
        Quick("a", -1)
    assert Quick("a", 1) == Quick(name="a", count=1, tags=(), note=None)
    assert hash(Quick("a", 1)) == hash(Quick("a", 1))


@pytest.mark.parametrize(
    "cls", [Job, Gang, JobRequest, JobRecord, SubmitOutcome, JobChange], ids=lambda c: c.__name__
)
def test_decorated_classes_keep_their_signature(cls: type) -> None:
    parameters = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in parameters] == [f.name for f in fields]
    assert [p.default for p in parameters] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters)


def test_job_checks_still_run() -> None:
    with pytest.raises(InvalidField, match=r"gang\.workers"):
        Gang(0, 1)


def test_refuses_what_it_cannot_reproduce() -> None:
    with pytest.raises(TypeError, match="frozen=True, slots=True"):

        @quick_init
        @dataclass(frozen=True)
        class NoSlots:
            a: int

    with pytest.raises(TypeError, match="frozen=True, slots=True"):

        @quick_init
        @dataclass(slots=True)
        class NotFrozen:
            a: int

    with pytest.raises(TypeError, match="default value"):

        @quick_init
        @dataclass(frozen=True, slots=True)
        class Factory:
            a: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match="default value"):

        @quick_init
        @dataclass(frozen=True, slots=True, kw_only=True)
        class KeywordOnly:
            a: int
