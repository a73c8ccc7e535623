"""`gbasched serve` as the README runs it, on Ray: a job submitted with `gbasched submit` runs on
Ray workers (the sample training workload writes its checkpoints and final weights), and
`gbasched job` shows it succeeded with all of its progress, its cost and its subsidy."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from ray._private.utils import write_ray_address

from scheduler.cli.main import main
from tests.api_builders import demo_token, free_port
from tests.ray_session import RaySession

# One xdist worker runs every Ray test (`--dist loadgroup`): one Ray cluster on the machine,
# not one per worker, whose raylets starved each other past Ray's 30 s start-up wait.
pytestmark = pytest.mark.xdist_group("ray")

RAY_START_S = 120  # the server starts a Ray of its own first: seconds on this 2-core machine
RUN_S = 120


def gbasched(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    status = main([*args, "--json"])
    out = capsys.readouterr()
    assert status == 0, out.err
    parsed: dict[str, Any] = json.loads(out.out)
    return parsed


def wait_until_serving(server: subprocess.Popen[str], port: int) -> None:
    """Until the server answers on `port`; fails at once with its output if it exits first."""
    deadline = time.monotonic() + RAY_START_S
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        ready = grpc.channel_ready_future(channel)
        while server.poll() is None and time.monotonic() < deadline:
            try:
                ready.result(timeout=1.0)
                return
            except grpc.FutureTimeoutError:
                continue
    if server.poll() is None:
        server.kill()
        pytest.fail(f"serve did not answer within {RAY_START_S} s: {server.communicate()}")
    pytest.fail(f"serve exited ({server.returncode}) before answering: {server.communicate()}")


def test_a_job_submitted_over_grpc_runs_on_ray_workers_and_shows_its_progress_and_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ray_session: RaySession
) -> None:
    # Another Ray runs on this machine (this session's), recorded where `ray.init()` with no
    # address looks first (/tmp/ray/ray_current_cluster; the other xdist worker's cluster may
    # have removed it on shutdown, so it is written again here). serve must start its own.
    write_ray_address(ray_session.cluster.address)
    port = free_port()
    db = tmp_path / "pool.db"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a Ray of its own
    server = subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    output = ""
    try:
        wait_until_serving(server, port)
        address = ("--address", f"127.0.0.1:{port}", "--token", demo_token("hku-ml"))
        submitted = gbasched(
            capsys,
            "submit",
            *("--workers", "1", "--per-worker", "8", "--model", "nvidia-a800"),
            *("--walltime", "3600", "--origin", "hong-kong", "--program", "hk-ai-subsidy"),
            *address,
        )
        job_id = submitted["job_id"]

        deadline = time.monotonic() + RUN_S
        job = gbasched(capsys, "job", job_id, *address)
        while job["state"] not in ("succeeded", "failed", "cancelled", "rejected"):
            assert time.monotonic() < deadline, f"not over within {RUN_S} s: {job}"
            time.sleep(0.5)
            job = gbasched(capsys, "job", job_id, *address)

        assert job["state"] == "succeeded", job
        assert job["progress_bp"] == 10_000
        assert job["checkpoint_bp"] == 10_000  # the sample checkpoints at its last step too
        [cost] = job["cost"]
        [subsidy] = job["subsidy_by_program"]
        assert cost["currency"] == "HKD" and cost["minor"] > 0
        assert subsidy["program"] == "hk-ai-subsidy" and 0 < subsidy["minor"] <= cost["minor"]
        # What only a real run leaves behind: the workload's checkpoints and final weights, in
        # the job's directory beside the database.
        written = sorted(p.name for p in (tmp_path / "pool.db-checkpoints" / job_id).iterdir())
        assert "final.npz" in written and any(n.startswith("ckpt-") for n in written), written
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=120)
    assert server.returncode == 0, output
    # Its attempts are named in a Ray namespace of this database's own (job ids start at job-0 in
    # every database).
    with sqlite3.connect(db) as stored:
        [(identity,)] = stored.execute("SELECT id FROM store_identity").fetchall()
    assert f"jobs run on a local Ray on 127.0.0.1 (Ray namespace gba-{identity})" in output, output
