"""How fast the Ray executor launches and finishes short jobs, beside the same work on bare Ray.

    python -m benchmarks.ray_launch [--jobs 8] [--gangs 8] [--in-flight 4] [--rounds 2]
        [--no-eager] [--bare-detached] [--collect-wait-s S] [--timeout-s 120] [--json]

Starts its own loopback Ray (2 CPUs, 100 MiB object store, no dashboard, `address="local"` so a
`RAY_ADDRESS` in the environment is not used) declaring pool nodes bench-001..004 as the
resources `gba_node:<id>`, and shuts it down at the end. Three arms (two with `--no-eager`) do
the same work:

- executor: `RayExecutor` (system clock, `attach=False`, `collect_wait_s` its default unless
  `--collect-wait-s` says otherwise) launches each job (attempt 1) and the benchmark calls
  `poll` in a loop (no sleep: each poll already waits up to `collect_wait_s` for its ranks)
  until every attempt's terminal event has come.
  A job counts done when the poll that returned its `finished` event returns.
- bare: what a Ray user would write: per job a placement group of the same bundles (PACK),
  `pg.ready()`, then one actor per rank in bundle `rank` (`num_cpus=0`, `max_restarts=0`)
  whose `run` method calls the same function, then `ray.kill` each actor and
  `remove_placement_group`. Jobs in flight are driven by one `ray.wait` loop (the concurrent
  form of `ray.get` per job). The group and the actors are unnamed and owned by the driver
  (plain Ray); `--bare-detached` makes them detached and named, as the executor's are.
  A job counts done when its group is removed.
- bare_eager (unless `--no-eager`): bare, but the actors are created with the group, without
  waiting for `pg.ready()` (as the executor does). `pg.ready()` is a task run in the group's
  first bundle, so it needs a worker process of its own on top of the ranks' actors; this arm
  is the stricter baseline. `overhead_ratio_eager` and friends compare it with the executor.

The workload is identical: each rank calls `benchmarks.ray_launch_work:noop`, which reports
100 % and returns. Bundles hold one unit of a pool node's resource and no CPU, as the
executor's do. Each arm runs `--jobs` 1-worker jobs (rank on bench-00(i % 4 + 1)), then
`--gangs` 2-worker gangs (ranks on two different pool nodes), keeping at most `--in-flight`
jobs outstanding (0: all of a kind launched at once), the same in both arms.

Figures. Rates: jobs/s and gangs/s are jobs of that kind done ÷ the wall time of that kind's
phase; overall is all jobs done ÷ both phases' time. Latency is per job, launch (or group
creation) to done, in ms; p99 is nearest-rank, so with few jobs it is the slowest one.
`overhead_ratio` = bare overall rate ÷ executor overall rate within a round (target ≤ 1.3;
`_jobs` / `_gangs`: per kind). One untimed 1-worker job goes through each arm first (warm-up).
With `--rounds` > 1 the arms alternate: odd rounds run the executor first, even rounds the
arms in reverse order (the executor last); headline figures are medians over the rounds, each
round is in the JSON (`per_round`). There, the executor arm's `profile` splits its time
between `launch` calls and `poll` calls (both include the executor's collect with its bounded
wait); `started_p50_ms` is launch to `started` for the executor, group creation to placed
(`pg.ready()`) for bare.

Every Ray call is bounded (`--timeout-s` for a phase, 30 s for a single get). The command
exits 1 when any job failed or was not done within the phase's time (listed on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a Ray of our own: no token

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from benchmarks.ray_launch_work import ENTRYPOINT, BareRank
from scheduler.domain.clock import SystemClock
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Gang, Job, Placement
from scheduler.executor.base import EventKind, StopReason
from scheduler.executor.ray import RayExecutor
from scheduler.executor.ray_cluster import NAMESPACE, loopback_only, node_resource
from scheduler.workloads.context import FULL_BP

Figures = dict[str, Any]

NODES = ("bench-001", "bench-002", "bench-003", "bench-004")
_UNITS = 1000  # of each pool node's resource: never the limit
_MODEL = "bench"
_GET_TIMEOUT_S = 30.0
_WAIT_STEP_S = 1.0

_RemoteBareRank: Any = ray.remote(BareRank)


@dataclass(frozen=True, slots=True)
class _Spec:
    job: Job
    placement: Placement

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(node for node, _ in self.placement.workers)


@dataclass(slots=True)
class _Phase:
    seconds: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    started_s: list[float] = field(default_factory=list)
    """Executor: launch to `started`; bare: group creation to placed."""
    failures: list[str] = field(default_factory=list)
    launch_s: float = 0.0
    launches: int = 0
    poll_s: float = 0.0
    polls: int = 0


def _specs(prefix: str, count: int, workers: int) -> list[_Spec]:
    out = []
    for i in range(count):
        nodes = tuple(NODES[(i + rank) % len(NODES)] for rank in range(workers))
        job = Job(
            id=f"{prefix}-{i}",
            tenant="bench",
            gang=Gang(workers, 1),
            models=frozenset({_MODEL}),
            priority_class="normal",
            priority=0,
            walltime_s=600,
            data_origin=Jurisdiction.MAINLAND,
            submitted_at=0,
            seq=i,
            entrypoint=ENTRYPOINT,
        )
        placement = Placement(_MODEL, Jurisdiction.MAINLAND, tuple((n, 1) for n in nodes))
        out.append(_Spec(job, placement))
    return out


def _room(in_flight: int, outstanding: int) -> bool:
    return in_flight <= 0 or outstanding < in_flight


# ---------------------------------------------------------------------- executor arm


def _executor_phase(
    executor: RayExecutor, specs: list[_Spec], in_flight: int, timeout_s: float
) -> _Phase:
    phase = _Phase()
    pending = deque(specs)
    live: dict[str, float] = {}
    begin = time.monotonic()
    deadline = begin + timeout_s
    while pending or live:
        while pending and _room(in_flight, len(live)):
            spec = pending.popleft()
            at = time.monotonic()
            executor.launch(spec.job, 1, spec.placement)
            phase.launch_s += time.monotonic() - at
            phase.launches += 1
            live[spec.job.id] = at
        at = time.monotonic()
        events = executor.poll()
        now = time.monotonic()
        phase.poll_s += now - at
        phase.polls += 1
        for event in events:
            launched = live.get(event.job_id)
            if launched is None:
                continue
            if event.kind is EventKind.STARTED:
                phase.started_s.append(now - launched)
            if not event.terminal:
                continue
            del live[event.job_id]
            phase.latencies_s.append(now - launched)
            if event.kind is not EventKind.FINISHED or event.progress_bp != FULL_BP:
                phase.failures.append(f"executor {event.job_id}: {event.kind} {event.error}")
        if now > deadline:
            for job_id in live:
                phase.failures.append(f"executor {job_id}: not done within {timeout_s:g} s")
                with contextlib.suppress(Exception):
                    executor.stop(job_id, 1, StopReason.SHUTDOWN)
            break
    phase.seconds = time.monotonic() - begin
    return phase


def _executor_arm(root: Path, prefix: str, jobs: int, gangs: int, args: Any) -> list[_Phase]:
    options: dict[str, Any] = {"call_timeout_s": _GET_TIMEOUT_S}
    if args.collect_wait_s is not None:
        options["collect_wait_s"] = args.collect_wait_s
    executor = RayExecutor(SystemClock(), root, attach=False, **options)
    try:
        return [
            _executor_phase(executor, _specs(f"{prefix}-job", jobs, 1), args.in_flight, args.t),
            _executor_phase(executor, _specs(f"{prefix}-gang", gangs, 2), args.in_flight, args.t),
        ]
    finally:
        executor.close()


# ---------------------------------------------------------------------- bare arm


@dataclass(slots=True)
class _BareLive:
    spec: _Spec
    begin: float
    group: Any
    actors: list[Any] = field(default_factory=list)
    left: int = 0


def _bare_release(live: _BareLive) -> None:
    for actor in live.actors:
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)
    with contextlib.suppress(Exception):
        remove_placement_group(live.group)


def _bare_actors(
    live: _BareLive, root: Path, detached: bool, waiting: dict[Any, tuple[str, _BareLive]]
) -> None:
    """One actor per rank in the group's bundle `rank`, and its `run` call."""
    world = len(live.spec.nodes)
    for rank, node in enumerate(live.spec.nodes):
        options: dict[str, Any] = {
            "num_cpus": 0,
            "max_restarts": 0,
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                live.group, placement_group_bundle_index=rank
            ),
        }
        if detached:
            options |= {
                "name": f"bare/{live.spec.job.id}/{rank}",
                "namespace": NAMESPACE,
                "lifetime": "detached",
            }
        actor = _RemoteBareRank.options(**options).remote(
            rank, world, node, str(root / live.spec.job.id)
        )
        live.actors.append(actor)
        waiting[actor.run.remote()] = ("run", live)


