"""`gbasched node list | cordon | drain | up | down | remove`, run in-process through main()
against a real server on loopback (a coordinator on a SQLite file, the fake executor on a manual
clock): what each prints, what the server then holds and audits, and the refusals (a tenant's
token, an unknown node, a node that still holds work, a bad filter)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.cli.main import main
from scheduler.domain.geography import City
from scheduler.domain.jobs import JobState
from scheduler.domain.nodes import NodeState
from tests.api_builders import (
    OPERATOR_TOKEN,
    Served,
    a_token_book,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND, H20, a_pool, a_tenant
from tests.service_builders import World

Capture = pytest.CaptureFixture[str]
SZ = "sz-gov-huawei-ascend-910b"
SZ_1, SZ_2 = f"{SZ}-000", f"{SZ}-001"
HK_1 = "hk-uni-nvidia-h20-000"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    pool = (
        a_pool()
        .nodes(2, ASCEND, owner="sz-gov", prefix=SZ)
        .nodes(1, H20, city=City.HONG_KONG, owner="hk-uni", prefix="hk-uni-nvidia-h20")
        .tenant(a_tenant("t1"))
        .build()
    )
    yield from world_on_sqlite(tmp_path / "nodes-cli.db", pool)


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1"))


def run(
    capsys: Capture, api: Served, *argv: str, token: str = OPERATOR_TOKEN
) -> tuple[int, str, str]:
    status = main(["node", *argv, "--address", api.address, "--token", token])
    out, err = capsys.readouterr()
    return status, out, err


def ok_json(capsys: Capture, api: Served, *argv: str) -> Any:
    status, out, err = run(capsys, api, *argv, "--json")
    assert (status, err) == (0, ""), err
    return json.loads(out)


def test_list_shows_every_node_and_filters_by_state_and_city(capsys: Capture, api: Served) -> None:
    listed = ok_json(capsys, api, "list")["nodes"]
    assert [n["id"] for n in listed] == sorted([SZ_1, SZ_2, HK_1])
    hk = next(n for n in listed if n["id"] == HK_1)
    assert hk["state"] == "up" and hk["city"] == "hong-kong" and hk["jurisdiction"] == "hong-kong"
    assert (hk["model"], hk["accelerators"]) == (H20, 8)
    assert hk["price_per_accelerator_hour"]["currency"] == "HKD"

    assert [n["id"] for n in ok_json(capsys, api, "list", "--city", "hong-kong")["nodes"]] == [HK_1]
    assert ok_json(capsys, api, "list", "--state", "cordoned")["nodes"] == []

    status, out, err = run(capsys, api, "list")
    assert (status, err) == (0, "")
    assert "3 nodes" in out
    row = next(line for line in out.splitlines() if SZ_1 in line)  # an id is never cut
    assert "│ up " in row and "8 x" in row


def test_the_connection_flags_may_stand_before_the_action_too(capsys: Capture, api: Served) -> None:
    before = ["node", "--address", api.address, "--token", OPERATOR_TOKEN, "list", "--json"]
    assert main(before) == 0
    listed = json.loads(capsys.readouterr().out)["nodes"]
    # Given on both sides, the action's own flags are the ones used.
    both = ["node", "--token", "not-a-token", "list", "--token", OPERATOR_TOKEN, "--json"]
    assert main([*both, "--address", api.address]) == 0
    again = json.loads(capsys.readouterr().out)["nodes"]
    wrong = ["node", "--address", api.address, "--token", "not-a-token", "list"]
    refused, (_, err) = main(wrong), capsys.readouterr()

    assert [n["id"] for n in listed] == [n["id"] for n in again] == sorted([SZ_1, SZ_2, HK_1])
    assert refused == 1 and "UNAUTHENTICATED" in err


def test_cordon_and_up_print_the_change_and_the_server_holds_and_audits_it(
    capsys: Capture, api: Served, world: World
) -> None:
    status, out, err = run(capsys, api, "cordon", SZ_1)
    assert (status, err) == (0, "")
    assert out == f"node {SZ_1}: up -> cordoned\n"
    assert world.coordinator.pool.nodes[SZ_1].state is NodeState.CORDONED
    [audit] = world.coordinator.audit(action="node.state", subject=SZ_1)
    assert audit.actor == "ops"  # the operator token's name in a_token_book

    listed = ok_json(capsys, api, "list", "--state", "cordoned")["nodes"]
    assert [n["id"] for n in listed] == [SZ_1]

    changed = ok_json(capsys, api, "up", SZ_1)
    assert (changed["node"]["state"], changed["previous_state"]) == ("up", "cordoned")
    assert world.coordinator.pool.nodes[SZ_1].state is NodeState.UP


def test_a_drained_node_goes_down_once_its_work_ends_and_can_then_be_removed(
    capsys: Capture, api: Served, world: World
) -> None:
    job = world.submit("t1", walltime_s=3600)  # the fake executor runs it 1800 s
    world.run()
    [node] = world.nodes_of(job)

    status, _, err = run(capsys, api, "remove", node)
    assert status == 1
    assert err.startswith("gbasched: error: FAILED_PRECONDITION: ") and "still holds work" in err

    assert run(capsys, api, "drain", node)[1] == f"node {node}: up -> draining\n"
    world.run(1800)
    assert world.state(job) is JobState.SUCCEEDED
    world.run()
    assert world.coordinator.pool.nodes[node].state is NodeState.DOWN

    status, out, err = run(capsys, api, "remove", node)
    assert (status, err) == (0, "")
    assert out == f"node {node} removed (8 x {ASCEND}, sz-gov)\n"
    assert node not in world.coordinator.pool.nodes
    assert node not in [n["id"] for n in ok_json(capsys, api, "list")["nodes"]]


def test_down_stops_the_work_on_the_node_and_queues_it_again(
    capsys: Capture, api: Served, world: World
) -> None:
    job = world.submit("t1", walltime_s=3600)
    world.run()
    [node] = world.nodes_of(job)
    assert ok_json(capsys, api, "down", node)["node"]["state"] == "down"
    world.run()
    world.run()
    record = world.record(job)
    assert record.failures == 0, "a node taken down is not the job's failure"
    assert record.attempt == 2 and world.nodes_of(job) != [node]


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (["cordon", "no-such-node"], 1, "NOT_FOUND: node_id: no node 'no-such-node'"),
        (["list", "--city", "atlantis"], 2, "--city: unknown value 'atlantis'"),
        (["list", "--state", "sleeping"], 2, "argument --state: invalid choice: 'sleeping'"),
    ],
)
def test_bad_input_is_one_line_naming_what_is_wrong(
    capsys: Capture, api: Served, argv: list[str], status: int, says: str
) -> None:
    got, out, err = run(capsys, api, *argv)
    assert (got, out) == (status, "")
    assert f"gbasched: error: {says}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["list"], ["cordon", SZ_1], ["remove", HK_1]])
def test_a_tenants_token_is_refused_and_changes_nothing(
    capsys: Capture, api: Served, world: World, argv: list[str]
) -> None:
    status, out, err = run(capsys, api, *argv, token=tenant_token("t1"))
    assert (status, out) == (1, "")
    assert err.startswith("gbasched: error: PERMISSION_DENIED: ")
    assert all(n.state is NodeState.UP for n in world.coordinator.pool.nodes.values())
    assert len(world.coordinator.pool.nodes) == 3


NODES = f"""
[[node_groups]]
id_prefix = "sz-new"
count = 2
owner = "sz-gov"
city = "shenzhen"
model = "{ASCEND}"
accelerators_per_node = 8
price_per_accel_hour = 900

