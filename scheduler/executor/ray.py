"""The Ray executor: each attempt of a gang is a placement group and one actor per rank.

Placement. Rank i's bundle asks for `{"gba_node:<node>": accelerators}` (ray_cluster.py explains
the naming), so it lands on the Ray node that is the pool node the engine chose. Bundles hold no
CPU: a group that reserved CPUs would starve every other task on a small machine (FEASIBILITY
§1), and the actors ask for `num_cpus=0`.

Workers are actors, not tasks. Measured here (`python -m benchmarks.ray_worker_start --rounds
10`, 2026-11-23, 2 cores, loopback Ray 2.60; three runs in benchmarks/RESULTS.md): from submit to
the worker's first line, a task in a placed group takes 2.4-2.9 ms at the median, because Ray
reuses an idle worker process; an actor 0.58-1.04 s, because each needs a process of its own.
Tasks start 200-400x faster, but a task is owned by the process that submitted it and dies with
it, while the port promises that running attempts outlive the executor (`close`) and that a
restarted coordinator re-attaches them: that needs workers that outlive the driver, i.e.
detached actors. Stop does not decide it (`ray.cancel(force=True)` kills a task's process as
surely as `ray.kill` an actor's). A second of start, paid in parallel by the ranks, is small
beside a training run; a detached supervisor actor owning rank *tasks* would get both, and is
the next step if start latency matters.

Names: group `gba/<job>/<attempt>`, rank actors `gba/<job>/<attempt>/<rank>/<world size>`, in the
driver's Ray namespace (`gbasched serve`: one per database, `ray_cluster.namespace_of`, so that two
databases' job ids, which both start at job-0, never meet on a shared cluster), both detached. A
new `RayExecutor` connected to the same cluster in the same namespace finds them (`attach=True`)
and lists those attempts as live; the `started` time it reports for them is the
one the previous executor stamped on rank 0 (so `started_at` survives the restart).

Events. Each call first collects (`_collect`): one `drain` call in flight per rank, gathered with
`ray.wait` bounded by `collect_wait_s` (default 50 ms; it returns once any rank answered, and a
`launch` does not wait at all), never an unbounded wait; the one call
waited for is recording the start time on rank 0, once per attempt (bounded by
`call_timeout_s`), so a re-attaching executor cannot miss it. `at` is the
executor's `Clock` reading when it saw the report, so it never decreases across polls; a worker's
own clock is never trusted. The gang starts when every rank answered once; rank 0's progress and
checkpoint figures are the gang's; it finishes when every rank returned; it fails when one rank
raised (the error names the rank and the exception), or when a rank's actor died while its pool
node is still in the cluster; an actor death whose pool node no live Ray node declares any more
is `node-lost`. A gang not started `start_timeout_s` after launch (its group still pending:
infeasible, or the node is busy outside the scheduler's books) fails with the group's state, the
watchdog. Every terminal event kills the actors and removes the group.

`stop` does not collect first: reports the executor has not seen when the coordinator stops an
attempt are dropped with it, so `stopped` is the attempt's next and last event, as the port asks.

Not done yet: launch idempotence is remembered in memory only (a restarted executor knows the
live attempts, not the ones that ended before it started: relaunching one of those runs it
again); actors killed a moment before a re-attach may still be listed by Ray and are then
re-attached and reported failed ("worker died"); a group left RESCHEDULING after a node loss is
cleared only through its actors' deaths; attempts whose coordinator never comes back are never
cleaned up (they are detached).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError
from ray.util.placement_group import (
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from scheduler.domain.clock import Clock
from scheduler.domain.jobs import Job, Placement
from scheduler.executor.base import (
    EventKind,
    Executor,
    ExecutorEvent,
    StopReason,
    check_launch,
)
from scheduler.executor.errors import AttemptConflict, ExecutorClosed
from scheduler.executor.ray_cluster import (
    alive_pool_nodes,
    node_resource,
    pool_node_of,
)
from scheduler.executor.ray_worker import RankReport, RankSpec, RemoteRank, split_entrypoint
from scheduler.workloads.context import FULL_BP

log = logging.getLogger(__name__)

_PREFIX = "gba/"


@dataclass(slots=True)
class _Live:
    job_id: str
    attempt: int
    nodes: tuple[str, ...]
    """Rank i's pool node."""
    group: Any
    ranks: list[Any]
    launched: float
    """time.monotonic() at launch (or re-attach), for the watchdog."""
    started_at: int | None = None
    last_bp: int | None = None
    answered: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)
    # Rank 0's figures seen before every rank answered: held back so `started` comes first.
    held: list[tuple[str, int]] = field(default_factory=list)
    inflight: dict[int, Any] = field(default_factory=dict)


