"""`gbasched tenant put --file FILE`, run in-process through main() against a real server on
loopback (a coordinator on a SQLite file): tenants created and replaced whole from the pool
file's format, a bad file named by its key path with nothing changed, a tenant's token
refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.cli.main import main
from scheduler.domain.tenants import FlavorQuota, TenantFlag
from tests.api_builders import (
    OPERATOR_TOKEN,
    Served,
    a_token_book,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND, a_pool, a_tenant
from tests.service_builders import World

Capture = pytest.CaptureFixture[str]

TENANTS = f"""
[tenants.newco]
name = "New Co AI"
weight = 2
flags = ["sme"]

[tenants.newco.quotas.{ASCEND}]
nominal = 16
borrowing_limit = 8

[tenants.t1]
name = "Tenant one, replaced"
weight = 3
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    pool = a_pool().nodes(2, ASCEND).tenant(a_tenant("t1").quota(ASCEND, 8, borrowing=0)).build()
    yield from world_on_sqlite(tmp_path / "tenants-cli.db", pool)


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1"))


def put(
    capsys: Capture,
    api: Served,
    file: Path,
    *extra: str,
    token: str = OPERATOR_TOKEN,
    command: str = "tenant",
) -> tuple[int, str, str]:
    """`gbasched <command> put --file FILE …` against the server; (status, stdout, stderr)."""
    argv = [command, "put", "--file", str(file), *extra]
    status = main([*argv, "--address", api.address, "--token", token])
    out, err = capsys.readouterr()
    return status, out, err


def refused_naming(
    capsys: Capture, api: Served, tmp_path: Path, command: str, text: str, says: str
) -> None:
    """`gbasched <command> put` of a file holding `text` exits 2 naming the file and `says`."""
    file = tmp_path / f"{command}s.toml"
    file.write_text(text, encoding="utf-8")
    status, out, err = put(capsys, api, file, command=command)
    assert (status, out) == (2, "")
    assert err.startswith(f"gbasched: error: {file}: {says}")


def test_put_creates_and_replaces_tenants_whole(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    file = tmp_path / "tenants.toml"
    file.write_text(TENANTS, encoding="utf-8")

    status, out, err = put(capsys, api, file)

    assert (status, err) == (0, "")
    assert out == "tenant newco: created\ntenant t1: replaced\n"
    tenants = world.coordinator.pool.tenants
    newco = tenants["newco"]
    assert (newco.name, newco.weight, newco.flags) == ("New Co AI", 2, {TenantFlag.SME})
    assert newco.quotas == (FlavorQuota(ASCEND, 16, 8, None),)
    assert (tenants["t1"].weight, tenants["t1"].quotas) == (3, None), "replaced whole"
    assert {t.id for t in world.store.tenants()} >= {"newco", "t1"}

    status, out, _ = put(capsys, api, file, "--json")
    assert status == 0
    rows = json.loads(out)["tenants"]
    assert [(r["id"], r["created"]) for r in rows] == [("newco", False), ("t1", False)]


QUOTA = "[tenants.x]\nname = 'x'\n[tenants.x.quotas.{model}]\nnominal = {nominal}\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            QUOTA.format(model="tpu-v5", nominal=1),
            "tenants.x.quotas.tpu-v5: unknown accelerator 'tpu-v5'",
        ),
        ("[tenants.x]\nname = 'x'\nowner = 'nobody'\n", "tenants.x.owner: unknown owner 'nobody'"),
        (
            QUOTA.format(model=ASCEND, nominal=-1),
            f"tenants.x.quotas.{ASCEND}.nominal: must not be negative",
        ),
        ("[tenants]\n", "tenants: must hold at least one tenant"),
        ("[nodes]\n", "nodes: unknown key"),
    ],
)
def test_a_bad_file_is_named_by_its_key_path_and_changes_nothing(
    capsys: Capture, api: Served, world: World, tmp_path: Path, text: str, says: str
) -> None:
    before = world.coordinator.pool.tenants
    refused_naming(capsys, api, tmp_path, "tenant", text, says)
    assert world.coordinator.pool.tenants == before


def test_a_tenants_token_is_refused(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    file = tmp_path / "tenants.toml"
    file.write_text(TENANTS, encoding="utf-8")
    status, out, err = put(capsys, api, file, token=tenant_token("t1"))
    assert (status, out) == (1, "")
    assert err.startswith("gbasched: error: PERMISSION_DENIED: ")
    assert "newco" not in world.coordinator.pool.tenants


APPROVAL = """
[[approvals]]
id = "scc-1"
tenant = "t1"
from_zone = "hong-kong"
to_zone = "mainland"
expires_at = 2030-12-31T23:59:59+08:00
"""


def put_approvals(
    capsys: Capture, api: Served, file: Path, *extra: str, token: str = OPERATOR_TOKEN
) -> tuple[int, str, str]:
    return put(capsys, api, file, *extra, token=token, command="approval")


def test_approval_put_adds_and_replaces_an_approval(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    file = tmp_path / "approvals.toml"
    file.write_text(APPROVAL, encoding="utf-8")

    status, out, err = put_approvals(capsys, api, file)

    assert (status, err) == (0, "")
    assert (
        out == "approval scc-1: created (t1, hong-kong -> mainland, until 2030-12-31 15:59:59Z)\n"
    )
    approval = world.coordinator.pool.approvals["scc-1"]
    assert (approval.tenant, approval.expires_at) == ("t1", 1924963199)  # 2030-12-31 15:59:59Z

    file.write_text(APPROVAL.replace("2030-12-31", "2031-06-30"), encoding="utf-8")
    status, out, _ = put_approvals(capsys, api, file, "--json")
    assert status == 0
    [row] = json.loads(out)["approvals"]
    assert (row["id"], row["created"]) == ("scc-1", False)
    assert world.coordinator.pool.approvals["scc-1"].expires_at > approval.expires_at

    argv = ["approval", "list", "--tenant", "t1", "--json"]
    assert main([*argv, "--address", api.address, "--token", OPERATOR_TOKEN]) == 0
    listed = json.loads(capsys.readouterr().out)["approvals"]
    assert [(a["id"], a["from_zone"], a["to_zone"]) for a in listed] == [
        ("scc-1", "hong-kong", "mainland")
    ]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('tenant = "t1"', 'tenant = "nobody"'), "approvals[0].tenant: unknown tenant 'nobody'"),
        (('to_zone = "mainland"', 'to_zone = "hong-kong"'), "approvals[0].to_zone: must differ"),
        (('to_zone = "mainland"', 'to_zone = "tokyo"'), "approvals[0].to_zone: unknown value"),
    ],
)
def test_a_bad_approvals_file_is_named_by_its_key_path_and_changes_nothing(
    capsys: Capture,
    api: Served,
    world: World,
    tmp_path: Path,
    change: tuple[str, str],
    says: str,
) -> None:
    before = world.coordinator.pool.approvals
    refused_naming(capsys, api, tmp_path, "approval", APPROVAL.replace(*change), says)
    assert world.coordinator.pool.approvals == before


def test_a_tenants_token_may_not_put_approvals(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    file = tmp_path / "approvals.toml"
    file.write_text(APPROVAL, encoding="utf-8")
    status, out, err = put_approvals(capsys, api, file, token=tenant_token("t1"))
    assert (status, out) == (1, "")
    assert err.startswith("gbasched: error: PERMISSION_DENIED: ")
    assert "scc-1" not in world.coordinator.pool.approvals
