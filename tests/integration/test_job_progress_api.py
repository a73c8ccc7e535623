"""A job's progress, as its workers reported it, in GetJob, ListJobs, the typed client and
`gbasched job`, over a real server on loopback (a coordinator on a SQLite file, the fake executor
on a manual clock).

The fake runs a job of walltime 3600 s for 1800 s: progress 25/50/75 % at +450/+900/+1350 s,
and with checkpoints every 600 s, checkpoints at +600 s (33.33 %) and +1200 s (66.66 %)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.api.client import SchedulerClient
from scheduler.api.v1 import common_pb2
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.cli.main import main
from scheduler.domain.jobs import JobState
from tests.api_builders import Served, a_token_book, serving, tenant_token, world_on_sqlite
from tests.service_builders import T0, World

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "progress.db", max_retries=1)


@pytest.fixture
def api(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("GBASCHED_TOKEN", tenant_token("t1"))
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line, whatever the terminal
    yield from serving(world, a_token_book("t1", "t2"))


def get(api: Served, job: str) -> pb.Job:
    reply: pb.Job = api.as_(tenant_token("t1")).GetJob(pb.GetJobRequest(job_id=job), timeout=10)
    return reply


def gbasched_job(capsys: Capture, api: Served, job: str, *flags: str) -> str:
    status = main(["job", job, "--address", api.address, *flags])
    out, err = capsys.readouterr()
    assert (status, err) == (0, ""), err
    return out


def second_attempt_at_25_percent(world: World) -> str:
    """Attempt 1 checkpointed at 33.33 % and got to 50 %, then failed; attempt 2 (launched at
    T0 + 950) is at 25 % at T0 + 1400, before its own first checkpoint."""
    job = world.submit("t1", checkpoint_interval_s=600)
    world.run()  # admitted and started at T0
    world.run(950)
    world.executor.fail(job, "CUDA error")
    world.run()  # requeued, admitted again: attempt 2
    world.run(450)
    record = world.record(job)
    assert (record.state, record.attempt) == (JobState.RUNNING, 2)
    return job


def test_get_job_shows_the_current_attempts_report_and_the_last_checkpoint(
    api: Served, world: World
) -> None:
    job = second_attempt_at_25_percent(world)

    reply = get(api, job)

    assert (reply.attempt, reply.progress_bp, reply.checkpoint_bp) == (2, 2500, 3333)
    assert reply.progress_at == T0 + 1400


def test_a_job_without_a_report_has_no_progress_fields(api: Served, world: World) -> None:
    queued = world.submit("t1")
    reply = get(api, queued)
    world.run()
    admitted = get(api, queued)

    for message in (reply, admitted):
        for field in ("progress_bp", "checkpoint_bp", "progress_at"):
            assert not message.HasField(field), field
    assert admitted.state == common_pb2.JOB_STATE_ADMITTED


def test_list_jobs_and_the_client_show_each_jobs_progress(api: Served, world: World) -> None:
    job = second_attempt_at_25_percent(world)
    waiting = world.submit("t1")  # the one node is taken: it waits

    listed = api.as_(tenant_token("t1")).ListJobs(pb.ListJobsRequest(), timeout=10)
    with SchedulerClient(api.address, tenant_token("t1")) as client:
        view = client.job(job)
        other = client.job(waiting)

    assert [(j.id, j.HasField("progress_bp"), j.progress_bp) for j in listed.jobs] == [
        (job, True, 2500),
        (waiting, False, 0),
    ]
    assert (view.progress_bp, view.checkpoint_bp, view.progress_at) == (2500, 3333, T0 + 1400)
    assert (other.progress_bp, other.checkpoint_bp, other.progress_at) == (None, None, None)


def test_a_succeeded_job_shows_all_of_its_work(api: Served, world: World) -> None:
    job = world.submit("t1")
    world.run()
    world.run(1800)

    reply = get(api, job)

    assert reply.state == common_pb2.JOB_STATE_SUCCEEDED
    assert (reply.progress_bp, reply.progress_at) == (10_000, T0 + 1800)
    assert not reply.HasField("checkpoint_bp")  # it never checkpointed


def test_gbasched_job_prints_the_progress_line_and_its_json(
    capsys: Capture, api: Served, world: World
) -> None:
    job = second_attempt_at_25_percent(world)

    table = gbasched_job(capsys, api, job)
    as_json = json.loads(gbasched_job(capsys, api, job, "--json"))

    assert "Progress" in table
    assert "25.00 % (attempt 2; last checkpoint 33.33 %; reported" in table
    assert (as_json["progress_bp"], as_json["checkpoint_bp"]) == (2500, 3333)
    assert as_json["progress_at"] == T0 + 1400


def test_gbasched_job_shows_no_progress_before_a_report(
    capsys: Capture, api: Served, world: World
) -> None:
    job = world.submit("t1")

    table = gbasched_job(capsys, api, job)
    as_json = json.loads(gbasched_job(capsys, api, job, "--json"))

    assert "Progress" not in table
    assert (as_json["progress_bp"], as_json["checkpoint_bp"], as_json["progress_at"]) == (
        None,
        None,
        None,
    )
