"""The figures of a replay, exactly as `docs/simulator.md` defines them.

Times are seconds of simulated time; percentiles are nearest-rank (the smallest value with at
least p % of the values at or below it); means, utilisation and the fairness index are rounded
to 6 decimals so that a figure prints the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scheduler.ledger.book import AccountKind, Ledger, PostingKind
from scheduler.ledger.reports import program_report
from scheduler.sim.replay import ReplayResult
from scheduler.sim.tally import Outcome, Sample, Tally

DECIMALS = 6
TIMING_FIELDS = ("sim_wall_s", "sim_jobs_per_s")
"""Fields that measure the machine, not the schedule: left out of golden comparisons."""


def percentile(values: list[int], p: int) -> int:
    """Nearest rank: the ⌈p/100 · n⌉-th smallest value (0 for no values)."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[rank - 1]


def mean(values: list[int]) -> float:
    return round(sum(values) / len(values), DECIMALS) if values else 0.0


def jain_index(tally: Tally) -> float:
    """Jain's index over the tenants that ever waited, of x = (accelerator-seconds received
    while the tenant had a job waiting) ÷ (seconds it had a job waiting) ÷ its weight."""
    shares = [
        t.served_backlogged / t.backlogged_s / t.weight
        for t in tally.tenants.values()
        if t.backlogged_s > 0
    ]
    if not shares:
        return 1.0
    squares = sum(x * x for x in shares)
    if squares == 0:
        return 1.0  # everybody waited and nobody got anything: equally (badly) served
    return round(sum(shares) ** 2 / (len(shares) * squares), DECIMALS)


def figures(result: ReplayResult) -> dict[str, Any]:
    tally = result.tally
    jobs = list(tally.jobs.values())
    done = [j for j in jobs if j.outcome is Outcome.SUCCEEDED and j.ended is not None]
    jct = [j.ended - j.arrived for j in done if j.ended is not None]
    queued = [j.first_start - j.arrived for j in jobs if j.first_start is not None]
    first = tally.first_arrival if tally.first_arrival is not None else result.start
    last = tally.last_end if tally.last_end is not None else first
    makespan = last - first
    capacity = result.world.accelerators
    utilisation = (
        round(tally.allocated / (capacity * makespan), DECIMALS) if makespan and capacity else 0.0
    )
    out: dict[str, Any] = {
        "policy": result.policy,
        "jobs": len(jobs),
        "completed": len(done),
        "failed": sum(1 for j in jobs if j.outcome is Outcome.FAILED),
        "rejected": sum(1 for j in jobs if j.outcome is Outcome.REJECTED),
        "stranded": result.stranded,
        "mean_jct_s": mean(jct),
        "p50_jct_s": percentile(jct, 50),
        "p99_jct_s": percentile(jct, 99),
        "mean_queue_s": mean(queued),
        "p50_queue_s": percentile(queued, 50),
        "p99_queue_s": percentile(queued, 99),
        "utilisation": utilisation,
        "jain_fairness": jain_index(tally),
        "makespan_s": makespan,
        "preemptions": tally.preemptions,
        "pool_accelerators": capacity,
        "arrival_scale": round(float(result.scale), DECIMALS),
        "ticks": result.ticks,
        "cycles": result.cycles,
    }
    if result.programs is not None:
        reports = program_report(
            result.coordinator.ledger,
            [result.programs.programs[p] for p in sorted(result.programs.programs)],
        )
        paid: dict[str, int] = {}
        over: dict[str, int] = {}
        for r in reports:
            paid[r.currency.value] = paid.get(r.currency.value, 0) + r.paid
            over[r.currency.value] = over.get(r.currency.value, 0) + max(0, -r.remaining)
        out["subsidy_paid_minor"] = dict(sorted(paid.items()))
        out["overspend_minor"] = dict(sorted(over.items()))
        out["ledger_balanced"] = not result.coordinator.ledger.check()
    out["sim_wall_s"] = round(result.wall_s, 3)
    out["sim_jobs_per_s"] = round(len(jobs) / result.wall_s, 1) if result.wall_s > 0 else 0.0
    return out


@dataclass(frozen=True, slots=True)
class Curves:
    """What the plots of one replay are drawn from (`scheduler.sim.plots`). Times are seconds
    since the first arrival.

    `samples`: the pool's accelerators held and jobs waiting at every change (the tally's
    series; empty unless `Tally.keep_series()` was called before the replay). `tenants`:
    (tenant, weight, accelerator-seconds received), every tenant of the trace. `subsidy`: per
    currency, (time, cumulative amount the programs paid) at each settlement that paid
    something, read from the ledger's postings."""

    policy: str
    capacity: int
    span_s: int  # first arrival to last end
    jct_s: tuple[int, ...]
    queue_s: tuple[int, ...]
    samples: tuple[Sample, ...]
    tenants: tuple[tuple[str, int, int], ...]
    subsidy: dict[str, tuple[tuple[int, int], ...]]


def curves(result: ReplayResult) -> Curves:
    tally = result.tally
    first = tally.first_arrival if tally.first_arrival is not None else result.start
    last = tally.last_end if tally.last_end is not None else first
    jobs = tally.jobs.values()
    jct = tuple(
        j.ended - j.arrived for j in jobs if j.outcome is Outcome.SUCCEEDED and j.ended is not None
    )
    queued = tuple(j.first_start - j.arrived for j in jobs if j.first_start is not None)
    samples = tuple(Sample(s.at - first, s.held, s.waiting) for s in tally.series or ())
    tenants = tuple((name, t.weight, t.served) for name, t in sorted(tally.tenants.items()))
    subsidy = {}
    if result.programs is not None:
        subsidy = subsidy_paid_over_time(result.coordinator.ledger, first)
    return Curves(
        policy=result.policy,
        capacity=result.world.accelerators,
        span_s=last - first,
        jct_s=jct,
        queue_s=queued,
        samples=samples,
        tenants=tenants,
        subsidy=subsidy,
    )


def subsidy_paid_over_time(ledger: Ledger, origin: int) -> dict[str, tuple[tuple[int, int], ...]]:
    """Per currency, (settlement time − `origin`, programs' cumulative paid) after every
    settlement that paid a program something, in posting order."""
    paid: dict[str, int] = {}
    out: dict[str, list[tuple[int, int]]] = {}
    for posting in ledger.postings():
        if posting.key.kind is not PostingKind.SETTLE:
            continue
        for account, amount in posting.entries:
            if account.kind is AccountKind.PROGRAM_PAID and amount:
                currency = account.currency.value
                paid[currency] = paid.get(currency, 0) + amount
                out.setdefault(currency, []).append((posting.at - origin, paid[currency]))
    return {currency: tuple(points) for currency, points in sorted(out.items())}
