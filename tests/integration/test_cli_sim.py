"""`gbasched sim`: a trace replayed from the command line; bad input is refused, naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scheduler.cli.main import main

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
HELIOS = REPO / ".." / "shared" / "traces" / "helios_dirlab_gpu.csv"
FIELDS = {
    "policy",
    "jobs",
    "completed",
    "mean_jct_s",
    "p50_jct_s",
    "p99_jct_s",
    "mean_queue_s",
    "p99_queue_s",
    "utilisation",
    "jain_fairness",
    "makespan_s",
    "preemptions",
    "sim_wall_s",
    "sim_jobs_per_s",
}
MONEY = {"subsidy_paid_minor", "overspend_minor", "ledger_balanced"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def sim(*extra: str, trace: Path = HELIOS) -> list[str]:
    return ["sim", "--trace", str(trace), "--pool", str(GOLDEN / "pool.toml"), *extra]


def test_json_is_one_object_with_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, *sim("--policy", "fifo", "--limit", "50", "--json"))
    assert (status, err) == (0, "")
    figures = json.loads(out)
    assert set(figures) >= FIELDS
    assert not MONEY & set(figures)
    assert (figures["jobs"], figures["policy"]) == (50, "fifo:binpack")


def test_with_programs_the_money_figures_are_there(capsys: pytest.CaptureFixture[str]) -> None:
    argv = sim("--policy", "priority-fairshare", "--limit", "50", "--json")
    status, out, _ = run(capsys, *argv, "--programs", str(GOLDEN / "programs.toml"))
    assert status == 0
    figures = json.loads(out)
    assert set(figures) >= FIELDS | MONEY
    assert figures["ledger_balanced"] is True


def test_a_generated_pool_and_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "--trace", str(HELIOS), "--pool-accelerators", "256", "--policy", "backfill"]
    status, out, _ = run(capsys, *argv, "--limit", "30")
    assert status == 0
    assert "Jain's fairness" in out and "256" in out


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"--policy": "nope"}, "--policy: unknown queue policy 'nope'"),
        ({"--load-factor": "0"}, "--load-factor: must be positive"),
        ({"--load-factor": "-0.5"}, "--load-factor: must be positive"),
        ({"--load-factor": "lots"}, "--load-factor: expected a number"),
        ({"--trace": "missing.csv"}, "missing.csv: cannot read the trace"),
        ({"--pool": "missing.toml"}, "missing.toml"),
        ({"--plot-dir": "plots"}, "--plot-dir: plots are not available yet"),
    ],
)
def test_bad_input_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], change: dict[str, str], says: str
) -> None:
    options = {
        "--trace": str(HELIOS),
        "--pool": str(GOLDEN / "pool.toml"),
        "--policy": "fifo",
        "--load-factor": "0.9",
        **change,
    }
    argv = ["sim", *(x for kv in options.items() for x in kv), "--json"]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert says in err


def test_a_bad_row_is_named_by_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text(
        "job_id,submit_s,duration_s,gpus,tenant,status,gpu_type\n"
        "j0,0,10,1,u1,COMPLETED,\n"
        "j1,5,ten,1,u1,COMPLETED,\n"
    )
    status, out, err = run(capsys, *sim("--policy", "fifo", trace=trace))
    assert (status, out) == (2, "")
    assert f"{trace}:3: column duration_s: expected a whole number, got 'ten'" in err
