"""Tables written to a pipe or a file are not cut at rich's assumed 80 columns."""

from __future__ import annotations

import pytest
from rich.table import Table

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
