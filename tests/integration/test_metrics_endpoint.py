"""The coordinator's metrics over HTTP, parsed as Prometheus parses them: the queue, the jobs
holding accelerators, nodes by state and free accelerators follow what the coordinator does; and
`gbasched serve --metrics-port` serves them next to the gRPC API."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from scheduler.api.auth import bearer
from scheduler.api.metrics import MetricsServer, serve_metrics
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.api.v1 import scheduler_pb2_grpc
from scheduler.domain.nodes import NodeState
from tests.api_builders import READY_TIMEOUT_S, demo_token, free_port, world_on_sqlite
from tests.service_builders import World, small_pool

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "metrics.db", small_pool(nodes=2))


@pytest.fixture
def metrics(world: World) -> Iterator[MetricsServer]:
    server = serve_metrics(world.coordinator, "127.0.0.1", 0)
    yield server
    server.stop()


def test_the_metrics_follow_the_queue_the_running_jobs_and_the_nodes(
    world: World, metrics: MetricsServer
) -> None:
    before = scrape(metrics.port)
    assert before[("gbasched_jobs_pending", ())] == 0
    assert before[("gbasched_accelerators", (("kind", "total"),))] == 16
    assert before[("gbasched_accelerators", (("kind", "free"),))] == 16
    assert before[("gbasched_nodes", (("state", "up"),))] == 2
    assert before[("gbasched_coordinator_stopped", ())] == 0

    for _ in range(3):
        world.submit()
    world.run()
    world.submit()
    world.coordinator.set_node_state(min(world.coordinator.pool.nodes), NodeState.CORDONED, "ops")
    after = scrape(metrics.port)

    assert after[("gbasched_jobs_holding", ())] == 2  # two nodes of 8: two 8-accelerator jobs
    assert after[("gbasched_jobs_pending", ())] == 2  # the third, and the fourth submitted since
    assert after[("gbasched_accelerators", (("kind", "free"),))] == 0
    assert after[("gbasched_nodes", (("state", "cordoned"),))] == 1
    assert after[("gbasched_nodes", (("state", "up"),))] == 1
    assert after[("gbasched_submit_transactions_total", ())] == 4
    assert after[("gbasched_last_event_seq", ())] == world.store.last_event_seq()
    assert after[("gbasched_last_tick_timestamp_seconds", ())] == world.clock.now()


def test_serve_serves_metrics_on_the_port_it_is_given(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scheduler.cli",
            "serve",
            "--executor",
            "fake",
            "--db",
            str(tmp_path / "pool.db"),
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
            stub = scheduler_pb2_grpc.SchedulerStub(channel)
            spec = pb.JobSpec(
                workers=1,
                per_worker=8,
                models=["huawei-ascend-910b"],
                walltime_s=3600,
                data_origin="JURISDICTION_MAINLAND",
            )
            stub.SubmitJob(
                pb.SubmitJobRequest(spec=spec), metadata=bearer(demo_token("bay-natlab-fm"))
            )
        deadline = time.monotonic() + 20
        while True:  # the tick loop admits the job within a second or two
            samples = scrape(metrics_port)
            if samples[("gbasched_jobs_holding", ())] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert samples[("gbasched_jobs_holding", ())] == 1
        nodes = [samples[("gbasched_nodes", (("state", s.value),))] for s in NodeState]
        assert sum(nodes) == 80  # the sample pool
        assert samples[("gbasched_accelerators", (("kind", "total"),))] == 636
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in output
