"""The coordinator's metrics for Prometheus (`gbasched serve --metrics-port`); docs/metrics.md is
the contract: every name, label and unit there is made here.

Two sources. `CoordinatorCollector` reads, at scrape time, one `Coordinator.metrics_view()`:
the counts the coordinator keeps in plain integers as it commits (`scheduler.service.tallies`),
and its queue, cluster state, pool and ledger, read under its core lock, which is released before
anything is written to the scraper. Integers become floats only here (microseconds and TFLOPS to
seconds and PFLOPS, minor units of money to major ones). `GrpcMetrics` wraps the gRPC
methods, counting calls by method and status code and timing them, in plain integers too,
and is the collector of those counts.

    registry = metrics_registry(coordinator)     # the coordinator's figures, process_*, python_info
    grpc_metrics = GrpcMetrics(registry)         # gba_scheduler_grpc_*
    server = await Server.start(..., metrics=grpc_metrics)
    endpoint = serve_metrics(coordinator, "127.0.0.1", 9464, registry=registry)
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from threading import Thread
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIServer

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from prometheus_client import (
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from scheduler.domain.accelerators import Precision
from scheduler.domain.capacity import GUANGDONG_TARGETS
from scheduler.domain.geography import Currency
from scheduler.domain.nodes import NodeState
from scheduler.engine.reasons import INFEASIBLE, PreemptionCause, ReasonCode
from scheduler.service import tallies as t
from scheduler.service.coordinator import UNDECIDED, Coordinator, MetricsView
from scheduler.service.tallies import HistogramSnapshot

T = TypeVar("T")

PREFIX = "gba_scheduler"
OUTCOMES = ("succeeded", "failed", "cancelled")
GRPC_DURATION_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
GRPC_DURATION_BOUNDS_US = tuple(round(bound * 1_000_000) for bound in GRPC_DURATION_BUCKETS_S)

CapacityKey = tuple[str, str, str, str]  # model, city, owner class, jurisdiction
CAPACITY_LABELS = ["model", "city", "owner_class", "jurisdiction"]
WAITING_REASONS = (UNDECIDED, *(str(c) for c in ReasonCode if c not in INFEASIBLE))
"""The reason codes `jobs_pending_by_reason` always serves (a job no cycle has seen: UNDECIDED)."""


def major(amount: int, currency: Currency) -> float:
    """An amount of integer minor units in the currency's major unit."""
    per_major: int = 10**currency.minor_digits
    return amount / per_major


def histogram(name: str, help_: str, snap: HistogramSnapshot, per_unit: int) -> Metric:
    """A tallied histogram of integers, `per_unit` of them to one unit of the metric."""
    return HistogramMetricFamily(
        name, help_, buckets=_buckets(snap, per_unit), sum_value=snap.total / per_unit
    )


def _buckets(snap: HistogramSnapshot, per_unit: int) -> list[tuple[str, float]]:
    """Cumulative (upper bound, count) pairs in the metric's unit, `+Inf` last."""
    buckets: list[tuple[str, float]] = [
        (repr(bound / per_unit), n) for bound, n in zip(snap.bounds, snap.buckets, strict=True)
    ]
    buckets.append(("+Inf", snap.count))
    return buckets


class CoordinatorCollector(Collector):
    def __init__(self, coordinator: Coordinator) -> None:
        self._coordinator = coordinator

    def collect(self) -> Iterator[Metric]:
        view = self._coordinator.metrics_view()  # the lock is released before anything is sent
        families: list[Metric] = []
        families += _throughput(view)
        families += _queues(view)
        families += _cycles(view)
        families += _capacity(view)
        families += _money(view)
        return iter(families)


