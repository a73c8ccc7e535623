"""`gbasched pool show | generate`, run in-process through main() and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.config.pool_toml import load_pool
from scheduler.domain.capacity import capacity_report

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "deploy" / "pools" / "gba-sample.toml"
REQUIRED_KEYS = {
    "nodes",
    "accelerators",
    "pflops_fp16",
    "pflops_fp32",
    "pops_int8",
    "domestic_share",
    "domestic_share_tflops",
    "by_city",
    "by_owner_class",
    "by_jurisdiction",
    "by_model",
    "eflops_fp16",
    "targets",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_show_json_is_the_capacity_report(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "pool", "show", "--config", str(SAMPLE), "--json")
    assert (status, err) == (0, "")
    shown = json.loads(out)
    assert shown.keys() >= REQUIRED_KEYS
    assert shown == json.loads(json.dumps(capacity_report(load_pool(SAMPLE)).to_json()))


def test_show_prints_tables_with_the_pool_name_and_pflops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, "pool", "show", "--config", str(SAMPLE))
    assert status == 0
    assert "gba-sample" in out
    assert "PFLOPS" in out
    for heading in ("By accelerator model", "By city", "By owner class", "By jurisdiction"):
        assert heading in out


def test_show_defaults_to_the_sample_from_any_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "pool", "show", "--json")
    assert status == 0
    assert json.loads(out)["pool"] == "gba-sample"


def test_a_bad_config_exits_2_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "broken-pool.toml"
    bad.write_text('[pool]\nname = "x"\n[acelerators]\n', encoding="utf-8")
    status, out, err = run(capsys, "pool", "show", "--config", str(bad))
    assert status == 2
    assert out == ""
    assert err.startswith(f"gbasched: error: {bad}: acelerators: unknown key")


@pytest.mark.parametrize(
    "argv",
    [
        ["pool"],
        ["pool", "shwo"],
        ["pool", "generate", "--accelerators", "lots", "--out", "x.toml"],
        ["pool", "show", "--colour"],
    ],
)
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert "gbasched: error: " in err


def test_generate_writes_a_pool_that_show_reads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "big.toml"
    status, out, _ = run(
        capsys, "pool", "generate", "--accelerators", "2004", "--seed", "5", "--out", str(out_file)
    )
    assert status == 0
    assert "250 nodes" in out and "2,000 accelerators" in out and "PFLOPS fp16" in out
    status, shown, _ = run(capsys, "pool", "show", "--json", "--config", str(out_file))
    assert status == 0
    assert (json.loads(shown)["nodes"], json.loads(shown)["accelerators"]) == (250, 2000)
    assert [p.name for p in tmp_path.iterdir()] == ["big.toml"], "no temporary file left behind"


@pytest.mark.parametrize(
    "argv",
    [
        ["--accelerators", "7"],
        ["--accelerators", "800", "--template", "missing-template.toml"],
    ],
)
def test_a_failed_generate_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]
) -> None:
    out_file = tmp_path / "never.toml"
    status, _, err = run(capsys, "pool", "generate", "--out", str(out_file), *argv)
    assert status == 2
    assert err.startswith("gbasched: error: ")
    assert list(tmp_path.iterdir()) == []


def test_too_few_accelerators_are_refused_naming_the_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["pool", "generate", "--accelerators", "7", "--out", str(tmp_path / "p.toml")]
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert "error: --accelerators: must be at least 8" in err


def test_one_node_is_said_in_the_singular(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["pool", "generate", "--accelerators", "8", "--out", str(tmp_path / "p.toml")]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert ": 1 node, 8 accelerators, " in out and out.rstrip().endswith(", 1 node group")


def test_gbasched_runs_as_a_process() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduler.cli.main",
            "pool",
            "show",
            "--json",
            "--config",
            str(SAMPLE),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (
        json.loads(done.stdout)["accelerators"] == capacity_report(load_pool(SAMPLE)).accelerators
    )
