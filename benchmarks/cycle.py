"""Benchmark of the scheduling cycle on a pool of the GBA mix.

    python -m benchmarks.cycle --nodes 12500 --pending 100000 --json

Figures (each from `ClusterState.snapshot()` + `run_cycle`, quota, fair share and residency
checks included, GC frozen after setup):
- placements_per_s: one cycle over `pending` 1-accelerator jobs on the empty pool;
- gang_placements_per_s: one cycle over multi-node gangs (2–4 workers × 8 accelerators, whole
  nodes) sized to fill the pool; node_placements_per_s: the same for 1 × 8 jobs;
- p99_decision_ms: the pool filled towards 90 % with a mixed workload (by priority-fairshare,
  whatever policy is measured) and settled (nothing pending), then single new jobs arrive one at
  a time; each is one snapshot + cycle with the measured policy, then released again (victims
  are put back), so every probe sees the same busy pool;
- funded_placements_per_s: the single-job cycle again with money checked (every job names a 50 %
  program of each currency; balances never run out), and `funds_overhead_ratio` = unfunded ÷
  funded rate, both measured in this run;
- baseline: a naive placement that scans every node for each job (first fit, same model, zone
  and capacity checks, no quota), timed in the same process on a sample of the same jobs;
  `ratio_vs_naive` = placements_per_s ÷ naive_placements_per_s.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import replace

from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import parse_pool
from scheduler.domain.geography import Currency
from scheduler.domain.jobs import Job
from scheduler.domain.pool import Pool
from scheduler.engine.cycle import run_cycle
from scheduler.engine.state import ClusterState
from scheduler.ledger.budgets import Budgets
from scheduler.ledger.programs import Program, Rates
from scheduler.ledger.split import Funds
from scheduler.policy.registry import resolve_policy
from scheduler.sim.workload import synthetic_jobs

FILL_POLICY = "priority-fairshare:binpack"


def build_pool(nodes: int, seed: int) -> Pool:
    text = generate_pool_toml(nodes * 8, seed)
    return parse_pool(tomllib.loads(text), f"<generated {nodes} nodes>")


def timed_cycle(state: ClusterState, policy_name: str, now: int) -> tuple[float, int, int, int]:
    policy = resolve_policy(policy_name)
    start = time.perf_counter()
    snap = state.snapshot()
    result = run_cycle(snap, policy, now)
    elapsed = time.perf_counter() - start
    state.apply(result, now)
    return elapsed, len(result.admissions), result.considered, len(result.rejected)


def fill_rate(
    pool: Pool, jobs: list[Job], policy: str, budgets: Budgets | None = None
) -> dict[str, float]:
    state = ClusterState(pool)
    state.set_budgets(budgets)
    for job in jobs:
        state.submit(job)
    gc.collect()
    gc.freeze()
    elapsed, placed, considered, rejected = timed_cycle(state, policy, 0)
    gc.unfreeze()
    return {
        "cycle_s": round(elapsed, 4),
        "placed": placed,
        "considered": considered,
        "rejected": rejected,
        "per_s": round(placed / elapsed, 1),
        "decisions_per_s": round(considered / elapsed, 1),
    }


def money_for(pool: Pool) -> Budgets:
    """One 50 % program per currency open to everyone, and balances no job exhausts: the money
    check runs for every admission without turning anything away."""
    programs = {
        f"bench-{c.value}": Program(
            f"bench-{c.value}",
            "benchmark vouchers",
            "benchmark",
            c,
            10**15,
            0,
            10**10,
            Rates(5000, 5000),
        )
        for c in Currency
    }
    balances = {(t, c): 10**15 for t in pool.tenants for c in Currency}
    return Budgets(programs, Funds({p: 10**15 for p in programs}), balances)


def naive_rate(pool: Pool, jobs: Sequence[Job], sample: int) -> float:
    """First fit by scanning every node per job: the approach the index replaces."""
    nodes = sorted(pool.nodes.values(), key=lambda n: n.id)
    free = [n.accelerators for n in nodes]
    meta = [(n.model, n.jurisdiction, n.state.schedulable) for n in nodes]
    placed = 0
    start = time.perf_counter()
    for job in jobs[:sample]:
        need = job.gang.per_worker
        for i, (model, zone, up) in enumerate(meta):
            if up and free[i] >= need and model in job.models and zone is job.data_origin:
                free[i] -= need
                placed += 1
                break
    elapsed = time.perf_counter() - start
    return placed / elapsed if elapsed else 0.0


def decision_latency(pool: Pool, policy: str, probes: int, seed: int) -> dict[str, float]:
    state = ClusterState(pool)
    capacity = sum(n.accelerators for n in pool.nodes.values())
    target = int(capacity * 0.9)
    # Quota-limited tenants fill what their quotas allow; tenants without quotas top the pool
    # up to ~90 %. Then nothing is left pending: the pool is busy and settled.
    unlimited = [t.id for t in pool.tenants.values() if t.quotas is None]
    for round_, tenants in enumerate((None, unlimited)):
        allocated = sum(r.placement.accelerators for r in state.running.values())
        batch = synthetic_jobs(
            pool,
            capacity // 2,
            seed + round_,
            "mixed",
            prefix=f"fill{round_}",
            first_seq=round_ * capacity,
            tenants=tenants,
        )
        used = allocated
        for job in batch:
            if used + job.gang.total > target:
                continue
            state.submit(job)
            used += job.gang.total
            if used >= target - 8:
                break
        timed_cycle(state, FILL_POLICY, 0)  # the same busy pool whatever policy is measured
        for job_id in list(state.pending):
            state.cancel(job_id)
    allocated = sum(r.placement.accelerators for r in state.running.values())
    probe_jobs = synthetic_jobs(
        pool, probes, seed + 1, "mixed", first_seq=10_000_000, prefix="probe"
    )
    samples = []
    admitted = 0
    policy_obj = resolve_policy(policy)
    gc.collect()
    gc.freeze()
    for job in probe_jobs:
        state.submit(job)
        start = time.perf_counter_ns()
        snap = state.snapshot()
        result = run_cycle(snap, policy_obj, 1)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        victims = [state.running[p.job_id] for p in result.preemptions]
        state.apply(result, 1)
        for admission in result.admissions:
            admitted += 1
            state.finish(admission.job_id)
        for job_id in list(state.pending):
            state.cancel(job_id)
        for victim in victims:  # put the pool back as it was before the probe
            state.start(victim)
    gc.unfreeze()
    samples.sort()
    return {
        "utilisation": round(allocated / capacity, 3),
        "probes": probes,
        "admitted": admitted,
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "max_ms": round(samples[-1], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=12_500)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--policy", default="priority-fairshare:binpack")
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    pool = build_pool(args.nodes, args.seed)
    setup_s = time.perf_counter() - t0
    singles = synthetic_jobs(pool, args.pending, args.seed, "single")
    single = fill_rate(pool, singles, args.policy)
    money = money_for(pool)
    funded_jobs = [replace(j, programs=tuple(money.programs)) for j in singles]
    funded = fill_rate(pool, funded_jobs, args.policy, money)
    naive = naive_rate(pool, singles, min(5_000, args.pending))

    gangs = synthetic_jobs(pool, max(1, args.nodes // 3), args.seed + 2, "gang")
    gang = fill_rate(pool, gangs, args.policy)
    whole = synthetic_jobs(pool, args.nodes, args.seed + 3, "node")
    node = fill_rate(pool, whole, args.policy)
    latency = decision_latency(pool, args.policy, args.probes, args.seed + 4)

    out = {
        "nodes": len(pool.nodes),
        "accelerators": sum(n.accelerators for n in pool.nodes.values()),
        "pending": args.pending,
        "policy": args.policy,
        "placements_per_s": single["per_s"],
        "funded_placements_per_s": funded["per_s"],
        "funds_overhead_ratio": round(single["per_s"] / funded["per_s"], 2),
        "gang_placements_per_s": gang["per_s"],
        "node_placements_per_s": node["per_s"],
        "p99_decision_ms": latency["p99_ms"],
        "p50_decision_ms": latency["p50_ms"],
        "naive_placements_per_s": round(naive, 1),
        "ratio_vs_naive": round(single["per_s"] / naive, 1) if naive else None,
        "single": single,
        "gang": gang,
        "node": node,
        "latency": latency,
        "pool_setup_s": round(setup_s, 2),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
