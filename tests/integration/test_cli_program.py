"""`gbasched program put --file FILE`, run in-process through main() against a real server on
loopback (a coordinator on a SQLite file with one program): a program created and one replaced
from the programs file's format, a bad file named by its key path with nothing changed, a budget
cut below what was spent refused by the server, a tenant's token refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.domain.jobs import JobState
from tests.api_builders import (
    OPERATOR_TOKEN,
    Served,
    a_token_book,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND, a_pool, a_tenant
from tests.service_builders import World, money

Capture = pytest.CaptureFixture[str]

PROGRAM = """
[programs.{id}]
name = "{name}"
sponsor = "{sponsor}"
currency = "CNY"
budget = {budget}
valid_from = 2020-01-01T00:00:00+08:00
valid_until = 2030-01-01T00:00:00+08:00
rate_bp = 3000
eligible_tenants = ["t1"]
"""


def program(program_id: str, name: str, budget: int) -> str:
    """A program's table; sponsor as the fixture's program has it (a sponsor never changes)."""
    sponsor = f"sponsor of {program_id}"
    return PROGRAM.format(id=program_id, name=name, budget=budget, sponsor=sponsor)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    pool = a_pool().nodes(1, ASCEND, owner="sz-gov").tenant(a_tenant("t1")).build()
    yield from world_on_sqlite(tmp_path / "program-cli.db", pool, programs=money())


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1"))


def put(
    capsys: Capture,
    api: Served,
    text: str,
    tmp_path: Path,
    *extra: str,
    token: str = OPERATOR_TOKEN,
) -> tuple[int, str, str, Path]:
    file = tmp_path / "programs.toml"
    file.write_text(text, encoding="utf-8")
    argv = ["program", "put", "--file", str(file), *extra]
    status = main([*argv, "--address", api.address, "--token", token])
    out, err = capsys.readouterr()
    return status, out, err, file


def test_put_creates_a_program_and_replaces_one(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    text = program("gz-new", "New", 5_000) + program("sz-voucher", "Renamed", 20_000_000)
    status, out, err, _ = put(capsys, api, text, tmp_path)

    assert (status, err) == (0, ""), err
    assert out == "program gz-new: created\nprogram sz-voucher: replaced\n"
    programs = world.coordinator.programs
    assert (programs["gz-new"].budget, programs["gz-new"].rates.domestic_bp) == (5_000, 3000)
    assert (programs["sz-voucher"].name, programs["sz-voucher"].budget) == ("Renamed", 20_000_000)

    status, out, _, _ = put(capsys, api, text, tmp_path, "--json")
    assert status == 0
    rows = json.loads(out)["programs"]
    assert [(r["id"], r["created"], r["budget"]) for r in rows] == [
        ("gz-new", False, 5_000),
        ("sz-voucher", False, 20_000_000),
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (program("x", "x", -1), "programs.x.budget: must not be negative"),
        (
            program("x", "x", 1).replace('["t1"]', '["nobody"]'),
            "programs.x.eligible_tenants[0]: unknown tenant 'nobody'",
        ),
        ("[balances]\n", "balances: unknown key"),
        ("[programs]\n", "programs: must hold at least one program"),
    ],
)
def test_a_bad_file_is_named_by_its_key_path_and_changes_nothing(
    capsys: Capture, api: Served, world: World, tmp_path: Path, text: str, says: str
) -> None:
    before = dict(world.coordinator.programs)
    status, out, err, file = put(capsys, api, text, tmp_path)
    assert (status, out) == (2, "")
    assert err.startswith(f"gbasched: error: {file}: {says}")
    assert dict(world.coordinator.programs) == before


def test_a_budget_cut_below_what_was_spent_is_refused_by_the_server(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    job = world.submit("t1", walltime_s=3600)
    world.run()
    world.run(1800)
    assert world.state(job) is JobState.SUCCEEDED
    before = world.coordinator.programs["sz-voucher"]

    status, out, err, _ = put(capsys, api, program("sz-voucher", "Cut", 1), tmp_path)

    assert (status, out) == (1, "")
    assert err.startswith("gbasched: error: INVALID_ARGUMENT: program.budget: cannot cut"), err
    assert world.coordinator.programs["sz-voucher"] == before


def test_a_tenants_token_is_refused(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    text = program("gz-new", "New", 5_000)
    status, out, err, _ = put(capsys, api, text, tmp_path, token=tenant_token("t1"))
    assert (status, out) == (1, "")
    assert err.startswith("gbasched: error: PERMISSION_DENIED: ")
    assert "gz-new" not in world.coordinator.programs