class RayExecutor(Executor):
    """Runs attempts on the Ray cluster this process is connected to (`ray_cluster.connect`).

    `checkpoint_root`: job j's checkpoint directory is `checkpoint_root/j`, shared by its
    attempts (on a real cluster: a filesystem every node mounts at that path).
    `entrypoint_for(job)`: what to run, by default `job.entrypoint`."""

    def __init__(
        self,
        clock: Clock,
        checkpoint_root: Path,
        *,
        entrypoint_for: Callable[[Job], str] | None = None,
        start_timeout_s: float = 120.0,
        collect_wait_s: float = 0.05,
        call_timeout_s: float = 30.0,
        attach: bool = True,
    ) -> None:
        if not ray.is_initialized():
            raise RuntimeError("Ray is not connected: call scheduler.executor.ray_cluster.connect")
        self._clock = clock
        self._checkpoint_root = checkpoint_root
        self._entrypoint_for = entrypoint_for or (lambda job: job.entrypoint)
        self._start_timeout_s = start_timeout_s
        self._collect_wait_s = collect_wait_s
        self._call_timeout_s = call_timeout_s
        self._namespace: str = ray.get_runtime_context().namespace
        self._live: dict[str, _Live] = {}
        self._launched: dict[str, int] = {}
        self._outbox: list[ExecutorEvent] = []
        self._closed = False
        if attach:
            self._attach()

    # ------------------------------------------------------------------ the port

    def launch(self, job: Job, attempt: int, placement: Placement) -> None:
        # Only to know what still runs: a launch never waits for ranks that have not answered
        # (a tick launching many gangs would wait collect_wait_s for each).
        self._collect(wait=False)
        check_launch(job, attempt, placement)
        newest = self._launched.get(job.id, 0)
        if attempt == newest:
            return
        if attempt < newest:
            raise AttemptConflict(job.id, attempt, f"attempt {newest} was already launched")
        running = self._live.get(job.id)
        if running is not None:
            raise AttemptConflict(job.id, attempt, f"attempt {running.attempt} still runs")
        self._launched[job.id] = attempt
        entrypoint = self._entrypoint_for(job)
        try:
            # Only the shape: whether the module imports is found out on the worker, whose
            # code may differ from the coordinator's.
            split_entrypoint(entrypoint)
        except ValueError as error:
            # Reported, not raised: the coordinator committed the launch already, and a job
            # that cannot run is a failed attempt like any other.
            self._emit(EventKind.FAILED, job.id, attempt, error=str(error))
            return
        nodes = tuple(node for node, _ in placement.workers)
        name = f"{_PREFIX}{job.id}/{attempt}"
        group = placement_group(
            [{node_resource(node): float(count)} for node, count in placement.workers],
            strategy="PACK",
            name=name,
            lifetime="detached",
        )
        ranks = []
        for rank, node in enumerate(nodes):
            spec = RankSpec(
                job.id,
                attempt,
                rank,
                len(nodes),
                node,
                entrypoint,
                str(self._checkpoint_root / job.id),
            )
            ranks.append(
                RemoteRank.options(
                    name=f"{name}/{rank}/{len(nodes)}",
                    namespace=self._namespace,
                    lifetime="detached",
                    max_restarts=0,
                    num_cpus=0,
                    scheduling_strategy=PlacementGroupSchedulingStrategy(
                        group, placement_group_bundle_index=rank
                    ),
                ).remote(spec)
            )
        self._live[job.id] = _Live(job.id, attempt, nodes, group, ranks, time.monotonic())

    def stop(self, job_id: str, attempt: int, reason: StopReason) -> None:
        if self._closed:
            raise ExecutorClosed("the executor is closed")
        live = self._live.get(job_id)
        if live is None or live.attempt != attempt:
            return
        self._end(live, EventKind.STOPPED, reason=reason)

    def poll(self) -> list[ExecutorEvent]:
        self._collect()
        out, self._outbox = self._outbox, []
        return out

    def attempts(self) -> dict[str, int]:
        self._collect()
        return {job_id: live.attempt for job_id, live in self._live.items()}

    def started_at(self, job_id: str, attempt: int) -> int | None:
        self._collect()
        live = self._live.get(job_id)
        if live is None or live.attempt != attempt:
            return None
        return live.started_at

    def close(self) -> None:
        # Attempts stay running (detached): a new executor re-attaches them by name.
        self._closed = True
        self._live.clear()

    # ------------------------------------------------------------------ for tests and tools

    def ray_nodes(self, job_id: str) -> list[str]:
        """The Ray node each rank of the job's live attempt runs on."""
        live = self._live[job_id]
        refs = [rank.ray_node.remote() for rank in live.ranks]
        return list(ray.get(refs, timeout=self._call_timeout_s))

    # ------------------------------------------------------------------ collecting

    def _collect(self, *, wait: bool = True) -> None:
        if self._closed:
            raise ExecutorClosed("the executor is closed")
        for live in self._live.values():
            for rank, handle in enumerate(live.ranks):
                if rank not in live.inflight:
                    live.inflight[rank] = handle.drain.remote()
        refs = [ref for live in self._live.values() for ref in live.inflight.values()]
        ready: set[Any] = set()
        if refs:
            # Back as soon as one rank answered (waiting for all would hold every poll for the
            # full wait while some rank is still starting), then take whatever else is ready.
            done, _ = ray.wait(refs, num_returns=1, timeout=self._collect_wait_s if wait else 0)
            if done:
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            ready = set(done)
        for live in list(self._live.values()):
            self._advance(live, ready)

    def _advance(self, live: _Live, ready: set[Any]) -> None:
        """Turn the rank answers that arrived into the attempt's events, in order."""
        failure: str | None = None
        lost: str | None = None
        for rank, ref in list(live.inflight.items()):
            if ref not in ready:
                continue
            del live.inflight[rank]
            try:
                report: RankReport = ray.get(ref, timeout=self._call_timeout_s)
            except ActorUnavailableError:  # may come back: ask again next time
                continue
            except RayActorError as died:
                node = live.nodes[rank]
                if node not in alive_pool_nodes():
                    lost = lost or node
                else:
                    failure = failure or f"rank {rank}: worker died: {_first_line(died)}"
                continue
            except GetTimeoutError:  # ready yet not gettable: try again next time
                continue
            except Exception as error:  # drain itself raised: a bug in the worker, not the job
                failure = failure or f"rank {rank}: {_first_line(error)}"
                continue
            live.answered.add(rank)
            if rank == 0:
                live.held.extend(report.reports)
                if live.started_at is None and report.started_at is not None:
                    # Re-attached: the previous executor reported `started` at this time.
                    live.started_at = report.started_at
            if report.state == "finished":
                live.finished.add(rank)
            elif report.state == "failed":
                failure = failure or report.error or f"rank {rank} failed"
        if live.started_at is None and len(live.answered) == len(live.ranks):
            at = self._emit(EventKind.STARTED, live.job_id, live.attempt)
            live.started_at = at
            # Waited for (one round trip, once per attempt): an executor that re-attaches after
            # a crash must find this, or it would report `started` a second time.
            try:
                ray.get(live.ranks[0].mark_started.remote(at), timeout=self._call_timeout_s)
            except Exception as error:  # the next drain reports what became of the rank
                log.warning("%s/%s: start time not recorded: %s", live.job_id, live.attempt, error)
        if live.started_at is not None:
            for kind, bp in live.held:
                if live.last_bp is None or bp >= live.last_bp:
                    live.last_bp = bp
                    self._emit(EventKind(kind), live.job_id, live.attempt, progress_bp=bp)
            live.held.clear()
        if lost is not None:
            self._end(live, EventKind.NODE_LOST, node=lost)
        elif failure is not None:
            self._end(live, EventKind.FAILED, error=failure)
        elif len(live.finished) == len(live.ranks):
            live.last_bp = FULL_BP
            self._end(live, EventKind.FINISHED)
        elif live.started_at is None and time.monotonic() - live.launched > self._start_timeout_s:
            self._end(live, EventKind.FAILED, error=self._not_started(live))

    def _not_started(self, live: _Live) -> str:
        state = "unknown"
        with contextlib.suppress(Exception):
            state = placement_group_table(live.group).get("state", "unknown")
        missing = sorted(set(live.nodes) - alive_pool_nodes())
        why = (
            f"; no live Ray node declares {', '.join(map(node_resource, missing))}"
            if missing
            else ""
        )
        return (
            f"gang not started within {self._start_timeout_s:g} s of launch: placement group "
            f"{_PREFIX}{live.job_id}/{live.attempt} is {state}{why}"
        )

    # ------------------------------------------------------------------ ending

    def _emit(
        self,
        kind: EventKind,
        job_id: str,
        attempt: int,
        *,
        progress_bp: int | None = None,
        error: str | None = None,
        node: str | None = None,
        reason: StopReason | None = None,
    ) -> int:
        at = self._clock.now()
        self._outbox.append(
            ExecutorEvent(kind, job_id, attempt, at, progress_bp, error, node, reason)
        )
        return at

    def _end(
        self,
        live: _Live,
        kind: EventKind,
        *,
        error: str | None = None,
        node: str | None = None,
        reason: StopReason | None = None,
    ) -> None:
        bp = FULL_BP if kind is EventKind.FINISHED else live.last_bp
        self._emit(
            kind, live.job_id, live.attempt, progress_bp=bp, error=error, node=node, reason=reason
        )
        del self._live[live.job_id]
        _release(live)

    # ------------------------------------------------------------------ re-attaching

    def _attach(self) -> None:
        """List the attempts a previous executor left running on this cluster as live."""
        for (job_id, attempt), handles in _named_gangs(self._namespace).items():
            group = None
            with contextlib.suppress(Exception):
                group = get_placement_group(f"{_PREFIX}{job_id}/{attempt}")
            if group is None or None in handles:
                # Half a gang, or no group: it cannot run. Clear it; the coordinator requeues.
                log.warning("re-attach: %s attempt %s is incomplete, removing it", job_id, attempt)
                _release_parts(group, [h for h in handles if h is not None])
                continue
            nodes = tuple(_bundle_node(bundle) for bundle in group.bundle_specs)
            live = _Live(job_id, attempt, nodes, group, list(handles), time.monotonic())
            self._live[job_id] = live
            self._launched[job_id] = max(self._launched.get(job_id, 0), attempt)


