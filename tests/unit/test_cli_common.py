"""What every command shares: tables written to a pipe or a file are not cut at rich's assumed
80 columns; `gbasched --version` says the package's version."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from rich.table import Table

from scheduler.cli.main import main
from scheduler.cli.text import PIPED_WIDTH, stdout_console

WIDE = "x" * 150  # a value wider than 80 columns


def test_a_table_written_to_a_pipe_keeps_its_values_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    table = Table("Node", "Owner")
    table.add_row("n-001", WIDE)

    console = stdout_console()
    console.print(table)

    assert console.width == PIPED_WIDTH
    assert WIDE in capsys.readouterr().out


def test_columns_in_the_environment_still_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert stdout_console().width == 100


def test_version_is_the_packages_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"gbasched {project['project']['version']}\n"
