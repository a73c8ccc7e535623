"""The scale run (issue #9): a 150,000-accelerator pool with ~100,000 jobs pending, through the
trace-replay simulator (the real coordinator, memory store, fake executor, manual clock).

    python -m benchmarks.scale --json

- Pool: `gbasched pool generate --accelerators ACCELERATORS --seed SEED` (150,000 and 1 by
  default: 18,750 nodes of 8, the sample's mix; Guangdong's 60 EFLOPS of 2027).
- Stream (`scheduler.sim.synthetic`, seeded): a burst at 0 of jobs asking for the pool's
  accelerators, then PENDING jobs more; then ARRIVALS_PER_MIN jobs every simulated minute for
  MINUTES minutes (default ⌈accelerators ÷ 1,200⌉, 125 at 150,000: about 1.2 times what the
  full pool completes a minute with the stream's ~7.15 accelerators and ~3.3 h mean duration
  per job, so arrivals outpace completions and the backlog stays at or above PENDING). Sizes are
  drawn like Helios' GPU-count histogram, durations log-normal (median 2 h, σ 1, 10 min–48 h)
  rounded to whole minutes, 50 tenants; every job accepts any model.
- Replay: `scheduler.sim.replay.Replay` under POLICY (default `priority-fairshare`, the
  `gbasched serve` default), restart overhead 0 (so every event stays on a minute and the replay
  ticks once a simulated minute). The run is bounded: it stops before the first tick after
  MINUTES minutes (the replay would otherwise go on until the last job ends): `Replay.run`'s
  `until`, with its `on_tick` keeping every tick's report and time; the invariants the replay
  checks at its end are checked at the stop.

Garbage collector: tuned as `gbasched serve` tunes it (first threshold `GC_YOUNG_THRESHOLD`, and
`gc.freeze()` after the first tick, the fill: the backlog a restarted `serve` would recover and
then freeze), since this run stands for a serving coordinator; `--python-gc` leaves Python's
defaults.

Printed (ms of wall time; percentiles nearest-rank over the ticks that ran a cycle):
- pool_accelerators, pool_nodes, jobs (in the stream), arrived (submitted by the stop);
- pending_end, pending_min, pending_max (over the ticks' reports, after their cycles),
  running_end, utilisation_end (accelerators held ÷ the pool's at the stop), admissions,
  preemptions, ticks, cycles (from the coordinator's `TickReport`s);
- cycle_ms_p50 / _p99 / _max: `TickReport.cycle_ms`, the coordinator's own timing of
  snapshot + `run_cycle`; fill_cycle_ms: the first cycle (the one that fills the pool);
- tick_ms_p50 / _p99 / _max, fill_tick_ms: wall time around the whole `tick()` (executor
  reports, commit, the cycle, the executor's launches);
- setup_s (pool generated and parsed, stream drawn, replay built), run_wall_s, wall_s;
- peak_rss_mib (`resource.getrusage` ru_maxrss after the run, before the baseline),
  rss_target_mib (2,048) and rss_met;
- baseline: the engine alone on the same pool, running and pending jobs as at the stop: a fresh
  `ClusterState` (`with_pool`, so no plan kept between cycles) then one timed snapshot +
  `run_cycle` with the same policy (engine_cycle_ms, engine_pending, engine_admitted), and
  tick_vs_engine = tick_ms_p50 ÷ engine_cycle_ms: what the coordinator costs around the engine.

Progress goes to stderr about every 10 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
import tomllib
from typing import Any

from scheduler.cli.serve import GC_YOUNG_THRESHOLD
from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import parse_pool
from scheduler.engine.cycle import run_cycle
from scheduler.policy.registry import resolve_policy
from scheduler.service.coordinator import TickReport
from scheduler.service.settings import set_young_gc_threshold
from scheduler.sim.replay import Replay, ReplaySettings
from scheduler.sim.synthetic import Stream, synthetic_trace

RSS_TARGET_MIB = 2048
PROGRESS_EVERY_S = 10.0
STEP_S = 60


def _rank(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the ⌈p·n/100⌉-th smallest."""
    ordered = sorted(values)
    return ordered[max(0, -(-int(p * len(ordered)) // 100) - 1)] if ordered else 0.0


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _say(message: str) -> None:
    print(f"scale: {message}", file=sys.stderr, flush=True)


class _Meter:
    """Keeps every tick's report and time (`Replay.run`'s `on_tick`), and says how far it got."""

    def __init__(self, replay: Replay, serve_gc: bool) -> None:
        self.replay = replay
        self.serve_gc = serve_gc
        self.reports: list[TickReport] = []
        self.tick_ms: list[float] = []
        self.started = self.last_said = time.perf_counter()

    def __call__(self, report: TickReport, seconds: float) -> None:
        self.tick_ms.append(seconds * 1000)
        self.reports.append(report)
        if self.serve_gc and len(self.reports) == 1:
            # The fill is the backlog a restarted `serve` would recover, then freeze.
            gc.freeze()
        now = time.perf_counter()
        if now - self.last_said >= PROGRESS_EVERY_S:
            self.last_said = now
            clock = self.replay.clock
            _say(
                f"t={clock.now() - self.replay.start} s, {len(self.reports)} ticks,"
                f" pending {report.pending}, running {report.running},"
                f" last cycle {report.cycle_ms:.0f} ms, tick {self.tick_ms[-1]:.0f} ms,"
                f" {now - self.started:.0f} s, peak RSS {_rss_mib():.0f} MiB"
            )


def run(
    accelerators: int,
    pending: int,
    minutes: int,
    arrivals_per_min: int | None,
    policy_name: str,
    seed: int,
    serve_gc: bool = True,
) -> dict[str, Any]:
    began = time.perf_counter()
    if serve_gc:
        set_young_gc_threshold(GC_YOUNG_THRESHOLD)
    pool = parse_pool(tomllib.loads(generate_pool_toml(accelerators, seed)), "generated")
    capacity = sum(n.accelerators for n in pool.nodes.values())
    per_min = arrivals_per_min if arrivals_per_min is not None else -(-capacity // 1200)
    stream = Stream(capacity, pending, per_min, minutes, step_s=STEP_S, seed=seed)
    trace = synthetic_trace(stream)
    _say(f"pool of {capacity} accelerators, stream of {len(trace.jobs)} jobs")
    policy = resolve_policy(policy_name)
    replay = Replay(trace, pool, policy, settings=ReplaySettings(restart_overhead_s=0))
    until = replay.start + minutes * STEP_S
    meter = _Meter(replay, serve_gc)
    setup_s = time.perf_counter() - began
    _say(f"set up in {setup_s:.1f} s; replaying {minutes} simulated minutes")
    run_began = time.perf_counter()
    stopped = replay.run(until=until, on_tick=meter).stopped_at_until
    run_wall_s = time.perf_counter() - run_began
    peak_rss = _rss_mib()

    reports = meter.reports
    cycled = [i for i, r in enumerate(reports) if r.cycled]
    cycle_ms = [reports[i].cycle_ms for i in cycled]
    tick_ms = [meter.tick_ms[i] for i in cycled]
    last = reports[-1]
    held = sum(r.placement.accelerators for r in replay.coordinator.state.running.values())

    _say("baseline: the engine alone on the same jobs")
    state = replay.coordinator.state
    fresh = state.with_pool(state.pool)
    engine_began = time.perf_counter()
    result = run_cycle(fresh.snapshot(), policy, replay.clock.now())
    engine_ms = (time.perf_counter() - engine_began) * 1000
    tick_p50 = _rank(tick_ms, 50)

    return {
        "pool_accelerators": capacity,
        "pool_nodes": len(pool.nodes),
        "policy": policy.name,
        "seed": seed,
        "gc": "serve's (threshold 10,000, frozen after the fill)" if serve_gc else "Python's",
        "minutes": minutes,
        "arrivals_per_min": per_min,
        "jobs": len(trace.jobs),
        "arrived": len(replay.tally.jobs),
        "stopped_at_bound": stopped,
        "pending_end": last.pending,
        "pending_min": min(r.pending for r in reports),
        "pending_max": max(r.pending for r in reports),
        "running_end": last.running,
        "utilisation_end": round(held / capacity, 4),
        "admissions": sum(r.admitted for r in reports),
        "preemptions": sum(r.preempted for r in reports),
        "ticks": len(reports),
        "cycles": len(cycled),
        "fill_cycle_ms": round(cycle_ms[0], 1) if cycle_ms else 0.0,
        "cycle_ms_p50": round(_rank(cycle_ms, 50), 1),
        "cycle_ms_p99": round(_rank(cycle_ms, 99), 1),
        "cycle_ms_max": round(max(cycle_ms, default=0.0), 1),
        "fill_tick_ms": round(tick_ms[0], 1) if tick_ms else 0.0,
        "tick_ms_p50": round(tick_p50, 1),
        "tick_ms_p99": round(_rank(tick_ms, 99), 1),
        "tick_ms_max": round(max(tick_ms, default=0.0), 1),
        "setup_s": round(setup_s, 1),
        "run_wall_s": round(run_wall_s, 1),
        "peak_rss_mib": round(peak_rss, 1),
        "rss_target_mib": RSS_TARGET_MIB,
        "rss_met": peak_rss <= RSS_TARGET_MIB,
        "engine_cycle_ms": round(engine_ms, 1),
        "engine_pending": len(fresh.pending),
        "engine_admitted": len(result.admissions),
        "tick_vs_engine": round(tick_p50 / engine_ms, 2) if engine_ms else None,
        "wall_s": round(time.perf_counter() - began, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accelerators", type=int, default=150_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--minutes", type=int, default=240)
    parser.add_argument("--arrivals-per-min", type=int, default=None)
    parser.add_argument("--policy", default="priority-fairshare")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--python-gc",
        action="store_true",
        help="leave Python's garbage collector as it is (default: tune it as `serve` does)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    out = run(
        args.accelerators,
        args.pending,
        args.minutes,
        args.arrivals_per_min,
        args.policy,
        args.seed,
        serve_gc=not args.python_gc,
    )
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