def _named_gangs(namespace: str) -> dict[tuple[str, int], list[Any]]:
    """(job id, attempt) -> its rank actors in `namespace` by rank (None where a rank's actor is
    missing)."""
    gangs: dict[tuple[str, int], list[Any]] = {}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name = entry["name"]
        if entry["namespace"] != namespace or not name.startswith(_PREFIX):
            continue
        try:
            job_id, attempt, rank, world = name.removeprefix(_PREFIX).rsplit("/", 3)
            key, index, size = (job_id, int(attempt)), int(rank), int(world)
        except ValueError:
            continue
        slots = gangs.setdefault(key, [None] * size)
        with contextlib.suppress(ValueError, IndexError):
            slots[index] = ray.get_actor(name, namespace=namespace)
    return gangs


def _bundle_node(bundle: Mapping[str, float]) -> str:
    for resource in bundle:
        node = pool_node_of(resource)
        if node is not None:
            return node
    return "?"


def _release(live: _Live) -> None:
    _release_parts(live.group, live.ranks)


def _release_parts(group: Any, ranks: list[Any]) -> None:
    """Kill the actors and free the group's resources; both calls return at once."""
    for handle in ranks:
        with contextlib.suppress(Exception):
            ray.kill(handle, no_restart=True)
    if group is not None:
        with contextlib.suppress(Exception):
            remove_placement_group(group)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
