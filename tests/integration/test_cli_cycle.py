"""`gbasched cycle` and `gbasched policies`: the engine driven from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.policy.registry import PLACEMENT_STRATEGIES, QUEUE_POLICIES

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "deploy" / "pools" / "gba-sample.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_policies_lists_every_registered_policy(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "policies", "--json")
    assert status == 0
    listed = {(row["kind"], row["name"]) for row in json.loads(out)}
    expected = {("queue", name) for name in QUEUE_POLICIES}
    expected |= {("placement", name) for name in PLACEMENT_STRATEGIES}
    assert listed == expected
    assert {"fifo", "priority-fairshare", "backfill"} <= set(QUEUE_POLICIES)
    assert {"binpack", "spread", "cheapest", "domestic-first"} <= set(PLACEMENT_STRATEGIES)


@pytest.mark.parametrize("policy", ["fifo", "priority-fairshare:spread", "backfill:cheapest"])
def test_cycle_json_reports_each_cycle(capsys: pytest.CaptureFixture[str], policy: str) -> None:
    status, out, err = run(
        capsys,
        "cycle",
        "--config",
        str(SAMPLE),
        "--policy",
        policy,
        "--jobs",
        "120",
        "--cycles",
        "3",
        "--json",
    )
    assert (status, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["cycle"] for row in rows] == [1, 2, 3]
    assert rows[0]["admitted"] > 0
    # every submitted job is accounted for after the first cycle
    first = rows[0]
    assert first["admitted"] + first["rejected"] + first["pending"] == 120
    assert all(0.0 <= row["utilisation"] <= 1.0 for row in rows)
    assert sum(first["pending_reasons"].values()) == first["pending"]


def test_cycle_uses_the_pools_policy_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "cycle", "--config", str(SAMPLE), "--jobs", "20", "--cycles", "1")
    assert status == 0
    assert "priority-fairshare:binpack" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "lifo"], "--policy: unknown queue policy 'lifo'"),
        (["--jobs", "-1"], "--jobs: must not be negative"),
        (["--cycles", "0"], "--cycles: must be positive"),
        (["--config", "/nonexistent/pool.toml"], "/nonexistent/pool.toml: no such file"),
    ],
)
def test_cycle_rejects_bad_arguments(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, "cycle", *argv)
    assert status == 2
    assert out == ""
    assert f"gbasched: error: {message}" in err


def test_readme_run_command_works_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scheduler.cli.main", "cycle", "--jobs", "50", "--cycles", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "gba-sample" in done.stdout
