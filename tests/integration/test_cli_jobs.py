"""`gbasched submit | jobs | job | cancel | watch`, run in-process through main() against a real
server on loopback (a coordinator on a SQLite file, the fake executor on a manual clock): JSON
and tables, the token from --token or $GBASCHED_TOKEN, and refusals as one line
`gbasched: error: <STATUS>: <details>` with status 1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.cli.main import main
from scheduler.cli.watch import REACHED_S
from tests.api_builders import (
    OPERATOR_TOKEN,
    Served,
    a_token_book,
    free_port,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND
from tests.service_builders import World

Capture = pytest.CaptureFixture[str]
JOB = ("--workers", "1", "--per-worker", "8", "--model", ASCEND, "--walltime", "3600")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "cli.db")


@pytest.fixture
def api(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("GBASCHED_TOKEN", tenant_token("t1"))
    yield from serving(world, a_token_book("t1", "t2"))


def run(capsys: Capture, api: Served, *argv: str) -> tuple[int, str, str]:
    command, *rest = argv
    status = main([command, "--address", api.address, *rest])
    out, err = capsys.readouterr()
    return status, out, err


def ok_json(capsys: Capture, api: Served, *argv: str) -> Any:
    status, out, err = run(capsys, api, *argv, "--json")
    assert (status, err) == (0, ""), err
    return json.loads(out)


def submitted(capsys: Capture, api: Served, *extra: str) -> str:
    reply = ok_json(capsys, api, "submit", *JOB, *extra)
    assert reply["created"] is True
    job_id: str = reply["job_id"]
    return job_id


def test_submit_then_job_shows_it_queued_then_running(
    capsys: Capture, api: Served, world: World
) -> None:
    job_id = submitted(capsys, api, "--key", "k1", "--origin", "mainland")

    queued = ok_json(capsys, api, "job", job_id)
    assert (queued["id"], queued["tenant"], queued["state"]) == (job_id, "t1", "queued")
    assert (queued["client_key"], queued["workers"], queued["per_worker"]) == ("k1", 1, 8)
    assert queued["placement"] is None

    world.run()
    world.run(1)
    running = ok_json(capsys, api, "job", job_id)
    assert (running["state"], running["attempt"]) == ("running", 1)
    assert running["placement"]["model"] == ASCEND
    assert [w["accelerators"] for w in running["placement"]["workers"]] == [8]

    status, out, _ = run(capsys, api, "job", job_id)
    assert status == 0
    for shown in (job_id, "running", f"1x8 {ASCEND} in mainland", "k1"):
        assert shown in out


def test_a_waiting_job_shows_why_in_its_table(capsys: Capture, api: Served, world: World) -> None:
    submitted(capsys, api)
    waiting = submitted(capsys, api)
    world.run()

    status, out, _ = run(capsys, api, "job", waiting)

    assert status == 0
    assert "Waiting because" in out
    assert "NO_CAPACITY" in out


def test_submitting_a_key_again_changes_nothing(capsys: Capture, api: Served) -> None:
    first = submitted(capsys, api, "--key", "nightly")

    again = ok_json(capsys, api, "submit", *JOB, "--key", "nightly")
    status, out, _ = run(capsys, api, "submit", *JOB, "--key", "nightly")

    assert again == {"job_id": first, "created": False}
    assert status == 0 and first in out and "already submitted" in out


def test_submit_passes_every_flag(capsys: Capture, api: Served) -> None:
    job_id = submitted(
        capsys,
        api,
        "--tenant",
        "t1",
        "--min-tflops",
        "1",
        "--priority",
        "standard",
        "--not-preemptible",
        "--origin",
        "mainland",
    )

    job = ok_json(capsys, api, "job", job_id)
    assert job["priority_class"] == "standard"
    assert ASCEND in job["accepted_models"]


def test_jobs_lists_in_order_filters_and_limits_to_the_newest(
    capsys: Capture, api: Served, world: World
) -> None:
    ids = [submitted(capsys, api, "--key", f"j{i}") for i in range(3)]
    world.run()
    world.run(1)

    listed = ok_json(capsys, api, "jobs")["jobs"]
    running = ok_json(capsys, api, "jobs", "--state", "running")["jobs"]
    waiting = ok_json(capsys, api, "jobs", "--state", "queued", "admitted")["jobs"]
    limited = ok_json(capsys, api, "jobs", "--limit", "2")
    everything = ok_json(capsys, api, "jobs", "--limit", "3")
    newest_waiting = ok_json(capsys, api, "jobs", "--state", "queued", "--limit", "1")["jobs"]
    status, table, _ = run(capsys, api, "jobs")
    _, newest_table, _ = run(capsys, api, "jobs", "--limit", "2")

    assert [j["id"] for j in listed] == ids
    assert [j["id"] for j in running] == ids[:1]
    assert [j["id"] for j in waiting] == ids[1:]
    # --limit: the newest, still listed oldest first; whether older ones exist is said
    assert [j["id"] for j in limited["jobs"]] == ids[1:]
    assert limited["older_exist"] is True
    assert [j["id"] for j in everything["jobs"]] == ids
    assert everything["older_exist"] is False
    assert [j["id"] for j in newest_waiting] == ids[2:]
    assert status == 0
    assert "3 jobs" in table
    for job_id in ids:
        assert job_id in table
    assert "the newest 2 jobs; older ones exist" in newest_table
    assert ids[0] not in newest_table


def test_an_operator_lists_another_tenants_jobs(capsys: Capture, api: Served) -> None:
    mine = submitted(capsys, api)
    theirs = submitted(
        capsys, api, "--tenant", "t2", "--priority", "low", "--token", OPERATOR_TOKEN
    )

    as_t1 = ok_json(capsys, api, "jobs")["jobs"]
    as_ops = ok_json(capsys, api, "jobs", "--tenant", "t2", "--token", OPERATOR_TOKEN)["jobs"]

    assert [j["id"] for j in as_t1] == [mine]
    assert [j["id"] for j in as_ops] == [theirs]


def test_cancel_shows_the_cancelled_job(capsys: Capture, api: Served) -> None:
    job_id = submitted(capsys, api)

    cancelled = ok_json(capsys, api, "cancel", job_id)
    status, out, _ = run(capsys, api, "cancel", job_id)  # again: nothing changes

    assert (cancelled["id"], cancelled["state"]) == (job_id, "cancelled")
    assert cancelled["ended_at"] is not None
    assert status == 0 and "cancelled" in out


def test_watch_prints_count_events_then_stops(capsys: Capture, api: Served, world: World) -> None:
    job_id = submitted(capsys, api, "--key", "sweep/a")
    submitted(capsys, api, "--key", "other")
    world.run()
    world.run(1)

    status, out, err = run(capsys, api, "watch", "--job", job_id, "--count", "3", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert (status, err) == (0, "")
    assert [e["kind"] for e in lines] == ["submitted", "admitted", "started"]
    assert {e["job_id"] for e in lines} == {job_id}
    assert lines[1]["data"]["attempt"] == 1

    resumed = ok_json(capsys, api, "watch", "--after", str(lines[0]["seq"]), "--count", "1")
    assert resumed["seq"] > lines[0]["seq"]

    status, out, _ = run(capsys, api, "watch", "--key-prefix", "sweep/", "--count", "2")
    assert status == 0
    assert len(out.splitlines()) == 2
    assert "submitted" in out and job_id in out


# ---------------------------------------------------------------------- errors


def test_an_unknown_job_is_one_line_and_status_1(capsys: Capture, api: Served) -> None:
    for command in ("job", "cancel"):
        status, out, err = run(capsys, api, command, "job-404")
        assert status == 1
        assert out == ""
        assert err.startswith("gbasched: error: NOT_FOUND: ")
        assert "job-404" in err
        assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"--model": "tpu-v5"}, "--model: "),
        ({"--priority": "gold"}, "--priority: unknown class 'gold'"),
        ({"--program": "nope"}, "--program: no subsidy program 'nope'"),
        ({"--per-worker": "0"}, "--per-worker: "),
        ({"--checkpoint-interval": "-1"}, "--checkpoint-interval: must not be negative"),
        ({"--tenant": "t2"}, "--tenant: "),
    ],
)
def test_a_bad_submission_names_the_flag(
    capsys: Capture, api: Served, world: World, change: dict[str, str], named: str
) -> None:
    argv = {"--workers": "1", "--per-worker": "8", "--model": ASCEND, "--walltime": "3600"}
    argv.update(change)
    status, _, err = run(capsys, api, "submit", *(x for kv in argv.items() for x in kv))

    assert status == 1
    assert err.startswith("gbasched: error: "), err
    assert named in err, err
    assert world.store.jobs() == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--workers", "3000000000"), ("--walltime", "99999999999999999999")],
)
def test_a_number_too_large_for_the_wire_is_refused_naming_the_flag(
    capsys: Capture, api: Served, flag: str, value: str
) -> None:
    argv = {"--workers": "1", "--per-worker": "1", "--model": "nvidia-h20", "--walltime": "60"}
    argv[flag] = value
    status, out, err = run(capsys, api, "submit", *(x for kv in argv.items() for x in kv))

    assert (status, out) == (2, "")
    assert f"error: argument {flag}: must be between " in err
    assert "Traceback" not in err


def test_an_empty_idempotency_key_is_refused_not_dropped(
    capsys: Capture, api: Served, world: World
) -> None:
    status, out, err = run(capsys, api, "submit", *JOB, "--key", "")

    assert (status, out) == (2, "")
    assert "error: --key: must not be empty" in err
    assert world.store.jobs() == [], "nothing submitted"


@pytest.mark.parametrize("flag", ["--job", "--key-prefix"])
def test_watch_refuses_an_empty_filter_instead_of_following_every_job(
    capsys: Capture, api: Served, world: World, flag: str
) -> None:
    world.submit("t1")  # an event to print: without the check, the watch would end with it
    status, out, err = run(capsys, api, "watch", flag, "", "--count", "1")

    assert (status, out) == (2, "")
    assert f"error: {flag}: must not be empty" in err


def test_watch_after_a_sequence_too_large_for_the_wire_is_refused(
    capsys: Capture, api: Served
) -> None:
    status, _, err = run(capsys, api, "watch", "--after", str(1 << 63), "--count", "1")

    assert status == 2
    assert "error: argument --after: must be between " in err


def test_a_submission_needs_a_model_or_a_throughput(capsys: Capture, api: Served) -> None:
    status, _, err = run(
        capsys, api, "submit", "--workers", "1", "--per-worker", "8", "--walltime", "60"
    )

    assert status == 2
    assert "--model" in err and "--min-tflops" in err


def test_a_wrong_token_is_unauthenticated(capsys: Capture, api: Served) -> None:
    status, _, err = run(capsys, api, "jobs", "--token", "not-a-token")

    assert status == 1
    assert err.startswith("gbasched: error: UNAUTHENTICATED: ")
    assert "not-a-token" not in err


def test_the_flag_token_wins_over_the_environment(
    capsys: Capture, api: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GBASCHED_TOKEN", "not-a-token")
    assert run(capsys, api, "jobs")[0] == 1
    assert run(capsys, api, "jobs", "--token", tenant_token("t1"))[0] == 0


def test_a_missing_token_names_the_variable_and_the_flag(
    capsys: Capture, api: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GBASCHED_TOKEN")

    status, _, err = run(capsys, api, "jobs")

    assert status == 2
    assert err.startswith("gbasched: error: no API token")
    assert "GBASCHED_TOKEN" in err and "--token" in err


def test_no_server_is_unavailable(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GBASCHED_TOKEN", "x")

    address = f"127.0.0.1:{free_port()}"
    status = main(["jobs", "--address", address])
    err = capsys.readouterr().err

    assert status == 1
    assert err.startswith("gbasched: error: UNAVAILABLE: ")
    assert (
        f"(is `gbasched serve` running at {address}? --address or $GBASCHED_ADDRESS names another)"
        in err
    )


def test_the_address_comes_from_the_environment_when_the_flag_is_not_given(
    capsys: Capture, api: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GBASCHED_ADDRESS", api.address)
    job_id = submitted(capsys, api)

    status = main(["job", job_id, "--json"])  # no --address
    out, err = capsys.readouterr()

    assert (status, err) == (0, "")
    assert json.loads(out)["id"] == job_id


def test_the_flag_address_wins_over_the_environment(
    capsys: Capture, api: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GBASCHED_ADDRESS", f"127.0.0.1:{free_port()}")  # nothing listens there

    status, _, err = run(capsys, api, "jobs")

    assert (status, err) == (0, "")


def test_a_public_address_is_refused(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GBASCHED_TOKEN", "x")

    status = main(["jobs", "--address", "10.1.2.3:50051"])
    err = capsys.readouterr().err

    assert status == 2
    assert "address: must be a loopback address" in err


@pytest.mark.parametrize(
    ("flag", "env", "named"),
    [(["--address", "garbage"], None, "--address"), ([], "garbage", "$GBASCHED_ADDRESS")],
)
def test_a_bad_address_is_refused_naming_where_it_was_set(
    capsys: Capture,
    monkeypatch: pytest.MonkeyPatch,
    flag: list[str],
    env: str | None,
    named: str,
) -> None:
    monkeypatch.setenv("GBASCHED_TOKEN", "x")
    if env is not None:
        monkeypatch.setenv("GBASCHED_ADDRESS", env)

    status = main(["jobs", *flag])

    assert status == 2
    err = capsys.readouterr().err
    assert err == f"gbasched: error: {named}: must be host:port, got 'garbage'\n"


def test_watch_reconnects_when_the_server_restarts_and_misses_nothing(
    capsys: Capture, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GBASCHED_TOKEN", tenant_token("t1"))
    address = f"127.0.0.1:{free_port()}"
    tokens = a_token_book("t1", "t2")
    served = Served(world.coordinator, tokens, address=address)
    first = world.submit("t1")
    statuses: list[int] = []
    watch = ["watch", "--address", address, "--count", "4", "--json"]
    watcher = threading.Thread(target=lambda: statuses.append(main(watch)))
    try:
        watcher.start()
        time.sleep(REACHED_S + 0.5)  # the watch is open, the first event shown
        served.close()  # the server goes away
        second = world.submit("t1")  # stored while nobody serves
        time.sleep(0.5)
        served = Served(world.coordinator, tokens, address=address)  # back on the same port
        world.run()  # the first admitted (the pool holds one job at a time)
        world.run(1)  # and started
        watcher.join(30)
    finally:
        served.close()
    out, err = capsys.readouterr()

    assert statuses == [0], err
    shown = [json.loads(line) for line in out.splitlines()]
    stored = world.store.events()[:4]
    assert [(e["seq"], e["kind"], e["job_id"]) for e in shown] == [
        (e.seq, e.kind, e.job_id) for e in stored
    ]
    assert {e["job_id"] for e in shown} == {first, second}
    assert "the server went away" in err and "reconnecting after seq 1" in err
    assert "reconnected at seq 1" in err


def test_watch_of_a_server_never_reached_is_an_error_at_once(capsys: Capture) -> None:
    started = time.monotonic()
    status = main(["watch", "--address", f"127.0.0.1:{free_port()}", "--token", "t"])
    _, err = capsys.readouterr()

    assert status == 1
    assert "UNAVAILABLE" in err and "is `gbasched serve` running" in err
    assert time.monotonic() - started < 30