[[nodes]]
id = "{SZ_1}"
owner = "sz-gov"
city = "shenzhen"
model = "{ASCEND}"
accelerators_per_node = 8
price_per_accel_hour = 700
labels = {{ rack = "r7" }}
"""


def test_register_adds_nodes_and_replaces_one_keeping_its_state_unless_told(
    capsys: Capture, api: Served, world: World, tmp_path: Path
) -> None:
    run(capsys, api, "cordon", SZ_1)
    file = tmp_path / "nodes.toml"
    file.write_text(NODES, encoding="utf-8")

    status, out, err = run(capsys, api, "register", "--file", str(file))

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "node sz-new-001: registered (up)",
        "node sz-new-002: registered (up)",
        f"node {SZ_1}: replaced (cordoned)",
    ]
    nodes = world.coordinator.pool.nodes
    assert nodes[SZ_1].state is NodeState.CORDONED, "no state in the file: left as it was"
    assert (nodes[SZ_1].price.minor, nodes[SZ_1].labels) == (700, (("rack", "r7"),))
    assert nodes["sz-new-002"].state is NodeState.UP

    file.write_text(NODES.replace('labels = { rack = "r7" }', 'state = "up"'), encoding="utf-8")
    rows = ok_json(capsys, api, "register", "--file", str(file))["nodes"]
    assert [(r["id"], r["created"], r["state"]) for r in rows][-1] == (SZ_1, False, "up")
    assert world.coordinator.pool.nodes[SZ_1].state is NodeState.UP


NOBODY = NODES.replace('owner = "sz-gov"', 'owner = "nobody"', 1)
TPU = NODES.replace(f'model = "{ASCEND}"', 'model = "tpu-v5"', 1)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (NOBODY, "node_groups[0].owner: unknown owner 'nobody'"),
        (TPU, "node_groups[0].model: unknown accelerator 'tpu-v5'"),
        ("tenants = 1\n", "tenants: unknown key"),
        ("", "nodes: no node"),
    ],
)
def test_a_bad_nodes_file_is_named_by_its_key_path_and_changes_nothing(
    capsys: Capture, api: Served, world: World, tmp_path: Path, text: str, says: str
) -> None:
    file = tmp_path / "nodes.toml"
    file.write_text(text, encoding="utf-8")
    before = world.coordinator.pool.nodes
    status, out, err = run(capsys, api, "register", "--file", str(file))
    assert (status, out) == (2, "")
    assert err.startswith(f"gbasched: error: {file}: {says}")
    assert world.coordinator.pool.nodes == before
