"""The coordinator's figures for Prometheus, read at scrape time (`gbasched serve --metrics-port`).

Nothing in the scheduling path is instrumented: a collector reads what the coordinator already
keeps (queue and running table sizes, the pool's nodes and free accelerators, the last tick,
counts of group commits and events) when Prometheus asks. Each figure is one attribute read or a
sum over a list, safe from the HTTP server's thread while a tick runs: at worst a scrape sees a
value a tick is about to change.

This is the first set; throughput, queue wait, utilisation by city and subsidy spend come with
the metrics and dashboards work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler.domain.nodes import NodeState
from scheduler.service.coordinator import Coordinator

PREFIX = "gbasched"


class CoordinatorCollector(Collector):
    def __init__(self, coordinator: Coordinator) -> None:
        self._coordinator = coordinator

    def collect(self) -> Iterator[Metric]:
        coordinator = self._coordinator
        state, pool = coordinator.state, coordinator.pool  # each swapped whole, never mutated
        yield GaugeMetricFamily(
            f"{PREFIX}_jobs_pending",
            "Jobs waiting in the queue (acknowledged ones the next tick takes in included).",
            value=coordinator.waiting,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_jobs_holding",
            "Jobs holding accelerators (admitted or running).",
            value=len(state.running),
        )
        by_state = Counter(node.state for node in pool.nodes.values())
        nodes = GaugeMetricFamily(
            f"{PREFIX}_nodes", "Nodes of the pool by state.", labels=["state"]
        )
        for node_state in NodeState:
            nodes.add_metric([node_state.value], by_state.get(node_state, 0))
        yield nodes
        accelerators = GaugeMetricFamily(
            f"{PREFIX}_accelerators",
            "Accelerators of the pool: all of them, and those free on nodes that take work.",
            labels=["kind"],
        )
        accelerators.add_metric(["total"], sum(n.accelerators for n in pool.nodes.values()))
        accelerators.add_metric(["free"], state.index.free_accelerators())
        yield accelerators
        yield CounterMetricFamily(
            f"{PREFIX}_submit_transactions",
            "Store transactions that wrote submissions (each a group commit of one or more).",
            value=coordinator.submit_transactions,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_last_event_seq",
            "The sequence number of the newest event in the store.",
            value=coordinator.last_event_seq,
        )
        tick = coordinator.last_tick
        if tick is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_last_tick_timestamp_seconds",
                "The clock time of the last tick.",
                value=tick.at,
            )
            yield GaugeMetricFamily(
                f"{PREFIX}_last_cycle_seconds",
                "How long the last scheduling cycle's decisions took.",
                value=tick.cycle_ms / 1000,
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_coordinator_stopped",
            "1 when the coordinator takes no more work and must be restarted.",
            value=0 if coordinator.stopped is None else 1,
        )


@dataclass
class MetricsServer:
    """The HTTP endpoint Prometheus scrapes (`/metrics`), on its own thread."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return self.server.server_port

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve_metrics(coordinator: Coordinator, host: str, port: int) -> MetricsServer:
    """Serve the coordinator's metrics (and nothing else: a registry of its own) on
    `host:port`; port 0 picks a free one."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CoordinatorCollector(coordinator))
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
