"""`gbasched sim` and `gbasched sim compare`: a trace replayed from the command line under one
policy or several side by side, with plots; bad input is refused, naming it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.policy.registry import DEFAULT_PLACEMENT, QUEUE_POLICIES
from scheduler.sim.plots import PLOT_FILES, SUBSIDY_FILE
from scheduler.sim.report import TIMING_FIELDS

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
PNG = b"\x89PNG\r\n\x1a\n"


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
    [rate] = [line for line in out.splitlines() if "jobs per second" in line]
    assert re.search(r"│\s+[\d,]+ │$", rate), f"a rate in whole jobs a second: {rate!r}"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"--policy": "nope"}, "--policy: unknown queue policy 'nope'"),
        ({"--load-factor": "0"}, "--load-factor: must be positive"),
        ({"--load-factor": "-0.5"}, "--load-factor: must be positive"),
        ({"--load-factor": "lots"}, "--load-factor: expected a number"),
        ({"--progress": "soon"}, "--progress: expected seconds or 'off', got 'soon'"),
        ({"--progress": "-1"}, "--progress: must be a non-negative number of seconds"),
        ({"--progress": "nan"}, "--progress: must be a non-negative number of seconds"),
        ({"--trace": "missing.csv"}, "missing.csv: cannot read the trace"),
        ({"--pool": "missing.toml"}, "missing.toml"),
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


def test_sim_without_its_required_inputs_exits_2_naming_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(capsys, "sim", "--trace", str(HELIOS), "--json")
    assert (status, out) == (2, "")
    assert "required: --pool or --pool-accelerators, --policy" in err


def test_sim_plot_dir_writes_the_plots(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    status, out, _ = run(
        capsys, *sim("--policy", "las", "--limit", "60", "--json"), "--plot-dir", str(plots)
    )
    assert status == 0
    assert json.loads(out)["jobs"] == 60  # stdout stays one JSON object
    assert sorted(p.name for p in plots.iterdir()) == sorted(PLOT_FILES)
    for name in PLOT_FILES:
        assert (plots / name).read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    "command", [["sim", "--policy", "fifo"], ["sim", "compare", "--policies", "fifo"]]
)
def test_a_plot_dir_that_cannot_be_made_is_refused_before_any_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    argv = [*command, *sim("--json")[1:], "--plot-dir", str(a_file / "plots")]
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, ""), "refused before the replay printed its figures"
    assert f"error: --plot-dir: cannot write in {a_file / 'plots'}: " in err


def test_a_generated_pool_too_small_is_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["sim", "--trace", str(HELIOS), "--pool-accelerators", "4", "--policy", "fifo"]
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert "error: --pool-accelerators: must be at least 8" in err


# ---------------------------------------------------------------------- sim compare


def compare(*extra: str, trace: Path = HELIOS) -> list[str]:
    return ["sim", "compare", "--trace", str(trace), "--pool", str(GOLDEN / "pool.toml"), *extra]


def without_timing(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k not in TIMING_FIELDS} for row in rows]


def test_compare_all_gives_one_object_per_registered_queue_policy_deterministically(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = compare("--policies", "all", "--limit", "100", "--load-factor", "0.9", "--json")
    status, out, err = run(capsys, *argv)
    assert (status, err) == (0, "")
    rows = json.loads(out)
    assert [r["policy"] for r in rows] == [f"{q}:{DEFAULT_PLACEMENT}" for q in QUEUE_POLICIES]
    assert {"las", "qssf"} <= set(QUEUE_POLICIES)
    for row in rows:
        assert set(row) >= FIELDS | {"trace"}
        assert (row["trace"], row["jobs"]) == ("helios_dirlab_gpu.csv", 100)
    _, again, _ = run(capsys, *argv)
    assert without_timing(json.loads(again)) == without_timing(rows)
    # each object is what `gbasched sim --json` prints for that policy
    single = sim("--policy", "las", "--limit", "100", "--load-factor", "0.9", "--json")
    _, alone, _ = run(capsys, *single)
    las = next(r for r in rows if r["policy"] == "las:binpack")
    assert without_timing([json.loads(alone)]) == without_timing([las])


def test_compare_prints_the_policies_side_by_side_and_plots_with_money(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plots = tmp_path / "out"
    argv = compare("--policies", "fifo, backfill:cheapest", "--limit", "40")
    status, out, _ = run(
        capsys, *argv, "--programs", str(GOLDEN / "programs.toml"), "--plot-dir", str(plots)
    )
    assert status == 0
    assert "policy by policy" in out and "backfill:" in out and "cheapest" in out
    assert "subsidy paid" in out
    assert sorted(p.name for p in plots.iterdir()) == sorted((*PLOT_FILES, SUBSIDY_FILE))
    for path in plots.iterdir():
        assert path.read_bytes().startswith(PNG)
        assert path.stat().st_size > 1000


@pytest.mark.parametrize(
    ("policies", "says"),
    [
        ("fifo,nope", "--policies: unknown queue policy 'nope'"),
        ("", "--policies: name at least one policy"),
        ("fifo,,las", "--policies: empty policy name"),
        ("las,las", "--policies: 'las' is named twice"),
        ("fifo:nowhere", "--policies: unknown placement strategy 'nowhere'"),
    ],
)
def test_compare_refuses_a_bad_policy_list_naming_the_field(
    capsys: pytest.CaptureFixture[str], policies: str, says: str
) -> None:
    status, out, err = run(capsys, *compare("--policies", policies, "--json"))
    assert (status, out) == (2, "")
    assert says in err


def test_on_an_underloaded_pool_no_compared_policy_makes_jobs_wait(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["sim", "compare", "--policies", "all", "--trace", str(HELIOS)]
    argv += ["--pool-accelerators", "1024", "--load-factor", "0.1", "--limit", "200", "--json"]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    rows = json.loads(out)
    assert len(rows) == len(QUEUE_POLICIES)
    for row in rows:
        assert row["completed"] == 200
        assert row["mean_queue_s"] <= 1, row["policy"]


def test_on_a_loaded_pool_las_beats_fifo_on_mean_jct(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Ten 8-GPU jobs of 20,000 s fill the 80-accelerator pool at t=0; after an hour each has
    # attained 8 accelerator-hours, LAS's first threshold, and sits in its lower queue. From
    # t=4,000 s forty 1-GPU jobs of 300 s arrive a minute apart. FIFO makes them wait for the
    # long jobs (~16,000 s each); LAS preempts one long job (in the higher-service queue) and
    # runs the short ones at once on its node, which fits the ≤ 5 of them running at a time.
    rows = ["job_id,submit_s,duration_s,gpus,tenant,status,gpu_type"]
    rows += [f"long-{i},0,20000,8,research,COMPLETED," for i in range(10)]
    rows += [f"short-{i},{4000 + 60 * i},300,1,students,COMPLETED," for i in range(40)]
    trace = tmp_path / "long-and-short.csv"
    trace.write_text("\n".join(rows) + "\n")
    status, out, _ = run(capsys, *compare("--policies", "fifo,las", "--json", trace=trace))
    assert status == 0
    fifo, las = json.loads(out)
    assert fifo["completed"] == las["completed"] == 50
    assert fifo["mean_queue_s"] > 10_000 and las["mean_queue_s"] < 60
    assert las["preemptions"] >= 1 and fifo["preemptions"] == 0
    assert las["mean_jct_s"] < fifo["mean_jct_s"] / 2


def test_progress_lines_go_to_stderr_and_end_with_every_job(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["sim", "compare", "--policies", "fifo,las", "--progress", "0", "--json"]
    status, out, err = run(capsys, *argv, *sim("--limit", "40")[1:])
    assert status == 0
    assert [row["policy"] for row in json.loads(out)] == ["fifo:binpack", "las:binpack"]
    lines = [line.partition(": ") for line in err.splitlines()]
    labels = [label for label, _, _ in lines]
    assert labels == sorted(labels) and set(labels) == {"fifo:binpack", "las:binpack"}
    assert all(" jobs ended, " in text and " · sim time " in text for _, _, text in lines)
    for policy in ("fifo:binpack", "las:binpack"):
        said = [text for label, _, text in lines if label == policy]
        assert len(said) > 1  # lines while it ran, then the last
        assert said[-1].startswith("40 of 40 jobs ended, 0 waiting, 0 running · sim time ")


def test_progress_off_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, *sim("--policy", "fifo", "--limit", "20", "--progress", "off"))
    assert (status, err) == (0, "")
