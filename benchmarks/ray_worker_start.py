"""How fast a gang worker starts on Ray: a task vs an actor, both pinned to a placement group.

    python -m benchmarks.ray_worker_start [--rounds 10] [--json]

Starts its own loopback Ray (2 CPUs, 100 MiB object store, no dashboard) and shuts it down at the
end. Each round makes a fresh placement group of one bundle holding a pool-node resource (as the
Ray executor does), waits until it is placed, then times, from the submit call to the first line
of the worker's code running (a wall-clock stamp the worker returns):
- a task (`num_cpus=0`, in the bundle): Ray may reuse an idle worker process;
- an actor (`num_cpus=0`, in the bundle) and its first method call: always a new process.
Figures are in ms: the first round (cold) and the median and max of the others.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

_TIMEOUT_S = 60
_RESOURCE = "gba_node:bench-001"


@ray.remote(num_cpus=0)
def _task_stamp() -> float:
    return time.time()


@ray.remote(num_cpus=0)
class _Actor:
    def stamp(self) -> float:
        return time.time()


def _round(kind: str) -> float:
    pg = placement_group([{_RESOURCE: 8}], strategy="STRICT_PACK")
    ray.get(pg.ready(), timeout=_TIMEOUT_S)
    strategy = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=0)
    begin = time.time()
    if kind == "task":
        started = ray.get(
            _task_stamp.options(scheduling_strategy=strategy).remote(), timeout=_TIMEOUT_S
        )
    else:
        actor = _Actor.options(scheduling_strategy=strategy).remote()  # type: ignore[attr-defined]
        started = ray.get(actor.stamp.remote(), timeout=_TIMEOUT_S)
        ray.kill(actor)
    remove_placement_group(pg)
    # Wait until the bundle's resource is back, so the next round's group is placed at once.
    deadline = time.monotonic() + _TIMEOUT_S
    while _free() < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    return (started - begin) * 1000


def _free() -> float:
    free = ray.available_resources()  # type: ignore[no-untyped-call]
    return float(free.get(_RESOURCE, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ray.init(
        num_cpus=2,
        resources={_RESOURCE: 8},
        object_store_memory=100 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    try:
        figures: dict[str, dict[str, float]] = {}
        # Interleaved, so neither kind alone benefits from a machine that warmed up.
        samples: dict[str, list[float]] = {"task": [], "actor": []}
        for _ in range(args.rounds):
            for kind in ("task", "actor"):
                samples[kind].append(_round(kind))
        for kind, ms in samples.items():
            rest = ms[1:] or ms
            figures[kind] = {
                "first_ms": round(ms[0], 1),
                "median_ms": round(statistics.median(rest), 1),
                "max_ms": round(max(rest), 1),
            }
    finally:
        ray.shutdown()
    if args.json:
        print(json.dumps({"rounds": args.rounds, **figures}))
    else:
        for kind, row in figures.items():
            print(f"{kind}: {row}")


if __name__ == "__main__":
    main()
