"""`gbasched serve` as a user runs it: it starts on the sample pool, answers, stops cleanly on
SIGTERM and carries on after a restart; a database that is not ours is refused and left as it
was; a second serve on a store or a port already in use is refused while the first goes on;
a non-loopback address is refused without TLS (TLS itself: test_tls.py); calls need one of
the demo tokens (and the server says they are public); a bad tokens file is refused naming the
file and the key; SIGHUP reloads the tokens file against the pool as it is then, and a file that
does not load leaves the tokens as they were."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from scheduler.api.auth import bearer, token_hash
from scheduler.api.v1 import admin_pb2, admin_pb2_grpc, scheduler_pb2_grpc
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.cli.main import main
from tests.api_builders import READY_TIMEOUT_S, demo_token, free_port

SERVE = [sys.executable, "-m", "scheduler.cli", "serve", "--executor", "fake"]


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVE, *args], check=False, capture_output=True, text=True, timeout=60)


def test_a_corrupt_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "pool.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    before = db.read_bytes()

    done = run_serve("--db", str(db), "--port", "0")

    assert done.returncode == 2
    assert done.stderr.startswith("gbasched: error: "), done.stderr
    assert str(db) in done.stderr
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.db"]


def test_a_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "theirs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
    before = db.read_bytes()

    done = run_serve("--db", str(db), "--port", "0")

    assert done.returncode == 2
    assert "gbasched: error: " in done.stderr
    assert db.read_bytes() == before


def test_a_public_address_is_refused_without_tls(tmp_path: Path) -> None:
    done = run_serve("--db", str(tmp_path / "x.db"), "--host", "0.0.0.0")

    assert done.returncode == 2
    assert "--host: must be a loopback address without TLS" in done.stderr
    assert "pass --tls-cert and --tls-key" in done.stderr
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [("--tick-interval", "0", "must be positive"), ("--max-retries", "-1", "must not be negative")],
)
def test_a_bad_loop_setting_is_refused_naming_its_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    status = main(["serve", "--executor", "fake", "--db", str(tmp_path / "x.db"), flag, value])

    assert status == 2
    assert capsys.readouterr().err == f"gbasched: error: {flag}: {message}\n"
    assert not (tmp_path / "x.db").exists()


def test_a_bad_tokens_file_is_refused_naming_the_file_and_key(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[tokens.ci]\nsha256 = "' + "0" * 64 + '"\ntenant = "nobody"\n')

    done = run_serve("--db", str(tmp_path / "x.db"), "--tokens", str(tokens), "--port", "0")

    assert done.returncode == 2
    assert f"gbasched: error: {tokens}: tokens.ci.tenant: unknown tenant 'nobody'" in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_serve_answers_stops_on_sigterm_and_keeps_its_jobs_across_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "pool.db"
    port = free_port()
    request = pb.SubmitJobRequest(
        client_key="restart-1",
        spec=pb.JobSpec(
            workers=1,
            per_worker=8,
            models=["huawei-ascend-910b"],
            walltime_s=3600,
            data_origin="JURISDICTION_MAINLAND",
        ),
    )
    job_ids = []
    for _ in range(2):
        process = subprocess.Popen(
            [*SERVE, "--db", str(db), "--port", str(port), "--fake-runtime-s", "600"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
            stub = scheduler_pb2_grpc.SchedulerStub(channel)
            with pytest.raises(grpc.RpcError) as anonymous:
                stub.ListJobs(pb.ListJobsRequest())
            assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
            tenant = bearer(demo_token("bay-natlab-fm"))
            job_ids.append(stub.SubmitJob(request, metadata=tenant).job_id)
            listed = stub.ListJobs(pb.ListJobsRequest(), metadata=tenant).jobs
            assert [job.id for job in listed] == job_ids[:1]
            other = stub.ListJobs(pb.ListJobsRequest(), metadata=bearer(demo_token("hku-ml")))
            assert list(other.jobs) == []
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert f"serving on 127.0.0.1:{port} in plain text, loopback only" in output
        assert "demo tokens" in output and "public" in output

    assert job_ids[0] == job_ids[1]  # the key was remembered across the restart


def start_serve(db: Path, port: int) -> subprocess.Popen[str]:
    """`gbasched serve` on `db` and `port`, once it answers."""
    process = subprocess.Popen(
        [*SERVE, "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
    return process


def answers(port: int, tenant: str) -> list[str]:
    """The ids of `tenant`'s jobs, as the server on `port` lists them."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = scheduler_pb2_grpc.SchedulerStub(channel)
        listed = stub.ListJobs(pb.ListJobsRequest(), metadata=bearer(demo_token(tenant)))
        return [job.id for job in listed.jobs]


