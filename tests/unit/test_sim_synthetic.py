"""Synthetic job streams as traces: a burst that fills the pool, then arrivals every step."""

from __future__ import annotations

import pytest

from scheduler.domain.errors import InvalidField
from scheduler.sim.synthetic import HELIOS_GPU_MIX, Stream, synthetic_trace
from scheduler.sim.world import gang_for


def test_the_burst_fills_then_leaves_the_pending_jobs_and_arrivals_follow_every_step() -> None:
    trace = synthetic_trace(Stream(fill=800, pending=50, per_step=3, steps=4))
    burst = [job for job in trace.jobs if job.submit_s == 0]
    fill = burst[: len(burst) - 50]
    assert sum(gang_for(job.gpus).total for job in fill) >= 800
    assert sum(gang_for(job.gpus).total for job in fill[:-1]) < 800
    later = [job.submit_s for job in trace.jobs[len(burst) :]]
    assert later == [s for s in (60, 120, 180, 240) for _ in range(3)]


def test_sizes_durations_tenants_and_ids_follow_the_rules() -> None:
    stream = Stream(fill=0, pending=2000, per_step=0, steps=0, tenants=5, seed=3)
    trace = synthetic_trace(stream)
    sizes = {gpus for gpus, _ in HELIOS_GPU_MIX}
    assert {job.gpus for job in trace.jobs} <= sizes
    assert sum(job.gpus == 1 for job in trace.jobs) > 1000  # the histogram's 55 % of 1-GPU jobs
    assert all(job.duration_s % 60 == 0 for job in trace.jobs)
    assert all(600 <= job.duration_s <= 172_800 for job in trace.jobs)
    assert set(trace.tenants) == {f"syn-{k:02d}" for k in range(5)}
    first = trace.jobs[0]
    assert (first.job_id, first.line, first.models, first.status) == ("syn-0", 2, (), "")


def test_the_same_stream_gives_the_same_trace_and_another_seed_another() -> None:
    stream = Stream(fill=400, pending=100, per_step=2, steps=3, seed=7)
    assert synthetic_trace(stream) == synthetic_trace(stream)
    other = Stream(fill=400, pending=100, per_step=2, steps=3, seed=8)
    assert synthetic_trace(other).jobs != synthetic_trace(stream).jobs


def test_bad_streams_name_the_field() -> None:
    with pytest.raises(InvalidField, match="step_s"):
        Stream(fill=8, pending=0, per_step=0, steps=0, step_s=0)
    with pytest.raises(InvalidField, match="stream"):
        synthetic_trace(Stream(fill=0, pending=0, per_step=5, steps=0))
