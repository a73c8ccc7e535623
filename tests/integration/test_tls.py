"""TLS on the API, with a self-signed certificate for localhost / 127.0.0.1 made here: a client
trusting it submits and reads over TLS (the library and the CLI's `--tls-ca`); a plain-text
client, or one trusting another certificate, gets UNAVAILABLE; `gbasched serve --tls-cert
--tls-key` answers a TLS client; half the TLS flags, an unreadable file and the public demo
tokens on a non-loopback address are refused with status 2 before anything starts. Nothing here
binds a non-loopback address."""

from __future__ import annotations

import datetime
import ipaddress
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scheduler.api.client import ApiError, JobSpec, SchedulerClient
from scheduler.api.server import TlsFiles
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.cli.main import main
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import JobState
from tests.api_builders import (
    READY_TIMEOUT_S,
    Served,
    a_token_book,
    demo_token,
    free_port,
    serving,
    tenant_token,
    world_on_sqlite,
)
from tests.builders import ASCEND, a_pool, a_tenant
from tests.service_builders import World

SPEC = JobSpec(workers=1, per_worker=8, walltime_s=3600, models=(ASCEND,))
SERVE = [sys.executable, "-m", "scheduler.cli", "serve", "--executor", "fake"]


def self_signed(name: str = "localhost") -> TlsFiles:
    """A fresh P-256 key and a self-signed certificate for DNS:localhost and IP:127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return TlsFiles(
        cert_chain_pem=cert.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@pytest.fixture(scope="module")
def tls() -> TlsFiles:
    return self_signed()


@pytest.fixture
def tls_paths(tls: TlsFiles, tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    cert.write_bytes(tls.cert_chain_pem)
    key.write_bytes(tls.private_key_pem)
    return cert, key


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    pool = a_pool().nodes(1, ASCEND, owner="sz-gov").tenant(a_tenant("t1")).build()
    yield from world_on_sqlite(tmp_path / "tls.db", pool)


@pytest.fixture
def api(world: World, tls: TlsFiles) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1"), tls=tls)


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVE, *args], check=False, capture_output=True, text=True, timeout=60)


# ---------------------------------------------------------------------- the library client


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_client_trusting_the_certificate_submits_and_reads_over_tls(
    api: Served, tls: TlsFiles, host: str
) -> None:
    address = f"{host}:{api.server.port}"
    with SchedulerClient(address, tenant_token("t1"), tls_root_cert=tls.cert_chain_pem) as client:
        assert client.tls
        result = client.submit(SPEC, client_key="over-tls")
        job = client.job(result.job_id)

    assert result.created
    assert (job.id, job.tenant, job.state, job.client_key) == (
        result.job_id,
        "t1",
        JobState.QUEUED,
        "over-tls",
    )


def test_the_test_stubs_of_a_tls_server_talk_tls(api: Served) -> None:
    assert list(api.scheduler.ListJobs(pb.ListJobsRequest(tenant="t1")).jobs) == []


def test_a_plain_text_client_to_a_tls_port_is_unavailable(api: Served) -> None:
    client = SchedulerClient(api.address, tenant_token("t1"), timeout_s=5)
    with client, pytest.raises(ApiError) as raised:
        client.job("job-1")
    assert raised.value.code == "UNAVAILABLE"


def test_a_client_trusting_another_certificate_is_unavailable(api: Served) -> None:
    stranger = self_signed().cert_chain_pem
    client = SchedulerClient(api.address, tenant_token("t1"), tls_root_cert=stranger, timeout_s=5)
    with client, pytest.raises(ApiError) as raised:
        client.job("job-1")
    assert raised.value.code == "UNAVAILABLE"


@pytest.mark.parametrize("address", ["10.0.0.1:50051", "scheduler.example.com:443", "[::1]:1"])
def test_with_tls_any_address_is_accepted(tls: TlsFiles, address: str) -> None:
    # The channel connects lazily: nothing is dialled here.
    SchedulerClient(address, "x", tls_root_cert=tls.cert_chain_pem).close()


def test_with_tls_the_address_must_still_be_host_and_port(tls: TlsFiles) -> None:
    with pytest.raises(InvalidField) as raised:
        SchedulerClient("no-port", "x", tls_root_cert=tls.cert_chain_pem)
    assert raised.value.field == "address"


# ---------------------------------------------------------------------- the client commands


def test_the_client_commands_talk_tls_with_tls_ca(
    api: Served, tls_paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cert, _ = tls_paths
    connection = ["--address", api.address, "--tls-ca", str(cert), "--token", tenant_token("t1")]
    job = ["--workers", "1", "--per-worker", "8", "--model", ASCEND, "--walltime", "3600"]

    assert main(["submit", *connection, *job, "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    assert main(["job", job_id, *connection, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "queued"


def test_the_client_commands_without_tls_ca_are_unavailable(
    api: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["jobs", "--address", api.address, "--token", tenant_token("t1")])

    assert status == 1
    assert capsys.readouterr().err.startswith("gbasched: error: UNAVAILABLE: ")


def test_an_unreadable_tls_ca_is_refused_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.pem"

    status = main(["jobs", "--tls-ca", str(missing), "--token", "x"])

    assert status == 2
    assert capsys.readouterr().err.startswith(f"gbasched: error: --tls-ca: cannot read {missing}")


# ---------------------------------------------------------------------- gbasched serve


def test_serve_with_tls_answers_a_tls_client(
    tmp_path: Path, tls: TlsFiles, tls_paths: tuple[Path, Path]
) -> None:
    cert, key = tls_paths
    port = free_port()
    process = subprocess.Popen(
        [
            *SERVE,
            *("--db", str(tmp_path / "pool.db"), "--port", str(port), "--fake-runtime-s", "600"),
            *("--tls-cert", str(cert), "--tls-key", str(key)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    address = f"127.0.0.1:{port}"
    try:
        trusted = grpc.ssl_channel_credentials(root_certificates=tls.cert_chain_pem)
        with grpc.secure_channel(address, trusted) as channel:
            grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
        with SchedulerClient(
            address, demo_token("hku-ml"), tls_root_cert=tls.cert_chain_pem
        ) as client:
            result = client.submit(
                JobSpec(workers=1, per_worker=8, walltime_s=3600, models=("nvidia-h800",))
            )
            assert client.job(result.job_id).tenant == "hku-ml"
        with SchedulerClient(address, demo_token("hku-ml"), timeout_s=5) as plain:
            with pytest.raises(ApiError) as raised:
                plain.job(result.job_id)
            assert raised.value.code == "UNAVAILABLE"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert f"serving on 127.0.0.1:{port} with TLS" in output


def test_a_tls_cert_without_a_key_is_refused_naming_the_flag(
    tmp_path: Path, tls_paths: tuple[Path, Path]
) -> None:
    cert, _ = tls_paths

    done = run_serve("--db", str(tmp_path / "x.db"), "--port", "0", "--tls-cert", str(cert))

    assert done.returncode == 2
    assert done.stderr.startswith("gbasched: error: --tls-cert: needs --tls-key"), done.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_tls_key_without_a_cert_is_refused_naming_the_flag(
    tmp_path: Path, tls_paths: tuple[Path, Path]
) -> None:
    _, key = tls_paths

    done = run_serve("--db", str(tmp_path / "x.db"), "--port", "0", "--tls-key", str(key))

    assert done.returncode == 2
    assert done.stderr.startswith("gbasched: error: --tls-key: needs --tls-cert"), done.stderr


def test_unreadable_or_wrong_tls_files_are_refused_naming_the_flag(
    tmp_path: Path, tls_paths: tuple[Path, Path]
) -> None:
    cert, key = tls_paths
    db = str(tmp_path / "x.db")
    missing = tmp_path / "missing.crt"

    unreadable = run_serve("--db", db, "--tls-cert", str(missing), "--tls-key", str(key))
    swapped = run_serve("--db", db, "--tls-cert", str(cert), "--tls-key", str(cert))

    assert unreadable.returncode == 2
    assert f"gbasched: error: --tls-cert: cannot read {missing}" in unreadable.stderr
    assert swapped.returncode == 2
    assert f"gbasched: error: --tls-key: {cert} holds no PEM private key" in swapped.stderr
    assert not (tmp_path / "x.db").exists()


def test_a_key_that_does_not_fit_the_certificate_is_refused(
    tmp_path: Path, tls_paths: tuple[Path, Path]
) -> None:
    cert, _ = tls_paths
    other_key = tmp_path / "other.key"
    other_key.write_bytes(self_signed().private_key_pem)

    done = run_serve(
        *("--db", str(tmp_path / "x.db"), "--port", "0"),
        *("--tls-cert", str(cert), "--tls-key", str(other_key)),
    )

    assert done.returncode == 2
    assert "gbasched: error: cannot serve on 127.0.0.1:0 (" in done.stderr
    assert "is --tls-key the private key of --tls-cert?" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_demo_tokens_are_refused_on_a_non_loopback_address(
    tmp_path: Path, tls_paths: tuple[Path, Path]
) -> None:
    cert, key = tls_paths

    done = run_serve(
        *("--db", str(tmp_path / "x.db"), "--host", "0.0.0.0", "--port", "0"),
        *("--tls-cert", str(cert), "--tls-key", str(key)),
    )

    assert done.returncode == 2
    assert "gbasched: error: --tokens: the demo tokens" in done.stderr
    assert "pass --tokens FILE" in done.stderr
    assert not (tmp_path / "x.db").exists()
