"""Replaying traces on the coordinator: jobs arrive, wait, run for their duration, are preempted
at a cost, and the figures say what happened (definitions in docs/simulator.md)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import parse_pool
from scheduler.domain.pool import Pool
from scheduler.policy.registry import QUEUE_POLICIES, resolve_policy
from scheduler.sim.replay import Replay, ReplayResult, ReplaySettings
from scheduler.sim.report import figures
from scheduler.sim.tally import JobTally
from scheduler.sim.trace import Trace, TraceJob, read_trace
from tests.builders import ASCEND, H800, a_pool, a_tenant
from tests.service_builders import money

TRACES = Path(__file__).parents[2] / ".." / "shared" / "traces"


@dataclass
class TraceBuilder:
    """`a_trace().job(at=0, runs=100, gpus=8, tenant="u1")`: rows in submission order."""

    _jobs: list[TraceJob] = field(default_factory=list)

    def job(
        self,
        *,
        at: int = 0,
        runs: int = 100,
        gpus: int = 8,
        tenant: str = "t1",
        models: tuple[str, ...] = (),
    ) -> TraceBuilder:
        n = len(self._jobs)
        self._jobs.append(TraceJob(n + 2, f"j{n}", at, runs, gpus, tenant, "COMPLETED", models))
        return self

    def build(self) -> Trace:
        return Trace("test.csv", tuple(self._jobs))


def a_trace() -> TraceBuilder:
    return TraceBuilder()


def nodes(count: int) -> Pool:
    """`count` Shenzhen nodes of 8 Ascend; tenant t1 (more come from the trace)."""
    return a_pool().nodes(count, ASCEND, owner="sz-gov").tenant(a_tenant("t1")).build()


def replayed(
    trace: Trace | TraceBuilder, pool: Pool, policy: str = "fifo", **settings: Any
) -> tuple[dict[str, Any], ReplayResult]:
    trace = trace.build() if isinstance(trace, TraceBuilder) else trace
    programs = settings.pop("programs", None)
    result = Replay(
        trace, pool, resolve_policy(policy), programs=programs, settings=ReplaySettings(**settings)
    ).run()
    return figures(result), result


def job_of(result: ReplayResult, tenant: str, nth: int = 0) -> JobTally:
    return [job for job in result.tally.jobs.values() if job.tenant == tenant][nth]


# ---------------------------------------------------------------------- running and waiting


def test_a_lone_job_runs_for_its_duration_and_waits_for_nothing() -> None:
    out, _ = replayed(a_trace().job(runs=100, gpus=8), nodes(2))
    assert (out["completed"], out["mean_jct_s"], out["mean_queue_s"]) == (1, 100, 0)
    assert out["makespan_s"] == 100
    assert out["utilisation"] == 0.5  # 8 of 16 accelerators for the whole makespan


def test_a_job_waits_until_the_one_before_it_ends() -> None:
    trace = a_trace().job(at=0, runs=100, gpus=16).job(at=10, runs=100, gpus=16)
    out, result = replayed(trace, nodes(2))
    second = job_of(result, "t1", 1)
    assert (second.first_start, second.ended) == (100, 200)
    assert (out["mean_queue_s"], out["p99_queue_s"]) == (45, 90)
    assert out["p50_jct_s"] == 100 and out["p99_jct_s"] == 190


def test_jobs_arriving_in_the_same_second_are_submitted_in_one_call() -> None:
    trace = a_trace().job(at=0).job(at=0).job(at=0).job(at=5).job(at=5)
    _, result = replayed(trace, nodes(8))
    assert result.coordinator.submit_transactions == 2


def test_the_clock_jumps_from_event_to_event() -> None:
    trace = a_trace().job(at=0, runs=100_000).job(at=1_000_000, runs=100_000)
    out, _ = replayed(trace, nodes(1))
    assert out["ticks"] <= 4  # two arrivals, two ends: not a million seconds of ticks
    assert out["makespan_s"] == 1_100_000


def test_a_replay_run_until_a_time_stops_before_the_first_tick_after_it() -> None:
    trace = a_trace().job(at=0, runs=100).job(at=50, runs=100).job(at=500, runs=100).build()
    replay = Replay(trace, nodes(1), resolve_policy("fifo"))
    seen: list[tuple[int, float]] = []

    result = replay.run(until=replay.start + 150, on_tick=lambda r, s: seen.append((r.at, s)))

    assert result.stopped_at_until
    assert [at - replay.start for at, _ in seen] == [0, 50, 100]  # next: the end at 200
    assert all(seconds >= 0 for _, seconds in seen)
    assert not Replay(trace, nodes(1), resolve_policy("fifo")).run().stopped_at_until


def test_a_job_larger_than_the_pool_is_rejected_and_counted() -> None:
    out, _ = replayed(a_trace().job(gpus=24).job(gpus=8), nodes(2))
    assert (out["jobs"], out["completed"], out["rejected"]) == (2, 1, 1)


def test_a_load_factor_compresses_arrivals() -> None:
    # 2 × 8 GPUs × 100 s over 1000 s offers 1.6 accelerators; at load 1 on 16 that is ×0.1
    trace = a_trace().job(at=0, runs=100).job(at=1000, runs=100)
    out, result = replayed(trace, nodes(2), load_factor=Fraction(1))
    assert out["arrival_scale"] == 0.1
    assert job_of(result, "t1", 1).arrived == 100


def test_a_job_of_a_named_model_runs_only_on_it_and_at_its_speed_when_asked() -> None:
    pool = a_pool().nodes(1, ASCEND, owner="sz").nodes(1, H800, owner="sz").build()
    trace = a_trace().job(runs=989, models=(H800,))
    out, _ = replayed(trace, pool)
    assert out["mean_jct_s"] == 989
    # the duration was measured on an Ascend (320 TFLOPS); an H800 does 989
    out, _ = replayed(trace, pool, speed=True, speed_reference=ASCEND)
    assert out["mean_jct_s"] == 320


def test_a_walltime_shorter_than_the_job_stops_it_as_failed() -> None:
    out, result = replayed(a_trace().job(runs=100), nodes(1), walltime_s=50)
    assert (out["completed"], out["failed"]) == (0, 1)
    assert job_of(result, "t1").ended == 50


# ---------------------------------------------------------------------- preemption costs


def owner_and_guest() -> Pool:
    """One node of the Shenzhen government, whose own tenant reclaims it from guests."""
    owner = a_tenant("owner").owner("sz-gov")
    return a_pool().nodes(1, ASCEND, owner="sz-gov").tenant(owner).build()


def reclaimed_guest(**settings: Any) -> tuple[dict[str, Any], JobTally]:
    trace = (
        a_trace()
        .job(at=0, runs=10_000, gpus=8, tenant="guest")
        .job(at=4_000, runs=1_000, gpus=8, tenant="owner")
    )
    out, result = replayed(trace, owner_and_guest(), "priority-fairshare", **settings)
    return out, job_of(result, "guest")


def test_a_preempted_job_loses_the_work_since_its_checkpoint_and_pays_a_restart() -> None:
    out, guest = reclaimed_guest(checkpoint_interval_s=1_800, restart_overhead_s=60)
    assert out["preemptions"] == 1
    # preempted at 4000 with 3600 s checkpointed; restarts at 5000 for 60 + 6400 s
    assert guest.ended == 5_000 + 60 + 6_400
    assert guest.attempts == 2


def test_without_checkpoints_a_preempted_job_starts_over() -> None:
    _, guest = reclaimed_guest(checkpoint_interval_s=0, restart_overhead_s=60)
    assert guest.ended == 5_000 + 60 + 10_000


# ---------------------------------------------------------------------- fairness and money


def test_fairness_compares_what_tenants_got_while_they_waited_per_weight() -> None:
    # one node; a and b each queue two 100-second jobs at once; FIFO runs a, b, a, b
    trace = a_trace()
    for tenant in ("a", "b", "a", "b"):
        trace.job(tenant=tenant)
    out, _ = replayed(trace, nodes(1))
    # a waited 200 s and got 800 accelerator-seconds then (4/s); b waited 300 s for 800 (8/3)
    assert out["jain_fairness"] == round(400 / 416, 6)
    # with weight 2 (from the pool file) b's share per weight is 4/3
    weighted = a_pool().nodes(1, ASCEND, owner="sz-gov").tenant(a_tenant("b").weight(2)).build()
    out, _ = replayed(trace, weighted)
    assert out["jain_fairness"] == 0.8


def test_with_programs_the_ledger_pays_subsidies_and_stays_balanced() -> None:
    trace = a_trace().job(at=0, runs=3_600, tenant="t1").job(at=0, runs=3_600, tenant="t2")
    out, _ = replayed(trace, nodes(2), programs=money())
    # each job cost 8 accelerators × 1 h × 1000 fen = 8000; the program pays half, as its share
    # of the reservation (made for the 3,660 s walltime) applied to that cost, floored: 3999
    assert out["subsidy_paid_minor"] == {"CNY": 2 * 3_999}
    assert out["overspend_minor"] == {"CNY": 0}
    assert out["ledger_balanced"] is True


# ---------------------------------------------------------------------- sanity over policies


@pytest.mark.parametrize("queue", sorted(QUEUE_POLICIES))
def test_on_an_underloaded_pool_no_queue_policy_makes_jobs_wait(queue: str) -> None:
    # At a tenth of a 1,024-accelerator pool, a job finds room when it arrives (every arrival
    # cycles at once); the bound of 1 s allows a rare collision of large gangs, no more.
    pool = parse_pool(tomllib.loads(generate_pool_toml(1024, 1)), "generated")
    trace = read_trace(TRACES / "helios_dirlab_gpu.csv", 300)
    out, _ = replayed(trace, pool, queue, load_factor=Fraction(1, 10))
    assert out["completed"] == 300
    assert out["mean_queue_s"] <= 1
