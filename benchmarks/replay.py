"""Benchmark of the trace-replay simulator.

    python -m benchmarks.replay --json

Replays `helios_dirlab_gpu.csv` (10,796 jobs) on a generated 1,024-accelerator pool at load
factor 0.9 under FIFO through `scheduler.sim.replay` (the real coordinator, memory store, fake
executor) and prints:
- sim_jobs_per_s: jobs ÷ wall time of the replay (building the coordinator included), and its
  ticks and cycles;
- peak_rss_mib: the process's peak resident set (resource.getrusage) after the replay;
- baseline_jobs_per_s: the same trace, arrivals and gangs through a minimal strict-FIFO
  simulator in this process (a heap of ends, first-fit of whole gangs over the nodes' free
  counts; no models, zones, quotas, store, events or ledger), and `ratio_vs_baseline` =
  sim_jobs_per_s ÷ baseline_jobs_per_s. The baseline's mean queueing is printed beside the
  simulator's as a plausibility check only: it ignores models and zones, so it packs better.
"""

from __future__ import annotations

import argparse
import heapq
import json
import resource
import sys
import time
import tomllib
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Any

from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import parse_pool
from scheduler.policy.registry import resolve_policy
from scheduler.sim.replay import Replay, ReplaySettings
from scheduler.sim.report import figures
from scheduler.sim.trace import Trace, arrival_scale, read_trace
from scheduler.sim.world import NODE_SIZE, gang_for

TRACE = Path(__file__).resolve().parents[1] / ".." / "shared" / "traces" / "helios_dirlab_gpu.csv"


def baseline(trace: Trace, nodes: int, scale: Fraction) -> dict[str, Any]:
    """Strict FIFO over `nodes` nodes of NODE_SIZE: the least a replay must do."""
    started = time.perf_counter()
    free = [NODE_SIZE] * nodes
    first = trace.jobs[0].submit_s
    num, den = scale.numerator, scale.denominator
    arrivals = [((job.submit_s - first) * num // den, i) for i, job in enumerate(trace.jobs)]
    gangs = [gang_for(job.gpus) for job in trace.jobs]
    queue: deque[int] = deque()
    ends: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    waits: list[int] = []
    total = nodes * NODE_SIZE
    k = 0
    now = 0
    while k < len(arrivals) or ends or queue:
        nxt = min(arrivals[k][0] if k < len(arrivals) else 1 << 62, ends[0][0] if ends else 1 << 62)
        if nxt == 1 << 62:
            break  # only jobs that can never fit are left
        now = nxt
        while ends and ends[0][0] == now:
            _, _, held = heapq.heappop(ends)
            for node, count in held:
                free[node] += count
        while k < len(arrivals) and arrivals[k][0] == now:
            queue.append(arrivals[k][1])
            k += 1
        while queue:
            i = queue[0]
            gang = gangs[i]
            if gang.total > total:
                queue.popleft()  # never fits: rejected
                continue
            taken: list[tuple[int, int]] = []
            need = gang.workers
            for node in range(nodes):
                while need and free[node] >= gang.per_worker:
                    free[node] -= gang.per_worker
                    taken.append((node, gang.per_worker))
                    need -= 1
                if not need:
                    break
            if need:
                for node, count in taken:
                    free[node] += count
                break  # strict: the head blocks
            queue.popleft()
            waits.append(now - arrivals[i][0])
            heapq.heappush(ends, (now + trace.jobs[i].duration_s, i, tuple(taken)))
    wall = time.perf_counter() - started
    return {
        "baseline_jobs_per_s": round(len(trace.jobs) / wall, 1),
        "baseline_wall_s": round(wall, 3),
        "baseline_mean_queue_s": round(sum(waits) / len(waits), 1) if waits else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--accelerators", type=int, default=1024)
    parser.add_argument("--load-factor", default="0.9")
    parser.add_argument("--policy", default="fifo")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    pool = parse_pool(tomllib.loads(generate_pool_toml(args.accelerators, 1)), "generated")
    trace = read_trace(args.trace, args.limit)
    load = Fraction(args.load_factor)
    replay = Replay(trace, pool, resolve_policy(args.policy), settings=ReplaySettings(load))
    out = figures(replay.run())
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nodes = sum(1 for n in pool.nodes.values())
    base = baseline(trace, nodes, arrival_scale(trace, load, replay.world.accelerators))
    result = {
        "trace": args.trace.name,
        "jobs": out["jobs"],
        "pool_accelerators": out["pool_accelerators"],
        "policy": out["policy"],
        "sim_jobs_per_s": out["sim_jobs_per_s"],
        "sim_wall_s": out["sim_wall_s"],
        "ticks": out["ticks"],
        "cycles": out["cycles"],
        "mean_queue_s": out["mean_queue_s"],
        "peak_rss_mib": round(rss_kib / 1024, 1),
        **base,
        "ratio_vs_baseline": round(out["sim_jobs_per_s"] / base["baseline_jobs_per_s"], 4),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
