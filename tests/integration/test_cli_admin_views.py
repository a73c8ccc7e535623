"""`gbasched job` (its money), `quotas`, `usage`, `programs --address` and `pool show --address`,
run in-process through main() against a real server on loopback (a coordinator on a SQLite file,
the fake executor on a manual clock, one program paying half): tables and --json, the local
`programs` and `pool show` unchanged, and a tenant's token on an operator command refused as one
line `gbasched: error: PERMISSION_DENIED: …` with status 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.cli.main import main
from scheduler.domain.capacity import capacity_report
from scheduler.domain.jobs import JobState
from scheduler.ledger.reports import owner_report, program_report, tenant_report
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
REPO = Path(__file__).resolve().parents[2]
SAMPLE_PROGRAMS = REPO / "deploy" / "programs" / "gba-sample.toml"
T1 = tenant_token("t1")
OPERATOR_COMMANDS = (("quotas",), ("usage",), ("programs",), ("pool", "show"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    pool = (
        a_pool()
        .nodes(1, ASCEND, owner="sz-gov")
        .tenant(a_tenant("t1").quota(ASCEND, 8, borrowing=0))
        .tenant(a_tenant("t2").priorities("low"))
        .build()
    )
    yield from world_on_sqlite(tmp_path / "admin-cli.db", pool, programs=money())


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1", "t2"))


def run(capsys: Capture, api: Served, token: str, *argv: str) -> tuple[int, str, str]:
    status = main([*argv, "--address", api.address, "--token", token])
    out, err = capsys.readouterr()
    return status, out, err


def ok_json(capsys: Capture, api: Served, token: str, *argv: str) -> Any:
    status, out, err = run(capsys, api, token, *argv, "--json")
    assert (status, err) == (0, ""), err
    return json.loads(out)


def ok_table(capsys: Capture, api: Served, token: str, *argv: str) -> str:
    status, out, err = run(capsys, api, token, *argv)
    assert (status, err) == (0, ""), err
    return out


def run_one_job_to_the_end(world: World) -> str:
    job = world.submit("t1", walltime_s=3600)  # the fake executor runs it 1800 s
    world.run()
    world.run(1800)
    assert world.state(job) is JobState.SUCCEEDED
    return job


# ---------------------------------------------------------------------- gbasched job: money


def test_job_shows_cost_subsidy_and_copay_so_far(
    capsys: Capture, api: Served, world: World
) -> None:
    job = world.submit("t1", walltime_s=3600)
    world.run()
    world.run(900)  # 900 s of 8 Ascend at 1000 fen per accelerator-hour: 2000 fen

    shown = ok_json(capsys, api, T1, "job", job)
    table = ok_table(capsys, api, T1, "job", job)

    assert shown["cost"] == [{"currency": "CNY", "minor": 2000}]
    assert shown["subsidy"] == [{"currency": "CNY", "minor": 1000}]
    assert shown["copay"] == [{"currency": "CNY", "minor": 1000}]
    assert shown["programs"] == ["sz-voucher"]
    assert shown["subsidy_by_program"] == [
        {"program": "sz-voucher", "currency": "CNY", "minor": 1000}
    ]
    assert shown["reserved"] == [{"currency": "CNY", "minor": 8000}]
    for text in ("Cost so far", "20.00 CNY", "Subsidy", "10.00 CNY", "sz-voucher", "Co-payment"):
        assert text in table
    assert "sz-voucher 10.00 CNY" in table
    assert "Reserved" in table and "80.00 CNY" in table


def test_jobs_json_and_an_ended_job_show_the_settled_money(
    capsys: Capture, api: Served, world: World
) -> None:
    job = run_one_job_to_the_end(world)

    [listed] = ok_json(capsys, api, T1, "jobs")["jobs"]
    shown = ok_json(capsys, api, OPERATOR_TOKEN, "job", job)

    assert listed["cost"] == shown["cost"] == [{"currency": "CNY", "minor": 4000}]
    assert listed["subsidy"] == shown["subsidy"] == [{"currency": "CNY", "minor": 2000}]
    assert shown["copay"] == [{"currency": "CNY", "minor": 2000}]


def test_a_job_without_usage_shows_no_money(capsys: Capture, api: Served, world: World) -> None:
    job = world.submit("t1")

    shown = ok_json(capsys, api, T1, "job", job)

    assert (shown["cost"], shown["subsidy"], shown["copay"]) == ([], [], [])


def test_another_tenant_cannot_see_a_jobs_money(capsys: Capture, api: Served, world: World) -> None:
    job = world.submit("t1")
    world.run()
    world.run(900)

    status, out, err = run(capsys, api, tenant_token("t2"), "job", job)

    assert (status, out) == (1, "")
    assert err.startswith("gbasched: error: NOT_FOUND: ")
    assert "CNY" not in err


# ---------------------------------------------------------------------- quotas


def test_quotas_lists_the_tenants_and_their_quotas(capsys: Capture, api: Served) -> None:
    shown = ok_json(capsys, api, OPERATOR_TOKEN, "quotas")
    table = ok_table(capsys, api, OPERATOR_TOKEN, "quotas")

    assert [t["id"] for t in shown["tenants"]] == ["t1", "t2"]
    t1, t2 = shown["tenants"]
    assert t1["quotas"] == [
        {"model": ASCEND, "nominal": 8, "borrowing_limit": 0, "lending_limit": None}
    ]
    assert t2["quotas"] is None  # not quota-limited
    assert t2["priority_classes"] == ["low"]
    for text in ("2 tenants", "t1", "t2", "not limited", "borrow <= 0"):
        assert text in table


# ---------------------------------------------------------------------- usage


def test_usage_reports_the_ledger_per_program_tenant_and_owner(
    capsys: Capture, api: Served, world: World
) -> None:
    run_one_job_to_the_end(world)
    ledger = world.coordinator.ledger
    programs = [world.coordinator.programs[p] for p in sorted(world.coordinator.programs)]

    shown = ok_json(capsys, api, OPERATOR_TOKEN, "usage")
    table = ok_table(capsys, api, OPERATOR_TOKEN, "usage")

    assert shown["as_of_posting"] == len(ledger)
    [program] = shown["programs"]
    [expected] = program_report(ledger, programs)
    assert (program["program"], program["currency"], program["paid"]) == (
        expected.program,
        "CNY",
        expected.paid,
    )
    assert program["paid"] == 2000 and program["domestic_share_bp"] == 10_000
    assert program["budget"] == program["reserved"] + program["paid"] + program["remaining"]
    assert [(t["tenant"], t["spent"], t["subsidised"]) for t in shown["tenants"]] == [
        (r.tenant, r.spent, r.subsidised) for r in tenant_report(ledger)
    ]
    assert (
        [(o["owner"], o["receivable"]) for o in shown["owners"]]
        == [(r.owner, r.receivable) for r in owner_report(ledger)]
        == [("sz-gov", 4000)]
    )
    for text in ("Programs", "Tenants", "Owners", "sz-voucher", "sz-gov", "40.00 CNY"):
        assert text in table


def test_usage_selectors_pick_reports(capsys: Capture, api: Served, world: World) -> None:
    run_one_job_to_the_end(world)

    owners = ok_json(capsys, api, OPERATOR_TOKEN, "usage", "--owners")
    two = ok_json(capsys, api, OPERATOR_TOKEN, "usage", "--programs", "--tenants")
    table = ok_table(capsys, api, OPERATOR_TOKEN, "usage", "--tenants")

    assert set(owners) == {"as_of_posting", "owners"}
    assert set(two) == {"as_of_posting", "programs", "tenants"}
    assert "Tenants" in table and "Owners" not in table and "Programs" not in table


# ---------------------------------------------------------------------- programs, pool show


def test_programs_of_a_server(capsys: Capture, api: Served, world: World) -> None:
    shown = ok_json(capsys, api, OPERATOR_TOKEN, "programs")
    table = ok_table(capsys, api, OPERATOR_TOKEN, "programs")

    [program] = world.coordinator.programs.values()
    [row] = shown
    assert (row["id"], row["budget"], row["rate_domestic_bp"], row["currency"]) == (
        program.id,
        program.budget,
        5000,
        "CNY",
    )
    assert (row["valid_from"], row["valid_until"]) == (program.valid_from, program.valid_until)
    assert "Subsidy programs" in table and program.id in table


def test_programs_still_reads_a_local_file_and_will_not_mix_the_two(
    capsys: Capture, api: Served
) -> None:
    status = main(["programs", "--programs", str(SAMPLE_PROGRAMS), "--json"])
    local = json.loads(capsys.readouterr().out)
    mixed = run(capsys, api, OPERATOR_TOKEN, "programs", "--programs", str(SAMPLE_PROGRAMS))

    assert status == 0 and len(local) > 1
    assert mixed[0] == 2
    assert mixed[2].startswith("gbasched: error: --programs: ")


def test_pool_show_of_a_server(capsys: Capture, api: Served, world: World) -> None:
    shown = ok_json(capsys, api, OPERATOR_TOKEN, "pool", "show")
    table = ok_table(capsys, api, OPERATOR_TOKEN, "pool", "show")

    configuration = shown.pop("configuration")
    assert shown == capacity_report(world.coordinator.pool).to_json()  # as the local one prints
    assert configuration["name"] == "test"
    assert configuration["policy"] == "priority-fairshare:binpack"
    assert (configuration["nodes"], configuration["tenants"]) == (1, 2)
    assert [o["id"] for o in configuration["owners"]] == ["sz-gov"]
    assert [p["name"] for p in configuration["priority_classes"]] == ["high", "standard", "low"]
    for text in ("Pool test", "priority-fairshare:binpack", "By city", "By accelerator model"):
        assert text in table


# ---------------------------------------------------------------------- who may call


@pytest.mark.parametrize("command", OPERATOR_COMMANDS, ids=" ".join)
def test_a_tenants_token_on_an_operator_command_is_permission_denied(
    capsys: Capture, api: Served, command: tuple[str, ...]
) -> None:
    for extra in ((), ("--json",)):
        status, out, err = run(capsys, api, T1, *command, *extra)

        assert (status, out) == (1, "")
        assert err.startswith("gbasched: error: PERMISSION_DENIED: ")
        assert len(err.splitlines()) == 1
