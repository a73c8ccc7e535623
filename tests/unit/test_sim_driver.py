"""The engine-only driver of `gbasched cycle` keeps the service figures as the coordinator does."""

from __future__ import annotations

from collections.abc import Callable

from scheduler.domain.jobs import Job
from scheduler.policy.registry import resolve_policy
from scheduler.sim.driver import Driver
from tests.builders import ASCEND, a_job, a_pool

POOL = a_pool().nodes(1, ASCEND, prefix="n").build()


def always(bp: int) -> Callable[[Job], int]:
    return lambda job: bp


def test_a_finished_job_joins_its_tenants_history_and_its_attained_service_is_forgotten() -> None:
    driver = Driver(POOL, resolve_policy("qssf"), runtime_bp=always(5_000))
    driver.submit([a_job("j").tenant("t1").gang(1, ASCEND, 8).walltime(1000).seq(1).build()])
    driver.step(0)
    assert set(driver.state.running) == {"j"}
    driver.step(600)  # it ended at 500; the driver learns of it at 600
    assert driver.finished == ["j"]
    service = driver.state.service
    assert service.mean_runtime("t1", 8) == 600
    assert list(service.by_tenant["t1"].runs) == [600]
    assert "j" not in service.past


def test_under_las_a_finished_job_is_counted_in_the_history_and_then_forgotten() -> None:
    driver = Driver(POOL, resolve_policy("las"), runtime_bp=always(10_000))
    low = a_job("low").tenant("t1").gang(1, ASCEND, 8).walltime(100).seq(1)
    driver.submit([low.build()])
    driver.step(0)
    driver.step(100)
    assert driver.finished == ["low"]
    assert driver.state.service.past == {}
    assert list(driver.state.service.pool.runs) == [100]