def _bare_phase(
    specs: list[_Spec],
    in_flight: int,
    timeout_s: float,
    root: Path,
    detached: bool,
    skip_ready: bool,
) -> _Phase:
    phase = _Phase()
    pending = deque(specs)
    waiting: dict[Any, tuple[str, _BareLive]] = {}  # ref -> (what it is, its job)
    active: list[_BareLive] = []
    begin = time.monotonic()
    deadline = begin + timeout_s

    def drop(live: _BareLive) -> None:
        for ref in [r for r, (_, owner) in waiting.items() if owner is live]:
            del waiting[ref]
        active.remove(live)
        _bare_release(live)

    while pending or active:
        while pending and _room(in_flight, len(active)):
            spec = pending.popleft()
            at = time.monotonic()
            named: dict[str, Any] = (
                {"name": f"bare/{spec.job.id}", "lifetime": "detached"} if detached else {}
            )
            group = placement_group(
                [{node_resource(n): 1.0} for n in spec.nodes], strategy="PACK", **named
            )
            live = _BareLive(spec, at, group, left=len(spec.nodes))
            active.append(live)
            if skip_ready:
                _bare_actors(live, root, detached, waiting)
            else:
                waiting[group.ready()] = ("ready", live)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            for live in list(active):
                phase.failures.append(f"bare {live.spec.job.id}: not done within {timeout_s:g} s")
                drop(live)
            break
        refs = list(waiting)
        done, _ = ray.wait(refs, num_returns=1, timeout=min(remaining, _WAIT_STEP_S))
        if done:
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in done:
            if ref not in waiting:  # its job was dropped by an earlier failure
                continue
            stage, live = waiting.pop(ref)
            try:
                value = ray.get(ref, timeout=_GET_TIMEOUT_S)
            except Exception as error:
                phase.failures.append(f"bare {live.spec.job.id} ({stage}): {error}")
                drop(live)
                continue
            if stage == "ready":
                phase.started_s.append(time.monotonic() - live.begin)
                _bare_actors(live, root, detached, waiting)
                continue
            if value != FULL_BP:
                phase.failures.append(f"bare {live.spec.job.id}: run returned {value!r}")
                drop(live)
                continue
            live.left -= 1
            if live.left == 0:
                drop(live)
                phase.latencies_s.append(time.monotonic() - live.begin)
    phase.seconds = time.monotonic() - begin
    return phase


