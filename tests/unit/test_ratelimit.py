"""The per-tenant token bucket on a fake clock: bursts, refills, isolation between tenants,
fractional rates, what a refused call is told, costs, and many threads taking at once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from scheduler.api.ratelimit import RateLimit, RateLimited, submit_cost
from scheduler.domain.errors import InvalidField


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self, at: float = 1000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


def outcomes(limit: RateLimit, clock: FakeClock, steps: Sequence[tuple[float, str, int]]) -> str:
    """Each step advances the clock, then key takes cost: '+' granted, '-' refused."""
    seen = ""
    for advance, key, cost in steps:
        clock.advance(advance)
        try:
            limit.take(key, cost)
            seen += "+"
        except RateLimited:
            seen += "-"
    return seen


@pytest.mark.parametrize(
    ("calls_per_s", "burst", "steps", "expected"),
    [
        # A full bucket lets `burst` calls through at once, then none.
        (10, 3, [(0, "a", 1)] * 4, "+++-"),
        # It refills at the rate: a tenth of a second brings one token back at 10/s.
        (10, 3, [(0, "a", 1)] * 3 + [(0.05, "a", 1), (0.05, "a", 1), (0, "a", 1)], "+++-+-"),
        # Never above the burst, however long the tenant was quiet.
        (10, 2, [(0, "a", 1)] * 2 + [(60, "a", 1)] * 1 + [(0, "a", 1)] * 2, "++++-"),
        # Tenants do not share: b has its own full bucket while a has none.
        (1, 2, [(0, "a", 1)] * 3 + [(0, "b", 1)] * 3, "++-++-"),
        # Fractional rate: 0.5/s is one call every two seconds.
        (0.5, 1, [(0, "a", 1), (1, "a", 1), (1, "a", 1), (1.5, "a", 1), (0.5, "a", 1)], "+-+-+"),
        # Fractions that are not exact in binary still add up: 0.1 + 0.2 + 0.7 seconds at 1/s.
        (1, 1, [(0, "a", 1), (0.1, "a", 1), (0.2, "a", 1), (0.7, "a", 1)], "+--+"),
        # A cost takes that many tokens, and is refused whole when fewer are left.
        (1, 10, [(0, "a", 4), (0, "a", 4), (0, "a", 4), (0, "a", 2)], "++-+"),
        # A cost above the burst is charged as the burst (else it could never pass).
        (1, 5, [(0, "a", 50), (0, "a", 1), (5, "a", 50)], "+-+"),
    ],
)
def test_the_bucket(
    calls_per_s: float, burst: int, steps: list[tuple[float, str, int]], expected: str
) -> None:
    clock = FakeClock()
    limit = RateLimit(calls_per_s, burst, clock)

    assert outcomes(limit, clock, steps) == expected


def test_a_refused_call_takes_nothing() -> None:
    clock = FakeClock()
    limit = RateLimit(2, 1, clock)
    limit.take("a")
    for _ in range(5):  # refused again and again: the debt does not grow
        with pytest.raises(RateLimited):
            limit.take("a")

    clock.advance(0.5)  # exactly one token at 2/s

    limit.take("a")
    assert limit.tokens("a") == 0


@pytest.mark.parametrize(
    ("calls_per_s", "burst", "taken", "wait", "details"),
    [
        (50, 100, 100, 20, "tenant 'x' is over 50 calls/s (burst 100); retry in 20 ms"),
        (0.5, 1, 1, 2000, "tenant 'x' is over 0.5 calls/s (burst 1); retry in 2000 ms"),
        (3, 1, 1, 334, "tenant 'x' is over 3 calls/s (burst 1); retry in 334 ms"),
    ],
)
def test_a_refusal_says_the_limit_and_when_to_retry(
    calls_per_s: float, burst: int, taken: int, wait: int, details: str
) -> None:
    limit = RateLimit(calls_per_s, burst, FakeClock())
    for _ in range(taken):
        limit.take("x")

    with pytest.raises(RateLimited) as refused:
        limit.take("x")

    assert refused.value.retry_after_ms == wait
    assert str(refused.value) == f"rate limit: {details}"


def test_the_retry_time_is_enough_and_counts_what_is_left() -> None:
    clock = FakeClock()
    limit = RateLimit(10, 5, clock)
    limit.take("a", 5)
    clock.advance(0.25)  # 2.5 tokens back; a cost of 4 misses 1.5, 150 ms at 10/s

    with pytest.raises(RateLimited) as refused:
        limit.take("a", 4)
    assert refused.value.retry_after_ms == 150
    clock.advance(refused.value.retry_after_ms / 1000)
    limit.take("a", 4)


@pytest.mark.parametrize(
    ("jobs", "cost"), [(0, 1), (1, 1), (100, 1), (101, 2), (1000, 10), (1001, 11)]
)
def test_a_batch_costs_one_token_per_started_hundred_jobs(jobs: int, cost: int) -> None:
    assert submit_cost(jobs) == cost


def test_a_clock_that_steps_back_refills_nothing() -> None:
    clock = FakeClock()
    limit = RateLimit(1, 1, clock)
    limit.take("a")
    clock.advance(-10)

    with pytest.raises(RateLimited):
        limit.take("a")
    clock.advance(11)  # one second after the take
    limit.take("a")


@pytest.mark.parametrize(
    ("calls_per_s", "burst", "field"),
    [
        (0, 1, "calls_per_s"),
        (-1, 1, "calls_per_s"),
        (float("inf"), 1, "calls_per_s"),
        (float("nan"), 1, "calls_per_s"),
        (1, 0, "burst"),
    ],
)
def test_a_limit_must_be_positive(calls_per_s: float, burst: int, field: str) -> None:
    with pytest.raises(InvalidField) as bad:
        RateLimit(calls_per_s, burst, FakeClock())
    assert bad.value.field == field


def test_threads_taking_at_once_get_exactly_the_burst() -> None:
    limit = RateLimit(1, 500, FakeClock())  # the clock stands still: no refill
    granted: list[int] = []
    start = threading.Barrier(8)

    def taker() -> None:
        mine = 0
        start.wait(10)
        for _ in range(200):
            try:
                limit.take("a")
                mine += 1
            except RateLimited:
                pass
        granted.append(mine)

    threads = [threading.Thread(target=taker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(granted) == 8
    assert sum(granted) == 500
