"""A real Prometheus scrapes a real `gbasched serve`: both on loopback, Prometheus every second.

The coordinator runs as a user runs it (`python -m scheduler.cli serve --executor fake`, its gRPC
API and metrics endpoint on ports it picks); Prometheus runs from Debian's `prometheus` package
with a generated configuration. Through Prometheus' HTTP API the test checks that the target is
up, that submissions show as a rate (`gba_scheduler_jobs_submitted_total`) and that
`gba_scheduler_accelerators` adds up to the pool's accelerators (docs/metrics.md names).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scheduler.api.client import JobSpec, SchedulerClient, Submission
from scheduler.cli.paths import default_pool_path
from scheduler.config.pool_toml import load_pool
from scheduler.domain.nodes import NodeState
from tests.api_builders import READY_TIMEOUT_S, demo_token, free_port

PROMETHEUS_MISSING = (
    "prometheus not found: install Debian's prometheus package (apt-get install prometheus)"
)
JOB = "gbasched"  # the scrape job's name, Prometheus' `job` label
POLL_TIMEOUT_S = 30.0  # for any one condition through Prometheus' API
POLL_S = 0.25
STOP_TIMEOUT_S = 15.0
BATCH = 15  # two batches, so the counter grows within Prometheus' 10 s window whatever its start
SPEC = JobSpec(workers=1, per_worker=8, walltime_s=3600, models=("huawei-ascend-910b",))

SERVING = re.compile(r"gbasched: serving on 127\.0\.0\.1:(\d+) ")
METRICS = re.compile(r"gbasched: metrics on http://127\.0\.0\.1:(\d+)/metrics")


@dataclass
class Process:
    """A child process whose output a thread keeps reading (so its pipe never fills)."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if (found := pattern.search(line)) is not None:
                    return found
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"no line matching {pattern.pattern!r}; output:\n{self.output}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT_S)


def start(argv: list[str]) -> Process:
    """Start `argv`, its output (stdout and stderr) read by a thread."""
    popen = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL
    )
    return Process(popen)


@dataclass(frozen=True)
class Coordinator:
    process: Process
    address: str
    metrics_port: int


@dataclass(frozen=True)
class Prometheus:
    process: Process
    url: str

    @property
    def log(self) -> str:
        return self.process.output or "(Prometheus wrote nothing)"

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as reply:
            answer = json.load(reply)
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """An instant query's vector: (labels, value) per series."""
        data = self.api("/api/v1/query", query=promql)
        assert data["resultType"] == "vector", data
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def scalar(self, promql: str) -> float | None:
        """The single value of a query that aggregates to one series (None: no series)."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return result[0][1] if result else None

    def until(self, what: str, condition: Callable[[], bool]) -> None:
        """Poll `condition` until it holds, failing with Prometheus' log after POLL_TIMEOUT_S."""
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{what}: not within {POLL_TIMEOUT_S:g} s; Prometheus' log:\n{self.log}"
                )
            if self.process.popen.poll() is not None:
                pytest.fail(f"{what}: Prometheus exited; its log:\n{self.log}")
            time.sleep(POLL_S)


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        pytest.fail(PROMETHEUS_MISSING)
    return path


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[Coordinator]:
    process = start(
        [
            sys.executable,
            "-m",
            "scheduler.cli",
            "serve",
            "--executor",
            "fake",
            "--fake-runtime-s",
            "1",
            "--db",
            str(tmp_path / "pool.db"),
            "--port",
            "0",
            "--metrics-port",
            "0",
        ]
    )
    try:
        metrics = process.wait_for(METRICS, READY_TIMEOUT_S)
        serving = process.wait_for(SERVING, READY_TIMEOUT_S)
        yield Coordinator(process, f"127.0.0.1:{serving[1]}", int(metrics[1]))
    finally:
        process.stop()


@pytest.fixture
def prometheus(tmp_path: Path, coordinator: Coordinator) -> Iterator[Prometheus]:
    binary = prometheus_binary()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: {JOB}\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{coordinator.metrics_port}']\n"
    )
    port = free_port()
    process = start(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
    )
    server = Prometheus(process, f"http://127.0.0.1:{port}")
    try:
        server.until("Prometheus ready", lambda: _ready(server.url))
        yield server
    finally:
        process.stop()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def test_prometheus_scrapes_the_coordinator(
    coordinator: Coordinator, prometheus: Prometheus
) -> None:
    # The target is up: Prometheus scraped the endpoint and parsed what it served.
    up = f'up{{job="{JOB}"}}'
    prometheus.until(f"{up} == 1", lambda: prometheus.scalar(up) == 1)
    targets = prometheus.api("/api/v1/targets")["activeTargets"]
    assert [t["health"] for t in targets] == ["up"], (targets, prometheus.log)

    # The names of docs/metrics.md are served (they are not, before the metrics work lands).
    served = prometheus.api("/api/v1/label/__name__/values")
    wanted = {"gba_scheduler_jobs_submitted_total", "gba_scheduler_accelerators"}
    assert wanted <= set(served), (
        f"Prometheus has no {sorted(wanted - set(served))} from the coordinator; "
        f"its names: {served}; Prometheus' log:\n{prometheus.log}"
    )

    # The pool's accelerators (on nodes not down), all of them up or not.
    pool = load_pool(default_pool_path())
    accelerators = sum(n.accelerators for n in pool.nodes.values() if n.state != NodeState.DOWN)
    total = prometheus.scalar("sum(gba_scheduler_accelerators)")
    assert total == accelerators, prometheus.log

    # Submissions show as a rate: two batches a few scrapes apart, so that two samples inside
    # the 10 s window differ whether or not the series existed (at 0) before the first batch.
    submitted = "sum(gba_scheduler_jobs_submitted_total)"
    with SchedulerClient(coordinator.address, demo_token("bay-natlab-fm")) as client:
        client.submit_many([Submission(SPEC, client_key=f"a{i}") for i in range(BATCH)])
        prometheus.until(f"{submitted} == {BATCH}", lambda: prometheus.scalar(submitted) == BATCH)
        client.submit_many([Submission(SPEC, client_key=f"b{i}") for i in range(BATCH)])
    prometheus.until(
        f"{submitted} == {2 * BATCH}", lambda: prometheus.scalar(submitted) == 2 * BATCH
    )
    rate = "sum(rate(gba_scheduler_jobs_submitted_total[10s]))"
    assert (prometheus.scalar(rate) or 0) > 0, prometheus.log