def test_a_second_serve_on_a_store_in_use_is_refused_until_the_first_is_gone(
    tmp_path: Path,
) -> None:
    db = tmp_path / "pool.db"
    port = free_port()
    first = start_serve(db, port)
    try:
        second = run_serve("--db", str(db), "--port", "0")
        assert second.returncode == 2, second.stderr
        assert (
            f"gbasched: error: {db}: another coordinator (process {first.pid}) is running on"
            " this store; stop it first, or pass another --db"
        ) in second.stderr
        assert "serving on" not in second.stdout
        assert answers(port, "hku-ml") == []  # the first goes on
    finally:
        first.kill()  # SIGKILL: no clean exit, yet the kernel drops its lock
        first.communicate(timeout=30)
    again = start_serve(db, port)
    again.send_signal(signal.SIGTERM)
    output, _ = again.communicate(timeout=30)
    assert again.returncode == 0, output


def test_a_second_serve_on_a_port_in_use_is_refused(tmp_path: Path) -> None:
    port = free_port()
    first = start_serve(tmp_path / "first.db", port)
    try:
        second = run_serve("--db", str(tmp_path / "second.db"), "--port", str(port))
        assert second.returncode == 2, second.stderr
        assert (
            f"gbasched: error: --port: cannot listen on 127.0.0.1:{port} (Address already in"
            " use): is another gbasched serve running there?"
        ) in second.stderr
        assert not (tmp_path / "second.db").exists()  # refused before anything started
        assert answers(port, "hku-ml") == []  # the first still holds the port alone
    finally:
        first.send_signal(signal.SIGTERM)
        output, _ = first.communicate(timeout=30)
    assert first.returncode == 0, output


def test_a_metrics_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_serve("--db", str(tmp_path / "x.db"), "--port", "0", "--metrics-port", str(port))
    assert done.returncode == 2, done.stderr
    assert f"gbasched: error: --metrics-port: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert not (tmp_path / "x.db").exists()


def tokens_file(path: Path, tenants: dict[str, str]) -> Path:
    """A tokens file: one operator token (`ops-token`), and a token per tenant (name: token)."""
    lines = [f'[tokens.ops]\nsha256 = "{token_hash("ops-token")}"\nrole = "operator"\n']
    for tenant, token in tenants.items():
        lines.append(f'[tokens.{tenant}]\nsha256 = "{token_hash(token)}"\ntenant = "{tenant}"\n')
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def listing_code(stub: scheduler_pb2_grpc.SchedulerStub, token: str) -> grpc.StatusCode:
    try:
        stub.ListJobs(pb.ListJobsRequest(), metadata=bearer(token), timeout=10)
    except grpc.RpcError as exc:
        assert isinstance(exc, grpc.Call)
        return exc.code()
    return grpc.StatusCode.OK


def test_sighup_reloads_the_tokens_so_a_tenant_put_while_running_can_call(
    tmp_path: Path,
) -> None:
    tokens = tokens_file(tmp_path / "tokens.toml", {"hku-ml": "hku-token"})
    port = free_port()
    process = subprocess.Popen(
        [*SERVE, "--db", str(tmp_path / "pool.db"), "--port", str(port), "--tokens", str(tokens)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
            stub = scheduler_pb2_grpc.SchedulerStub(channel)
            admin = admin_pb2_grpc.AdminStub(channel)
            admin.PutTenant(
                admin_pb2.PutTenantRequest(tenant=admin_pb2.Tenant(id="newco")),
                metadata=bearer("ops-token"),
                timeout=10,
            )
            assert listing_code(stub, "newco-token") is grpc.StatusCode.UNAUTHENTICATED

            tokens_file(tokens, {"hku-ml": "hku-token", "newco": "newco-token"})
            process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while listing_code(stub, "newco-token") is not grpc.StatusCode.OK:
                assert time.monotonic() < deadline, "the new token was not taken within 10 s"
                time.sleep(0.05)
            assert listing_code(stub, "hku-token") is grpc.StatusCode.OK

            tokens.write_text("[tokens.broken]\nsha256 = 'abc'\n", encoding="utf-8")
            process.send_signal(signal.SIGHUP)
            time.sleep(1)  # a reload would have happened by now: nothing may have changed
            assert listing_code(stub, "newco-token") is grpc.StatusCode.OK
            assert listing_code(stub, "ops-token") is grpc.StatusCode.OK
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"gbasched: reloaded 3 tokens from {tokens}" in output
    assert "gbasched: error: tokens not reloaded, the earlier ones still hold: " in output
    assert f"{tokens}: tokens.broken.sha256" in output
