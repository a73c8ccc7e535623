"""`gbasched programs` and `gbasched cycle --programs … --evidence …`: money on the command line,
checked against the ledger's own arithmetic."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs

REPO = Path(__file__).resolve().parents[2]
POOL = REPO / "deploy" / "pools" / "gba-sample.toml"
PROGRAMS = REPO / "deploy" / "programs" / "gba-sample.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_programs_lists_the_configured_programs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "programs", "--config", str(POOL), "--programs", str(PROGRAMS), "--json"
    )
    assert status == 0
    listed = {row["id"]: row for row in json.loads(out)}
    configured = load_programs(PROGRAMS, load_pool(POOL)).programs
    assert listed.keys() == configured.keys()
    for program_id, program in configured.items():
        assert listed[program_id]["budget"] == program.budget
        assert listed[program_id]["rate_domestic_bp"] == program.rates.domestic_bp


def test_a_funded_run_reports_exact_money_and_writes_evidence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.csv"
    status, out, err = run(
        capsys,
        "cycle",
        "--config",
        str(POOL),
        "--programs",
        str(PROGRAMS),
        "--jobs",
        "150",
        "--cycles",
        "6",
        "--json",
        "--evidence",
        str(evidence),
    )
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    money = lines[-1]["money"]
    for program in money["programs"]:
        assert program["budget"] == (
            program["reserved"] + program["paid"] + program["remaining"]
        ), program["program"]
    assert sum(p["paid"] for p in money["programs"]) > 0, "some usage was subsidised"
    rows = list(csv.DictReader(evidence.open(encoding="utf-8")))
    assert rows and f"wrote {len(rows)} evidence rows" in err
    share_columns = [c for c in rows[0] if c.startswith("share:")]
    for row in rows:
        shares = sum(int(row[c] or 0) for c in share_columns)
        assert shares + int(row["copay"]) == int(row["cost"])
        # cost = accelerator-seconds × hourly price, rounded half up to the minor unit
        exact = int(row["accelerator_seconds"]) * int(row["price"])
        assert int(row["cost"]) == (exact + 1800) // 3600
    # what programs paid in the report is what the evidence claims, program by program
    for program in money["programs"]:
        claimed = sum(int(row.get(f"share:{program['program']}") or 0) for row in rows)
        assert claimed == program["paid"], program["program"]
    # owners are owed exactly the settled costs, per currency
    owed: dict[str, int] = {}
    for row in rows:
        owed[row["currency"]] = owed.get(row["currency"], 0) + int(row["cost"])
    receivable: dict[str, int] = {}
    for owner in money["owners"]:
        receivable[owner["currency"]] = receivable.get(owner["currency"], 0) + owner["receivable"]
    assert receivable == owed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--evidence", "x.csv"], "--evidence: needs --programs"),
        (["--programs", str(PROGRAMS), "--evidence", "x.txt"], "--evidence: must end in .csv"),
        (["--programs", "/nonexistent/programs.toml"], "/nonexistent/programs.toml"),
        (
            ["--programs", str(PROGRAMS), "--evidence", "/nonexistent/x.csv"],
            "--evidence: no directory /nonexistent",
        ),
    ],
)
def test_money_arguments_are_checked(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = run(capsys, "cycle", "--config", str(POOL), *argv)
    assert status == 2
    assert out == ""
    assert message in err


def test_evidence_that_cannot_be_written_is_an_error_and_leaves_no_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.csv"
    evidence.mkdir()  # a directory where the file should go: the rename over it fails
    argv = ["cycle", "--config", str(POOL), "--programs", str(PROGRAMS), "--jobs", "20"]
    status, _, err = run(capsys, *argv, "--evidence", str(evidence))
    assert status == 1
    assert f"gbasched: error: cannot write {evidence}: " in err
    assert "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.csv"], "no temporary file left"


def test_evidence_is_readable_as_a_plain_file_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.jsonl"
    argv = ["cycle", "--config", str(POOL), "--programs", str(PROGRAMS), "--jobs", "20"]
    status, _, _ = run(capsys, *argv, "--evidence", str(evidence))
    assert status == 0
    umask = os.umask(0)
    os.umask(umask)
    assert evidence.stat().st_mode & 0o777 == 0o666 & ~umask