def _bare_arm(
    root: Path, prefix: str, jobs: int, gangs: int, args: Any, *, skip_ready: bool = False
) -> list[_Phase]:
    return [
        _bare_phase(
            _specs(f"{prefix}-{kind}", count, workers),
            args.in_flight,
            args.t,
            root,
            args.bd,
            skip_ready,
        )
        for kind, count, workers in (("job", jobs, 1), ("gang", gangs, 2))
    ]


def _bare_eager_arm(root: Path, prefix: str, jobs: int, gangs: int, args: Any) -> list[_Phase]:
    return _bare_arm(root, prefix, jobs, gangs, args, skip_ready=True)


# ---------------------------------------------------------------------- figures

Arm = Callable[[Path, str, int, int, Any], list[_Phase]]
RATIOS = {
    "overhead_ratio": "overall_per_s",
    "overhead_ratio_jobs": "jobs_per_s",
    "overhead_ratio_gangs": "gangs_per_s",
}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return None
    index = max(0, min(len(ordered) - 1, -(-len(ordered) * q // 1) - 1))
    return ordered[int(index)]


def _arm_figures(phases: list[_Phase], jobs: int, gangs: int) -> Figures:
    single, gang = phases
    latencies = single.latencies_s + gang.latencies_s
    started = single.started_s + gang.started_s
    total = single.seconds + gang.seconds
    figures: Figures = {
        # Jobs done (failed or hung ones do not count; the run then exits 1 anyway).
        "jobs_per_s": round(len(single.latencies_s) / single.seconds, 3) if jobs else None,
        "gangs_per_s": round(len(gang.latencies_s) / gang.seconds, 3) if gangs else None,
        "overall_per_s": round(len(latencies) / total, 3),
        "seconds": round(total, 3),
        "p50_ms": _ms(_quantile(latencies, 0.5)),
        "p99_ms": _ms(_quantile(latencies, 0.99)),
        "job_p50_ms": _ms(_quantile(single.latencies_s, 0.5)),
        "gang_p50_ms": _ms(_quantile(gang.latencies_s, 0.5)),
        "started_p50_ms": _ms(_quantile(started, 0.5)),
    }
    if single.polls or gang.polls:
        figures["profile"] = {
            "launch_s": round(single.launch_s + gang.launch_s, 3),
            "launches": single.launches + gang.launches,
            "poll_s": round(single.poll_s + gang.poll_s, 3),
            "polls": single.polls + gang.polls,
        }
    return figures


def _ratio(bare: float | None, executor: float | None) -> float | None:
    if not bare or not executor:
        return None
    return round(bare / executor, 3)


def _median(rounds: list[Figures], *path: str) -> float | None:
    values = []
    for figures in rounds:
        value: Any = figures
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return round(statistics.median(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8, help="1-worker jobs per arm and round")
    parser.add_argument("--gangs", type=int, default=8, help="2-worker gangs per arm and round")
    parser.add_argument(
        "--in-flight", type=int, default=4, help="jobs outstanding at once (0: all of a kind)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout-s", dest="t", type=float, default=120.0, help="per phase")
    parser.add_argument(
        "--bare-detached",
        dest="bd",
        action="store_true",
        help="bare arm: detached, named groups and actors (as the executor's)",
    )
    parser.add_argument(
        "--collect-wait-s",
        type=float,
        default=None,
        help="the executor's collect_wait_s (default: the executor's own, 0.05)",
    )
    parser.add_argument(
        "--eager",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the third arm, bare_eager: bare without waiting for pg.ready() (actors at once)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.jobs < 0 or args.gangs < 0 or args.jobs + args.gangs == 0 or args.rounds < 1:
        parser.error("need --jobs + --gangs > 0 and --rounds >= 1")

    loopback_only()
    started = time.monotonic()
    ray.init(
        address="local",
        num_cpus=2,
        resources={node_resource(n): float(_UNITS) for n in NODES},
        object_store_memory=100 * 1024 * 1024,
        namespace=NAMESPACE,  # as `ray_cluster.connect`
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    arms: dict[str, Arm] = {"executor": _executor_arm, "bare": _bare_arm}
    if args.eager:
        arms["bare_eager"] = _bare_eager_arm
    rounds: list[Figures] = []
    failures: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="ray-launch-") as tmp:
            root = Path(tmp)
            for name, arm in arms.items():  # warm-up: untimed, failures still count
                for phase in arm(root, f"warm-{name}", 1, 0, args):
                    failures += phase.failures
            for number in range(1, args.rounds + 1):
                # Odd rounds: the executor first; even rounds: the arms in reverse, it last.
                order = list(arms) if number % 2 else list(arms)[::-1]
                figures: Figures = {"round": number, "order": order}
                for name in order:
                    phases = arms[name](root, f"r{number}-{name}", args.jobs, args.gangs, args)
                    failures += [f for phase in phases for f in phase.failures]
                    figures[name] = _arm_figures(phases, args.jobs, args.gangs)
                executor = figures["executor"]
                for bare_name, suffix in (("bare", ""), ("bare_eager", "_eager")):
                    if bare_name not in figures:
                        continue
                    bare = figures[bare_name]
                    for key, rate in RATIOS.items():
                        figures[f"{key}{suffix}"] = _ratio(bare[rate], executor[rate])
                rounds.append(figures)
    finally:
        ray.shutdown()

    keys = ("jobs_per_s", "gangs_per_s", "overall_per_s", "p50_ms", "p99_ms", "started_p50_ms")
    out: Figures = {
        "jobs": args.jobs,
        "gangs": args.gangs,
        "in_flight": args.in_flight,
        "rounds": args.rounds,
        "bare_detached": args.bd,
        "collect_wait_s": args.collect_wait_s,
        **{key: _median(rounds, key) for key in rounds[0] if key.startswith("overhead_ratio")},
        **{name: {key: _median(rounds, name, key) for key in keys} for name in arms},
        "failures": len(failures),
        "seconds": round(time.monotonic() - started, 1),
        "per_round": rounds,
    }
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            if key.startswith("overhead_ratio"):
                print(f"{key}: {value}")
        for name in arms:
            print(f"{name}: {out[name]}")
        print(f"failures: {len(failures)}, {out['seconds']} s")
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
