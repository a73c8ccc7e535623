"""A job's money in GetJob and ListJobs over a real server on loopback (a coordinator on a SQLite
file, the fake executor on a manual clock, one program paying half): cost and subsidy so far while
it runs, the settled figures once it ended, nothing before any usage; and only the job's tenant
or an operator sees them (another tenant gets NOT_FOUND, as for an unknown job).

Prices: a 1x8 Ascend job costs 1000 fen per accelerator-hour, 2000 fen per 900 s."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc
import pytest

from scheduler.api.client import SchedulerClient
from scheduler.api.v1 import common_pb2
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.domain.geography import Currency
from scheduler.domain.jobs import JobState
from scheduler.domain.money import Money
from scheduler.service.errors import unknown_job_message
from tests.api_builders import (
    OPERATOR_TOKEN,
    Served,
    a_token_book,
    serving,
    tenant_token,
    two_tenants,
    world_on_sqlite,
)
from tests.service_builders import World, money

CNY = common_pb2.CURRENCY_CNY


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from world_on_sqlite(tmp_path / "money.db", two_tenants(), programs=money())


@pytest.fixture
def api(world: World) -> Iterator[Served]:
    yield from serving(world, a_token_book("t1", "t2"))


def running_for_900_s(world: World) -> str:
    job = world.submit("t1", walltime_s=3600)  # the fake executor runs it 1800 s
    world.run()
    world.run(900)
    assert world.state(job) is JobState.RUNNING
    return job


def amounts(moneys: Iterable[common_pb2.Money]) -> list[tuple[int, int]]:
    return [(m.currency, m.minor) for m in moneys]


def test_get_job_shows_the_cost_and_subsidy_so_far_then_the_settled_ones(
    api: Served, world: World
) -> None:
    job = running_for_900_s(world)

    running = api.as_(tenant_token("t1")).GetJob(pb.GetJobRequest(job_id=job), timeout=10)
    assert amounts(running.cost) == [(CNY, 2000)]
    assert amounts(running.subsidy) == [(CNY, 1000)]
    assert [(p.program, p.amount.minor) for p in running.subsidy_by_program] == [
        ("sz-voucher", 1000)
    ]
    assert amounts(running.reserved) == [(CNY, 8000)]  # 3600 s reserved, 900 s of it used
    [so_far] = world.coordinator.job_money(job)
    assert (so_far.cost, so_far.subsidy, so_far.reserved) == (2000, 1000, 8000)

    world.run(900)  # it finishes and is settled
    ended = api.scheduler.GetJob(pb.GetJobRequest(job_id=job), timeout=10)
    assert ended.state == common_pb2.JOB_STATE_SUCCEEDED
    assert amounts(ended.cost) == [(CNY, 4000)]
    assert amounts(ended.subsidy) == [(CNY, 2000)]
    assert [(p.program, p.amount.minor) for p in ended.subsidy_by_program] == [("sz-voucher", 2000)]
    assert list(ended.reserved) == []  # settled: nothing held any more


def test_a_job_without_usage_has_no_cost_entries(api: Served, world: World) -> None:
    job = world.submit("t1")

    queued = api.scheduler.GetJob(pb.GetJobRequest(job_id=job), timeout=10)
    world.run()
    admitted = api.scheduler.GetJob(pb.GetJobRequest(job_id=job), timeout=10)

    assert (list(queued.cost), list(queued.subsidy)) == ([], [])
    assert admitted.state == common_pb2.JOB_STATE_ADMITTED  # reserved, not started: no usage
    assert (list(admitted.cost), list(admitted.subsidy)) == ([], [])


def test_list_jobs_shows_each_jobs_money(api: Served, world: World) -> None:
    job = running_for_900_s(world)
    waiting = world.submit("t1")

    reply = api.as_(tenant_token("t1")).ListJobs(pb.ListJobsRequest(), timeout=10)

    assert [j.id for j in reply.jobs] == [job, waiting]
    assert [(amounts(j.cost), amounts(j.subsidy)) for j in reply.jobs] == [
        ([(CNY, 2000)], [(CNY, 1000)]),
        ([], []),
    ]


def test_the_typed_client_reads_cost_subsidy_and_copay(api: Served, world: World) -> None:
    job = running_for_900_s(world)

    with SchedulerClient(api.address, tenant_token("t1")) as client:
        view = client.job(job)

    assert view.cost == (Money(Currency.CNY, 2000),)
    assert view.subsidy == (Money(Currency.CNY, 1000),)
    assert view.copay == (Money(Currency.CNY, 1000),)
    assert view.subsidy_by_program == (("sz-voucher", Money(Currency.CNY, 1000)),)
    assert view.reserved == (Money(Currency.CNY, 8000),)
    assert view.programs == ("sz-voucher",)


def test_another_tenant_cannot_read_a_jobs_money_and_an_operator_can(
    api: Served, world: World
) -> None:
    job = running_for_900_s(world)

    with pytest.raises(grpc.RpcError) as raised:
        api.as_(tenant_token("t2")).GetJob(pb.GetJobRequest(job_id=job), timeout=10)
    listed = api.as_(tenant_token("t2")).ListJobs(pb.ListJobsRequest(), timeout=10)
    as_operator = api.as_(OPERATOR_TOKEN).GetJob(pb.GetJobRequest(job_id=job), timeout=10)

    error = raised.value
    assert isinstance(error, grpc.Call)
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert error.details() == unknown_job_message(job)  # as if there were no such job
    assert list(listed.jobs) == []
    assert amounts(as_operator.cost) == [(CNY, 2000)]
    assert amounts(as_operator.subsidy) == [(CNY, 1000)]
