"""The protos pass `buf lint` with the STANDARD rules, less the exceptions that buf.yaml gives
with their reasons. The buf binary comes with the dev extras (`pip install buf-bin`); without it
this test fails rather than skips, so a missing tool is never mistaken for a clean lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_TIMEOUT_S = 120


def buf() -> str:
    """The buf binary of this Python environment, else the one on PATH; fails when there is none."""
    beside = Path(sys.executable).parent / "buf"
    if beside.is_file():
        return str(beside)
    found = shutil.which("buf")
    if found is None:
        pytest.fail("buf not found next to the Python interpreter or on PATH: pip install buf-bin")
    return found


def test_the_protos_pass_buf_lint() -> None:
    assert (ROOT / "buf.yaml").is_file(), "buf.yaml is missing at the repository root"

    linted = subprocess.run(
        [buf(), "lint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT_S,
        check=False,
    )

    assert linted.returncode == 0, (
        f"buf lint exited with {linted.returncode}:\n{linted.stdout}{linted.stderr}"
    )
