"""A tenant's request becomes a job, or an error naming the field; nothing half-made."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scheduler.api import convert
from scheduler.api.client import Submission, submit_message
from scheduler.api.v1 import scheduler_pb2
from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.geography import City, Jurisdiction
from scheduler.domain.jobs import Gang, Job
from scheduler.domain.requests import (
    JobRequest,
    PriorityNotAllowed,
    Resolved,
    accepted_models,
    oversize,
    resolved_job,
    to_job,
)
from tests.builders import ASCEND, H20, H800, MLU, a_pool, a_tenant, an_approval

POOL = (
    a_pool()
    .nodes(2, ASCEND)
    .nodes(2, H800, city=City.GUANGZHOU)
    .nodes(1, H20, city=City.HONG_KONG)
    .nodes(1, MLU)
    .tenant(a_tenant("pcl").priorities("standard", "low"))
    .tenant(a_tenant("hku"))
    .approval(an_approval("ap1").held_by("pcl").into(Jurisdiction.HONG_KONG))
    .build()
)
REQUEST = JobRequest(
    tenant="pcl",
    workers=2,
    per_worker=8,
    walltime_s=3600,
    data_origin=Jurisdiction.MAINLAND,
    models=(ASCEND,),
)


def test_a_good_request_becomes_a_job_with_the_pool_default_priority() -> None:
    job = to_job(REQUEST, POOL, "j1", seq=7, now=100)
    assert (job.id, job.tenant, job.seq, job.submitted_at) == ("j1", "pcl", 7, 100)
    assert (job.gang.workers, job.gang.per_worker) == (2, 8)
    assert job.models == {ASCEND}
    assert (job.priority_class, job.priority) == ("standard", 500)


@pytest.mark.parametrize(
    ("models", "min_tflops", "expected"),
    [
        ((ASCEND,), None, {ASCEND}),
        ((), 300, {ASCEND, H800}),  # 320 and 989 TFLOPS reach 300; H20 (148) and MLU (96) do not
        ((), 1, {ASCEND, H800, H20, MLU}),
        ((H20, H800), 300, {H800}),  # both given: a model must satisfy both
    ],
)
def test_accepted_models_by_name_or_by_minimum_tflops(
    models: tuple[str, ...], min_tflops: int | None, expected: set[str]
) -> None:
    assert accepted_models(POOL, models, min_tflops) == expected


BAD = [
    ("unknown tenant", {"tenant": "nobody"}, UnknownReference, "tenant", "unknown tenant"),
    ("no models", {"models": ()}, InvalidField, "models", "at least one"),
    ("unknown model", {"models": (ASCEND, "tpu-v5")}, UnknownReference, "models[1]", "tpu-v5"),
    (
        "zero min tflops",
        {"models": (), "min_tflops_fp16": 0},
        InvalidField,
        "min_tflops_fp16",
        "positive",
    ),
    (
        "unreachable tflops",
        {"models": (), "min_tflops_fp16": 5000},
        InvalidField,
        "min_tflops_fp16",
        "fastest in the catalogue has 989",
    ),
    (
        "unknown priority",
        {"priority_class": "urgent"},
        UnknownReference,
        "priority_class",
        "unknown class 'urgent'",
    ),
    (
        "priority not allowed",
        {"priority_class": "high"},
        PriorityNotAllowed,
        "priority_class",
        "may not use 'high'",
    ),
    (
        "another tenant's approval",
        {"tenant": "hku", "approvals": ("ap1",)},
        UnknownReference,
        "approvals[0]",
        "holds no approval 'ap1'",
    ),
    ("no workers", {"workers": 0}, InvalidField, "gang.workers", "positive"),
    ("negative accelerators", {"per_worker": -8}, InvalidField, "gang.per_worker", "positive"),
    ("zero walltime", {"walltime_s": 0}, InvalidField, "job.walltime_s", "positive"),
    (
        "negative checkpoint",
        {"checkpoint_interval_s": -1},
        InvalidField,
        "job.checkpoint_interval_s",
        "negative",
    ),
    (
        "entrypoint a command",
        {"entrypoint": "python train.py"},
        InvalidField,
        "job.entrypoint",
        "module:function",
    ),
    (
        "entrypoint without function",
        {"entrypoint": "pkg.train"},
        InvalidField,
        "job.entrypoint",
        "module:function",
    ),
    (
        "entrypoint too long",
        {"entrypoint": "m" * 200 + ":f"},
        InvalidField,
        "job.entrypoint",
        "at most 200",
    ),
]


@pytest.mark.parametrize(
    "entrypoint", ["", "scheduler.workloads.sample:train", "a:b", "_p.q_1:run"]
)
def test_an_entrypoint_names_a_module_and_a_function_or_nothing(entrypoint: str) -> None:
    assert (
        to_job(replace(REQUEST, entrypoint=entrypoint), POOL, "j1", seq=1, now=0).entrypoint
        == entrypoint
    )


@pytest.mark.parametrize(
    ("changes", "error", "field", "message"),
    [row[1:] for row in BAD],
    ids=[row[0] for row in BAD],
)
def test_bad_requests_name_the_field(
    changes: dict[str, object], error: type[InvalidField], field: str, message: str
) -> None:
    with pytest.raises(error) as caught:
        to_job(replace(REQUEST, **changes), POOL, "j1", seq=1, now=0)
    assert caught.value.field == field
    assert message in caught.value.message


def test_every_field_of_a_wire_spec_lands_in_its_own_field_of_the_request_and_the_job() -> None:
    # The bulk path builds both positionally: distinct values catch two fields swapped.
    spec = convert.JobSpec(
        workers=3,
        per_worker=5,
        walltime_s=7_777,
        data_origin=Jurisdiction.HONG_KONG,
        models=(H20,),
        min_tflops_fp16=100,
        priority_class="low",
        preemptible=False,
        checkpoint_interval_s=99,
        approvals=("ap1",),
        entrypoint="pkg.mod:fn",
        programs=("prog-a",),
    )
    message = scheduler_pb2.SubmitJobRequest(client_key="key-1", spec=convert.spec_message(spec))
    request = convert.job_request(message, "", "pcl")
    assert request == JobRequest(
        tenant="pcl",
        workers=3,
        per_worker=5,
        walltime_s=7_777,
        data_origin=Jurisdiction.HONG_KONG,
        models=(H20,),
        min_tflops_fp16=100,
        priority_class="low",
        preemptible=False,
        checkpoint_interval_s=99,
        approvals=("ap1",),
        entrypoint="pkg.mod:fn",
        programs=("prog-a",),
        client_key="key-1",
    )
    resolved = Resolved("pcl", "low", 100, frozenset({H20}))
    job = resolved_job(request, resolved, "j9", seq=11, now=1_234)
    assert job == Job(
        id="j9",
        tenant="pcl",
        gang=Gang(3, 5),
        models=frozenset({H20}),
        priority_class="low",
        priority=100,
        walltime_s=7_777,
        data_origin=Jurisdiction.HONG_KONG,
        submitted_at=1_234,
        seq=11,
        preemptible=False,
        checkpoint_interval_s=99,
        approvals=("ap1",),
        entrypoint="pkg.mod:fn",
        programs=("prog-a",),
        client_key="key-1",
        min_tflops_fp16=100,
    )


@pytest.mark.parametrize(
    ("models", "workers", "per_worker", "field", "message"),
    [
        ({ASCEND}, 2, 8, None, ""),  # the two Ascend nodes of 8, one worker on each
        ({ASCEND}, 4, 4, None, ""),  # two workers of 4 on each
        ({ASCEND, H800}, 4, 8, None, ""),  # either model: four nodes of 8
        (
            {ASCEND},
            3,
            8,
            "workers",
            "the pool's 2 nodes of huawei-ascend-910b hold at most 2 such workers",
        ),
        ({ASCEND}, 5, 4, "workers", "hold at most 4 such workers"),
        ({ASCEND}, 3, 5, "workers", "hold at most 2 such workers"),  # a node of 8 holds one of 5
        ({H20}, 1, 9, "per_worker", "the largest node of nvidia-h20 has 8"),
        ({"nvidia-a800"}, 1, 1, "models", "the pool has no node of nvidia-a800"),
    ],
)
def test_a_gang_larger_than_the_whole_pool_could_hold_is_oversize_naming_the_field(
    models: set[str], workers: int, per_worker: int, field: str | None, message: str
) -> None:
    found = oversize(POOL, frozenset(models), workers, per_worker)
    if field is None:
        assert found is None
    else:
        assert found is not None and found.field == field
        assert message in found.message, found.message


BIG_32, BIG_64 = 1 << 31, 1 << 63


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"workers": BIG_32}, "spec.workers"),
        ({"per_worker": -BIG_32 - 1}, "spec.per_worker"),
        ({"min_tflops_fp16": BIG_32}, "spec.min_tflops_fp16"),
        ({"walltime_s": BIG_64}, "spec.walltime_s"),
        ({"checkpoint_interval_s": -BIG_64 - 1}, "spec.checkpoint_interval_s"),
    ],
)
def test_a_number_the_wire_cannot_carry_is_refused_naming_the_field(
    change: dict[str, int], field: str
) -> None:
    spec = replace(convert.JobSpec(workers=1, per_worker=1, walltime_s=60, models=(H20,)), **change)
    with pytest.raises(InvalidField) as refused:
        convert.spec_message(spec)
    assert refused.value.field == field
    assert "must be between" in refused.value.message


def test_the_wire_limits_themselves_are_carried() -> None:
    spec = convert.JobSpec(
        workers=BIG_32 - 1,
        per_worker=-BIG_32,
        walltime_s=BIG_64 - 1,
        checkpoint_interval_s=-BIG_64,
        min_tflops_fp16=BIG_32 - 1,
    )
    message = convert.spec_message(spec)
    assert (message.workers, message.per_worker, message.min_tflops_fp16) == (
        BIG_32 - 1,
        -BIG_32,
        BIG_32 - 1,
    )
    assert (message.walltime_s, message.checkpoint_interval_s) == (BIG_64 - 1, -BIG_64)


def test_an_empty_client_key_is_refused_by_the_client_not_sent_as_no_key() -> None:
    spec = convert.JobSpec(workers=1, per_worker=1, walltime_s=60, models=(H20,))
    with pytest.raises(InvalidField) as refused:
        submit_message(Submission(spec, "", ""))
    assert refused.value.field == "client_key"
    assert submit_message(Submission(spec, "", None)).client_key == ""
    assert submit_message(Submission(spec, "", "k-1")).client_key == "k-1"
