"""The coordinator's metrics over HTTP, parsed as Prometheus parses them: the queue, the jobs
holding accelerators, nodes by state and free accelerators follow what the coordinator does;
the counters agree with the store and the ledger after a workload; OpenMetrics is served when
asked for; the gRPC edge counts calls by method and status code; every name of docs/metrics.md
is served; and `gbasched serve --metrics-port` serves them next to the gRPC API."""

from __future__ import annotations

import re
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
from scheduler.api.metrics import GrpcMetrics, MetricsServer, metrics_registry, serve_metrics
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.api.v1 import scheduler_pb2_grpc
from scheduler.domain.jobs import JobState
from scheduler.domain.nodes import NodeState
from tests.api_builders import (
    READY_TIMEOUT_S,
    Served,
    a_token_book,
    demo_token,
    free_port,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND
from tests.deploy_files import deployed_expressions, metrics_in
from tests.service_builders import World, a_world, money, small_pool

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
SUBMIT_JOB = "/gba.scheduler.v1.Scheduler/SubmitJob"


def fetch(port: int, accept: str | None = None) -> tuple[str, str]:
    """The body of /metrics and its content type."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if accept is not None:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read().decode(), reply.headers["Content-Type"]


def scrape(port: int) -> Samples:
    text, _ = fetch(port)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


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
    assert total(before, "gba_scheduler_jobs_pending") == 0
    # an empty queue still serves every reason a waiting job can have, at 0
    by_reason = {
        dict(labels)["reason"]: value
        for (name, labels), value in before.items()
        if name == "gba_scheduler_jobs_pending_by_reason"
    }
    waiting = ("UNDECIDED", "OVER_QUOTA", "NO_CAPACITY", "BLOCKED_BY_HEAD", "RESERVED")
    assert by_reason == dict.fromkeys((*waiting, "BACKFILL_WOULD_DELAY", "NO_FUNDS"), 0.0)
    assert total(before, "gba_scheduler_accelerators") == 16
    assert total(before, "gba_scheduler_accelerators_free") == 16
    assert total(before, "gba_scheduler_nodes", state="up") == 2
    assert total(before, "gba_scheduler_coordinator_stopped") == 0

    for _ in range(3):
        world.submit()
    world.run()
    world.submit()
    world.coordinator.set_node_state(min(world.coordinator.pool.nodes), NodeState.CORDONED, "ops")
    after = scrape(metrics.port)

    # two nodes of 8: two 8-accelerator jobs hold them; the third waits, and the fourth
    assert total(after, "gba_scheduler_jobs_running", tenant="t1") == 2
    assert total(after, "gba_scheduler_jobs_pending", tenant="t1", priority_class="standard") == 2
    assert total(after, "gba_scheduler_jobs_pending_by_reason", reason="UNDECIDED") == 1
    assert total(after, "gba_scheduler_jobs_pending_by_reason", reason="NO_CAPACITY") == 1
    assert total(after, "gba_scheduler_accelerators_allocated") == 16
    assert total(after, "gba_scheduler_accelerators_free") == 0
    assert total(after, "gba_scheduler_utilisation_ratio") == 1.0
    assert total(after, "gba_scheduler_nodes", state="cordoned") == 1
    assert total(after, "gba_scheduler_nodes", state="up") == 1
    assert total(after, "gba_scheduler_submit_transactions_total") == 4
    assert total(after, "gba_scheduler_last_event_seq") == world.store.last_event_seq()
    assert total(after, "gba_scheduler_last_tick_timestamp_seconds") == world.clock.now()
    assert total(after, "gba_scheduler_last_cycle_admissions") == 2
    assert total(after, "gba_scheduler_last_cycle_considered_jobs") == 3


def test_after_a_workload_the_counters_agree_with_the_store_and_the_ledger() -> None:
    world = a_world(small_pool(nodes=2), programs=money(), max_retries=2)
    metrics = serve_metrics(world.coordinator, "127.0.0.1", 0)
    try:
        jobs = [world.submit(), world.submit(), world.submit(), world.submit("t2")]
        queued_then_cancelled = world.submit("t2")
        world.submit(client_key="k")
        world.submit(client_key="k")  # the same job again: not a new one
        world.run()  # two admitted, the others wait
        world.coordinator.cancel(queued_then_cancelled, "ops")
        world.executor.fail(jobs[0], "out of memory")
        world.run(60)  # requeued (retry 1 of 2); another admitted in its place
        [holding, *_] = world.coordinator.jobs(states=[JobState.RUNNING])
        world.coordinator.cancel(holding.id, "ops")  # a running one
        for _ in range(4):
            world.run(1800)  # attempts run half their walltime: some succeed, others start
        samples = scrape(metrics.port)
    finally:
        metrics.stop()

    stored = world.coordinator.jobs(limit=1000)
    assert total(samples, "gba_scheduler_jobs_submitted_total") == len(stored) == 7 - 1
    finished = {
        outcome: total(samples, "gba_scheduler_jobs_finished_total", outcome=outcome)
        for outcome in ("succeeded", "failed", "cancelled")
    }
    ended = {s: sum(1 for r in stored if r.state is s) for s in JobState if s.terminal}
    assert finished["succeeded"] == ended[JobState.SUCCEEDED] > 0
    assert finished["failed"] == ended[JobState.FAILED]
    assert finished["cancelled"] == ended[JobState.CANCELLED] == 2
    running = len(world.coordinator.state.running)
    assert total(samples, "gba_scheduler_jobs_running") == running
    # Attempt accounting: every admitted attempt either holds accelerators now, or ended the
    # job (succeeded, failed, or cancelled while holding), or was requeued (lost, failed with a
    # retry left, or preempted: a preempted attempt is requeued once its stop is reported, and
    # this workload preempts nothing). A job cancelled while it waited was never admitted.
    admitted = total(samples, "gba_scheduler_jobs_admitted_total")
    requeued = total(samples, "gba_scheduler_jobs_requeued_total")
    assert requeued == 1
    never_admitted = sum(1 for r in stored if r.state is JobState.CANCELLED and r.attempt == 0)
    assert never_admitted == 1
    assert admitted == sum(finished.values()) - never_admitted + requeued + running
    assert total(samples, "gba_scheduler_cycle_admissions_total") == admitted
    assert total(samples, "gba_scheduler_admission_wait_seconds_count") == admitted
    assert total(samples, "gba_scheduler_jobs_preempted_total") == 0

    [program] = world.coordinator.reports().programs
    paid = total(samples, "gba_scheduler_program_paid", program=program.program, currency="CNY")
    assert program.paid > 0
    assert paid == program.paid / 100  # fen to yuan
    assert total(samples, "gba_scheduler_program_budget") == program.budget / 100

    accelerators = total(samples, "gba_scheduler_accelerators")
    allocated = total(samples, "gba_scheduler_accelerators_allocated")
    assert accelerators == sum(node.accelerators for node in world.coordinator.pool.nodes.values())
    assert allocated == 8 * running  # every job here holds one node of 8
    assert total(samples, "gba_scheduler_utilisation_ratio") == allocated / accelerators
    assert total(samples, "gba_scheduler_domestic_share_ratio") == 1.0  # Ascend only


def test_openmetrics_is_served_when_the_scraper_asks_for_it(metrics: MetricsServer) -> None:
    text, content_type = fetch(metrics.port, "application/openmetrics-text; version=1.0.0")

    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    assert "gba_scheduler_jobs_submitted_total" in text

    plain, content_type = fetch(metrics.port)
    assert content_type.startswith("text/plain")
    assert "# EOF" not in plain


@pytest.fixture
def served_metrics(tmp_path: Path) -> Iterator[tuple[World, MetricsServer, GrpcMetrics, Served]]:
    for world in world_on_sqlite(tmp_path / "edge.db", programs=money()):
        registry = metrics_registry(world.coordinator)
        grpc_metrics = GrpcMetrics(registry)
        endpoint = serve_metrics(world.coordinator, "127.0.0.1", 0, registry=registry)
        try:
            for api in serving(world, a_token_book("t1", "t2"), metrics=grpc_metrics):
                yield world, endpoint, grpc_metrics, api
        finally:
            endpoint.stop()


def a_spec() -> pb.JobSpec:
    return pb.JobSpec(
        workers=1,
        per_worker=8,
        models=[ASCEND],
        walltime_s=3600,
        data_origin="JURISDICTION_MAINLAND",
    )


def test_the_grpc_edge_counts_calls_by_method_and_status_code(
    served_metrics: tuple[World, MetricsServer, GrpcMetrics, Served],
) -> None:
    _, endpoint, _, api = served_metrics
    before = scrape(endpoint.port)
    t1 = api.as_(tenant_token("t1"))
    t1.SubmitJob(pb.SubmitJobRequest(spec=a_spec()))
    with pytest.raises(grpc.RpcError) as refused:
        api.as_(None).SubmitJob(pb.SubmitJobRequest(spec=a_spec()))
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    after = scrape(endpoint.port)

    requests = "gba_scheduler_grpc_requests_total"
    assert total(before, requests, method=SUBMIT_JOB) == 0
    assert total(after, requests, method=SUBMIT_JOB, code="OK") == 1
    assert total(after, requests, method=SUBMIT_JOB, code="UNAUTHENTICATED") == 1
    count = "gba_scheduler_grpc_request_duration_seconds_count"
    assert total(after, count, method=SUBMIT_JOB) == total(before, count, method=SUBMIT_JOB) + 2
    assert total(after, "gba_scheduler_jobs_submitted_total", tenant="t1") == 1


def doc_names() -> list[tuple[str, str]]:
    """(name, type) of every metric in docs/metrics.md's tables; the throughput table has no
    type column: its metrics are counters."""
    names: list[tuple[str, str]] = []
    for line in DOC.read_text().splitlines():
        match = re.match(r"\|\s*`(gba_scheduler_\w+)`\s*\|(.*)", line)
        if match is None:
            continue
        name, rest = match.groups()
        cells = [cell.strip() for cell in rest.split("|")]
        kind = cells[0] if cells[0] in ("counter", "gauge", "histogram") else "counter"
        names.append((name, kind))
    return names


def test_every_metric_of_the_doc_is_served(
    served_metrics: tuple[World, MetricsServer, GrpcMetrics, Served],
) -> None:
    world, endpoint, _, api = served_metrics
    names = doc_names()
    assert len(names) >= 40
    for _ in range(3):  # one node of 8 in this pool: one runs, two wait
        api.as_(tenant_token("t1")).SubmitJob(pb.SubmitJobRequest(spec=a_spec()))
    world.run()
    world.run(1)
    samples = {name for name, _ in scrape(endpoint.port)}

    missing: list[str] = []
    for name, kind in names:
        if kind == "histogram":
            wanted = [f"{name}_bucket", f"{name}_count", f"{name}_sum"]
        elif kind == "counter":
            assert name.endswith("_total"), name
            wanted = [name]
        else:
            wanted = [name]
        missing += [w for w in wanted if w not in samples]
    assert missing == []
    assert "python_info" in samples
    assert "process_cpu_seconds_total" in samples
    assert not [s for s in samples if s.startswith("gbasched_")]
    # what the dashboard and the Prometheus rules read is served (a histogram by its series)
    used = {name for expr in deployed_expressions() for name in metrics_in(expr)}
    assert len(used) >= 25
    assert sorted(n for n in used if n not in samples and f"{n}_bucket" not in samples) == []


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
            if total(samples, "gba_scheduler_jobs_running") == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert total(samples, "gba_scheduler_jobs_running", tenant="bay-natlab-fm") == 1
        assert total(samples, "gba_scheduler_nodes") == 80  # the sample pool
        assert total(samples, "gba_scheduler_accelerators") == 636  # no node is down
        # the submission went through the gRPC edge, counted there too
        submitted = total(
            samples, "gba_scheduler_grpc_requests_total", method=SUBMIT_JOB, code="OK"
        )
        assert submitted == 1
        assert total(samples, "process_start_time_seconds") > 0
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in output
