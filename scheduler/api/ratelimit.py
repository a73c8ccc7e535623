"""Per-tenant rate limits: a token bucket per tenant.

A bucket holds at most `burst` tokens and refills at `calls_per_s` tokens a second (fractions
allowed, e.g. 0.5: one call every two seconds). Every Scheduler call of a tenant takes one token
after it is authenticated; SubmitJobs takes one per started `JOBS_PER_TOKEN` jobs (`submit_cost`),
because a batch costs the server about one call plus a little per job (one group commit), and
batching is what a tenant should do. A call that finds too few tokens is refused with
`RateLimited` (RESOURCE_EXHAUSTED, and the trailing metadata `retry-after-ms`), takes nothing and
changes nothing. All principals of one tenant share its bucket (a tenant cannot multiply its
limit by holding more tokens). Operators are not limited: they are few and trusted, and must be
able to act (cancel, drain) while tenants flood the server.

The clock is injected (seconds, monotonic) so that tests are deterministic; `take` may be called
from any thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField

DEFAULT_CALLS_PER_S = 50
DEFAULT_BURST = 100
JOBS_PER_TOKEN = 100
RETRY_AFTER_MS = "retry-after-ms"
"""The trailing metadata of a refused call: whole milliseconds until the bucket holds enough."""

_SLACK = 1e-9  # tokens; float refills like 0.1 + 0.2 must not refuse a call they paid for


class RateLimited(Exception):
    """A tenant's call found too few tokens in its bucket; nothing was done."""

    def __init__(self, tenant: str, calls_per_s: float, burst: int, retry_after_ms: int) -> None:
        super().__init__(
            f"rate limit: tenant {tenant!r} is over {calls_per_s:g} calls/s (burst {burst}); "
            f"retry in {retry_after_ms} ms"
        )
        self.tenant = tenant
        self.retry_after_ms = retry_after_ms


def submit_cost(jobs: int) -> int:
    """The tokens a SubmitJobs call of `jobs` jobs takes: one per started `JOBS_PER_TOKEN`."""
    return max(1, math.ceil(jobs / JOBS_PER_TOKEN))


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # clock seconds of the last refill


class RateLimit:
    """`RateLimit(50, 100)`: every key may make `burst` calls at once and `calls_per_s` a second
    on average. A new key starts with a full bucket."""

    def __init__(
        self,
        calls_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(calls_per_s) and calls_per_s > 0):
            raise InvalidField("calls_per_s", "must be a positive number")
        if burst < 1:
            raise InvalidField("burst", "must be at least 1")
        self.calls_per_s = calls_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateLimit({self.calls_per_s:g} calls/s, burst {self.burst})"

    def take(self, key: str, cost: int = 1) -> None:
        """Take `cost` tokens of `key`'s bucket, or raise `RateLimited` and take none. A cost
        above the burst is charged as the burst: such a call could otherwise never pass."""
        cost = min(max(cost, 1), self.burst)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            elif now > bucket.at:
                refilled = bucket.tokens + (now - bucket.at) * self.calls_per_s
                bucket.tokens = min(float(self.burst), refilled)
                bucket.at = now
            if bucket.tokens + _SLACK >= cost:
                bucket.tokens = max(0.0, bucket.tokens - cost)
                return
            missing = cost - bucket.tokens
        wait_ms = max(1, math.ceil(missing / self.calls_per_s * 1000 - _SLACK))
        raise RateLimited(key, self.calls_per_s, self.burst, wait_ms)

    def tokens(self, key: str) -> float:
        """What `key`'s bucket holds now (a full bucket for a key never seen)."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return float(self.burst)
            elapsed = max(0.0, self._clock() - bucket.at)
            return min(float(self.burst), bucket.tokens + elapsed * self.calls_per_s)