def _counter(
    name: str, help_: str, labels: list[str], values: Iterable[tuple[list[str], int]]
) -> Metric:
    family = CounterMetricFamily(f"{PREFIX}_{name}", help_, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family


def _gauge(
    name: str, help_: str, labels: list[str], values: Iterable[tuple[list[str], float]]
) -> Metric:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", help_, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family


def _throughput(view: MetricsView) -> list[Metric]:
    tenants = sorted(view.pool.tenants)
    by_kind: dict[str, dict[tuple[str, str], int]] = {}
    for (kind, tenant, label), n in view.tallies.counts.items():
        by_kind.setdefault(kind, {})[(tenant, label)] = n

    def series(kind: str, labels: Iterable[str] | None = None) -> list[tuple[list[str], int]]:
        """Every tenant of the pool (with every expected label) at zero until counted, and
        whatever else was counted (a tenant since removed, another reason)."""
        expected = ("",) if labels is None else labels
        counts = dict.fromkeys(((tn, lb) for tn in tenants for lb in expected), 0)
        counts.update(by_kind.get(kind, {}))
        return [([tn] if labels is None else [tn, lb], n) for (tn, lb), n in sorted(counts.items())]

    return [
        _counter(
            "jobs_submitted",
            "Jobs created by submissions (an idempotent resubmission creates none).",
            ["tenant"],
            series(t.SUBMITTED),
        ),
        _counter("jobs_admitted", "Attempts admitted by a cycle.", ["tenant"], series(t.ADMITTED)),
        _counter(
            "jobs_started",
            "Attempts whose workers all started.",
            ["tenant"],
            series(t.STARTED),
        ),
        _counter(
            "jobs_finished",
            "Jobs that ended, by outcome (succeeded, failed, cancelled).",
            ["tenant", "outcome"],
            series(t.FINISHED, OUTCOMES),
        ),
        _counter(
            "jobs_preempted",
            "Attempts preempted, by cause.",
            ["tenant", "cause"],
            series(t.PREEMPTED, [str(c) for c in PreemptionCause]),
        ),
        _counter(
            "jobs_rejected",
            "Jobs rejected by a cycle, by reason code.",
            ["tenant", "reason"],
            series(t.REJECTED, sorted(str(c) for c in INFEASIBLE)),
        ),
        _counter(
            "jobs_requeued",
            "Attempts lost (node or worker gone) and queued again.",
            ["tenant"],
            series(t.REQUEUED),
        ),
        CounterMetricFamily(
            f"{PREFIX}_submit_transactions",
            "Store transactions that wrote submissions (group commits).",
            value=view.tallies.submit_transactions,
        ),
    ]


def _queues(view: MetricsView) -> list[Metric]:
    pool = view.pool
    pending = {
        (tenant.id, pc): 0
        for tenant in pool.tenants.values()
        for pc in sorted(pool.priority_classes)
        if tenant.may_use_priority(pc)
    }
    pending.update(view.pending)
    running = dict.fromkeys(sorted(pool.tenants), 0)
    running.update(view.running)
    # Every code a waiting job can have is a series, 0 or not: an empty queue still serves it.
    by_reason = dict.fromkeys(WAITING_REASONS, 0)
    by_reason.update(view.pending_by_reason)
    snap = view.tallies
    return [
        _gauge(
            "jobs_pending",
            "Jobs waiting.",
            ["tenant", "priority_class"],
            [([tenant, pc], n) for (tenant, pc), n in sorted(pending.items())],
        ),
        _gauge(
            "jobs_pending_by_reason",
            "Waiting jobs by their pending reason code (UNDECIDED before their first cycle).",
            ["reason"],
            [([reason], n) for reason, n in sorted(by_reason.items())],
        ),
        _gauge(
            "jobs_running",
            "Jobs holding accelerators (admitted or running).",
            ["tenant"],
            [([tenant], n) for tenant, n in sorted(running.items())],
        ),
        histogram(
            f"{PREFIX}_admission_wait_seconds",
            "From a job's submission (or its requeue) to its admission.",
            snap.admission_wait_s,
            1,
        ),
    ]


def _cycles(view: MetricsView) -> list[Metric]:
    snap = view.tallies
    last = snap.last_cycle
    families: list[Metric] = [
        histogram(
            f"{PREFIX}_cycle_duration_seconds",
            "How long each scheduling cycle's decisions took (0 when its outcome was known "
            "without running it).",
            snap.cycle_duration_us,
            1_000_000,
        ),
        CounterMetricFamily(f"{PREFIX}_cycles", "Cycles run.", value=snap.cycles),
        CounterMetricFamily(
            f"{PREFIX}_cycle_admissions",
            "Admissions decided by cycles.",
            value=snap.cycle_admissions,
        ),
        CounterMetricFamily(
            f"{PREFIX}_cycle_preemptions",
            "Preemptions decided by cycles.",
            value=snap.cycle_preemptions,
        ),
        GaugeMetricFamily(
            f"{PREFIX}_last_cycle_admissions",
            "Admissions of the last cycle.",
            value=last.admissions if last else 0,
        ),
        GaugeMetricFamily(
            f"{PREFIX}_last_cycle_preemptions",
            "Preemptions of the last cycle.",
            value=last.preemptions if last else 0,
        ),
        GaugeMetricFamily(
            f"{PREFIX}_last_cycle_considered_jobs",
            "Jobs the last cycle looked at (its snapshot's pending jobs).",
            value=last.considered if last else 0,
        ),
        GaugeMetricFamily(
            f"{PREFIX}_coordinator_stopped",
            "1 when the coordinator takes no more work and must be restarted.",
            value=1 if view.stopped else 0,
        ),
        GaugeMetricFamily(
            f"{PREFIX}_last_event_seq",
            "Sequence number of the newest event in the store.",
            value=view.last_event_seq,
        ),
    ]
    if view.last_tick is not None:
        families.append(
            GaugeMetricFamily(
                f"{PREFIX}_last_tick_timestamp_seconds",
                "Clock time of the last tick.",
                value=view.last_tick.at,
            )
        )
    return families


def _capacity(view: MetricsView) -> list[Metric]:
    pool = view.pool
    catalogue = pool.catalogue
    accelerators: dict[CapacityKey, int] = {}
    allocated: dict[CapacityKey, int] = {}
    free: dict[CapacityKey, int] = {}
    nodes: dict[tuple[str, str, str], int] = {}
    tflops = dict.fromkeys(Precision, 0)
    allocated_tflops = dict.fromkeys(Precision, 0)
    domestic = 0
    for node in pool.nodes.values():
        key = (node.model, str(node.city), str(node.owner_class), str(node.jurisdiction))
        for state in NodeState:
            nodes.setdefault((str(state), str(node.city), str(node.owner_class)), 0)
        nodes[(str(node.state), str(node.city), str(node.owner_class))] += 1
        accelerators.setdefault(key, 0)
        allocated.setdefault(key, 0)
        free.setdefault(key, 0)
        if node.state is NodeState.DOWN:
            continue
        held = view.allocated.get(node.id, 0)
        accelerators[key] += node.accelerators
        allocated[key] += held
        if node.state is NodeState.UP:
            free[key] += view.free.get(node.id, 0)
        model = catalogue[node.model]
        if model.domestic:
            domestic += node.accelerators
        for precision in Precision:
            figure = model.tflops(precision)
            if figure is not None:
                tflops[precision] += figure * node.accelerators
                allocated_tflops[precision] += figure * held
    total = sum(accelerators.values())
    in_use = sum(allocated.values())
    return [
        _gauge(
            "accelerators",
            "Accelerators of the pool on nodes not down.",
            CAPACITY_LABELS,
            [(list(k), n) for k, n in sorted(accelerators.items())],
        ),
        _gauge(
            "accelerators_allocated",
            "Accelerators on nodes not down held by admitted or running jobs.",
            CAPACITY_LABELS,
            [(list(k), n) for k, n in sorted(allocated.items())],
        ),
        _gauge(
            "accelerators_free",
            "Accelerators free on nodes that take work (up).",
            CAPACITY_LABELS,
            [(list(k), n) for k, n in sorted(free.items())],
        ),
        _gauge(
            "nodes",
            "Nodes by state (up, cordoned, draining, down).",
            ["state", "city", "owner_class"],
            [(list(k), n) for k, n in sorted(nodes.items())],
        ),
        _gauge(
            "capacity_pflops",
            "The pool's peak capacity (nodes not down), PFLOPS (int8: POPS).",
            ["precision"],
            [([str(p)], n / 1000) for p, n in tflops.items()],
        ),
        _gauge(
            "allocated_pflops",
            "PFLOPS of the accelerators held by jobs (int8: POPS).",
            ["precision"],
            [([str(p)], n / 1000) for p, n in allocated_tflops.items()],
        ),
        _gauge(
            "capacity_target_pflops",
            "Public capacity targets (Guangdong 40 EFLOPS in 2025, 60 in 2027), fp16 PFLOPS.",
            ["target"],
            [([target.name], target.tflops / 1000) for target in GUANGDONG_TARGETS],
        ),
        GaugeMetricFamily(
            f"{PREFIX}_utilisation_ratio",
            "Allocated accelerators / accelerators (0 on an empty pool).",
            value=in_use / total if total else 0.0,
        ),
        GaugeMetricFamily(
            f"{PREFIX}_domestic_share_ratio",
            "Domestic accelerators / accelerators (nodes not down; 0 on an empty pool).",
            value=domestic / total if total else 0.0,
        ),
    ]


def _money(view: MetricsView) -> list[Metric]:
    reports = view.reports
    programs = reports.programs
    families: list[Metric] = []
    for field, help_ in (
        ("budget", "What the sponsor funded."),
        ("reserved", "Held for running attempts."),
        ("paid", "Paid for settled attempts."),
        ("remaining", "Budget - reserved - paid."),
    ):
        families.append(
            _gauge(
                f"program_{field}",
                f"{help_} Major units of the currency.",
                ["program", "currency"],
                [
                    ([p.program, str(p.currency)], major(getattr(p, field), p.currency))
                    for p in programs
                ],
            )
        )
    families.append(
        _gauge(
            "tenant_spent",
            "What tenants paid themselves (co-payments). Major units of the currency.",
            ["tenant", "currency"],
            [([r.tenant, str(r.currency)], major(r.spent, r.currency)) for r in reports.tenants],
        )
    )
    families.append(
        _gauge(
            "tenant_subsidised",
            "What programs paid for tenants' usage. Major units of the currency.",
            ["tenant", "currency"],
            [
                ([r.tenant, str(r.currency)], major(r.subsidised, r.currency))
                for r in reports.tenants
            ],
        )
    )
    # every owner of the pool, at zero until usage of its accelerators is settled
    owed = {(o.id, o.currency): 0 for o in sorted(view.pool.owners.values(), key=lambda o: o.id)}
    owed.update({(r.owner, r.currency): r.receivable for r in reports.owners})
    families.append(
        _gauge(
            "owner_compensation",
            "What accelerator owners are owed for settled usage. Major units of the currency.",
            ["owner", "currency"],
            [([owner, str(currency)], major(n, currency)) for (owner, currency), n in owed.items()],
        )
    )
    return families


# ---------------------------------------------------------------------------- the gRPC edge

_CODE_NAMES: dict[object, str] = {}
for _code in grpc.StatusCode:
    _CODE_NAMES[_code] = _code.name
    _CODE_NAMES[_code.value[0]] = _code.name


def code_name(code: object, default: str) -> str:
    """The name of a status code as `ServicerContext.code()` gives it (a StatusCode, its
    integer, or None when no code was set: `default`)."""
    if code is None:
        return default
    return _CODE_NAMES.get(code, default)


class _Method:
    """One method's calls: a count per status code and a histogram of durations in whole
    microseconds. Recording (on the server's event loop) and a scrape's copy both hold `lock`
    (a method never called adds no series)."""

    __slots__ = ("codes", "duration", "lock")

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.codes: dict[str, int] = {}
        self.duration = t.Histogram(GRPC_DURATION_BOUNDS_US)

    def record(self, code: str, took_s: float) -> None:
        with self.lock:
            codes = self.codes
            codes[code] = codes.get(code, 0) + 1
            self.duration.observe(round(took_s * 1_000_000))

    def read(self) -> tuple[dict[str, int], HistogramSnapshot]:
        with self.lock:
            return dict(self.codes), self.duration.snapshot()


def _ending(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> str:
    """The status code a call that raised `exc` ends with, as grpc.aio reports it."""
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):  # the caller went away
        return code_name(context.code(), "CANCELLED")
    return code_name(context.code(), "UNKNOWN")  # an abort set the code; else UNKNOWN


class GrpcMetrics(Collector):
    """Counts the calls of the services it instruments by full method name and status code
    (`gba_scheduler_grpc_requests_total`) and times them
    (`gba_scheduler_grpc_request_duration_seconds`); registers itself in `registry`.

    An interceptor installed where the handlers are registered (`instrument`), not a
    `grpc.aio.ServerInterceptor`: with any of those installed, grpc.aio looks up every call's
    handler through a chain of coroutines instead of its table of registered methods, which
    cost ~2.5 % of the submit benchmark's throughput on its own. Here each method's behaviour
    is wrapped once, and a call pays one more coroutine frame and a few integer updates: plain
    counts read at scrape time, as the coordinator's tallies are, not `prometheus_client`
    metrics (their locked values cost a call 4–8 µs more on a loaded server)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._lock = threading.Lock()
        self._methods: dict[str, _Method] = {}
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            f"{PREFIX}_grpc_requests",
            "Calls by full method name and status code name.",
            labels=["method", "code"],
        )
        duration = HistogramMetricFamily(
            f"{PREFIX}_grpc_request_duration_seconds",
            "Server-side call duration.",
            labels=["method"],
        )
        for name, method in sorted(self._methods.items()):
            codes, took = method.read()
            if not took.count:
                continue
            for code, n in sorted(codes.items()):
                requests.add_metric([name, code], n)
            duration.add_metric([name], _buckets(took, 1_000_000), sum_value=took.total / 1_000_000)
        yield requests
        yield duration

    def instrument(self, servicer: T, service: ServiceDescriptor) -> T:
        """`servicer` with each method of `service` it implements counted: its bound methods
        are replaced, on this instance, before it is added to the server (the generated
        `add_…Servicer_to_server` reads them then). Unary-unary and unary-stream methods are
        counted; client- and bidi-streaming ones (none here) are left as they are."""
        for method in service.methods:
            behaviour = getattr(servicer, method.name, None)
            if behaviour is None or method.client_streaming:
                continue
            name = f"/{service.full_name}/{method.name}"
            counted = self._methods.setdefault(name, _Method(self._lock))
            if not method.server_streaming and inspect.iscoroutinefunction(behaviour):
                wrapped: Any = _unary(behaviour, counted)
            elif method.server_streaming and inspect.isasyncgenfunction(behaviour):
                wrapped = _streaming(behaviour, counted)
            elif method.server_streaming and inspect.iscoroutinefunction(behaviour):
                wrapped = _unary(behaviour, counted)  # context.write style
            else:
                continue
            setattr(servicer, method.name, wrapped)
        return servicer


def _unary(
    behaviour: Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]],
    method: _Method,
) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        try:
            response = await behaviour(request, context)
        except BaseException as exc:
            method.record(_ending(context, exc), time.perf_counter() - started)
            raise
        method.record(code_name(context.code(), "OK"), time.perf_counter() - started)
        return response

    return call


def _streaming(
    behaviour: Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]],
    method: _Method,
) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        started = time.perf_counter()
        try:
            async for response in behaviour(request, context):
                yield response
        except BaseException as exc:
            method.record(_ending(context, exc), time.perf_counter() - started)
            raise
        method.record(code_name(context.code(), "OK"), time.perf_counter() - started)

    return call


# ---------------------------------------------------------------------------- serving


def metrics_registry(coordinator: Coordinator) -> CollectorRegistry:
    """A registry of the coordinator's figures and the process's (`process_*`, `python_info`);
    pass it to `GrpcMetrics` to add the gRPC edge's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoordinatorCollector(coordinator))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


@dataclass
class MetricsServer:
    """The HTTP endpoint Prometheus scrapes (`/metrics`), on its own thread."""

    server: WSGIServer
    thread: Thread
    registry: CollectorRegistry

    @property
    def port(self) -> int:
        return self.server.server_port

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve_metrics(
    coordinator: Coordinator, host: str, port: int, registry: CollectorRegistry | None = None
) -> MetricsServer:
    """Serve `registry` (by default `metrics_registry(coordinator)`) on `host:port` over HTTP,
    in the Prometheus text format or OpenMetrics as the scraper's Accept header asks; port 0
    picks a free one."""
    if registry is None:
        registry = metrics_registry(coordinator)
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread, registry)
