"""Protocol buffers <-> domain values: the one place that knows both.

Enums map by name (`JURISDICTION_HONG_KONG` <-> `Jurisdiction.HONG_KONG`); an `_UNSPECIFIED` or
unknown number is refused naming the field. Integers the domain keeps unbounded are checked
against what the wire can carry. The server reads requests and writes replies; the client
(`scheduler.api.client`) writes requests and reads replies with `placement` and `event_data`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, TypeVar, cast

from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.struct_pb2 import Struct

from scheduler.api.v1 import common_pb2, scheduler_pb2
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import JobState, Placement
from scheduler.domain.requests import JobRequest
from scheduler.store.records import Event, JobRecord

E = TypeVar("E", bound=enum.Enum)


def _to_domain(kind: type[E], prefix: str, number: int, field: str) -> E:
    name = _wire_name(prefix, number)
    if name is None or name.endswith("_UNSPECIFIED"):
        raise InvalidField(field, "must be set")
    try:
        return kind[name.removeprefix(prefix)]
    except KeyError:
        raise InvalidField(field, f"unknown value {number}") from None


_ENUMS: dict[str, dict[int, str]] = {
    "JURISDICTION_": {v.number: v.name for v in common_pb2.Jurisdiction.DESCRIPTOR.values},
    "JOB_STATE_": {v.number: v.name for v in common_pb2.JobState.DESCRIPTOR.values},
}


def _wire_name(prefix: str, number: int) -> str | None:
    return _ENUMS[prefix].get(number)


def jurisdiction(number: int, field: str) -> Jurisdiction:
    return _to_domain(Jurisdiction, "JURISDICTION_", number, field)


def job_state(number: int, field: str) -> JobState:
    return _to_domain(JobState, "JOB_STATE_", number, field)


# The stubs type enum fields by the enum's class, `Value` by int: the cast joins the two.
def job_state_number(state: JobState) -> common_pb2.JobState:
    return cast(common_pb2.JobState, common_pb2.JobState.Value(f"JOB_STATE_{state.name}"))


def jurisdiction_number(zone: Jurisdiction) -> common_pb2.Jurisdiction:
    number = common_pb2.Jurisdiction.Value(f"JURISDICTION_{zone.name}")
    return cast(common_pb2.Jurisdiction, number)


def job_request(message: scheduler_pb2.SubmitJobRequest, field: str, tenant: str) -> JobRequest:
    """A submission for `tenant` (the one the caller may submit as, resolved from
    `message.tenant`) as the domain's request; errors name `<field>spec.…` (`field` is a
    prefix: empty, or `jobs[3].`)."""
    spec = message.spec
    where = f"{field}spec"
    if not message.HasField("spec"):
        raise InvalidField(where, "is required")
    return JobRequest(
        tenant=tenant,
        workers=spec.workers,
        per_worker=spec.per_worker,
        walltime_s=spec.walltime_s,
        data_origin=jurisdiction(spec.data_origin, f"{where}.data_origin"),
        models=tuple(spec.models),
        min_tflops_fp16=spec.min_tflops_fp16 if spec.HasField("min_tflops_fp16") else None,
        priority_class=spec.priority_class,
        preemptible=spec.preemptible if spec.HasField("preemptible") else True,
        checkpoint_interval_s=spec.checkpoint_interval_s,
        approvals=tuple(spec.approvals),
        entrypoint=spec.entrypoint,
        programs=tuple(spec.programs),
        client_key=message.client_key or None,
    )


def placement_message(placement: Placement) -> common_pb2.Placement:
    return common_pb2.Placement(
        model=placement.model,
        zone=jurisdiction_number(placement.zone),
        workers=[
            common_pb2.WorkerPlacement(node=node, accelerators=count)
            for node, count in placement.workers
        ],
        approval=placement.approval or "",
    )


def job_message(record: JobRecord, reason: tuple[str, str] | None = None) -> scheduler_pb2.Job:
    """A stored job as the API shows it; `reason` (code, words) overrides the stored one (a
    queued job's pending reason lives in the coordinator's memory)."""
    job = record.job
    spec = scheduler_pb2.JobSpec(
        workers=job.gang.workers,
        per_worker=job.gang.per_worker,
        models=sorted(job.models) if job.min_tflops_fp16 is None else [],
        priority_class=job.priority_class,
        walltime_s=job.walltime_s,
        data_origin=jurisdiction_number(job.data_origin),
        preemptible=job.preemptible,
        checkpoint_interval_s=job.checkpoint_interval_s,
        approvals=list(job.approvals),
        entrypoint=job.entrypoint,
        programs=list(job.programs),
    )
    if job.min_tflops_fp16 is not None:
        spec.min_tflops_fp16 = job.min_tflops_fp16
    code, words = reason or (record.reason_code or "", record.reason or "")
    message = scheduler_pb2.Job(
        id=job.id,
        tenant=job.tenant,
        spec=spec,
        state=job_state_number(record.state),
        attempt=record.attempt,
        failures=record.failures,
        submitted_at=job.submitted_at,
        updated_at=record.updated_at,
        reason_code=code,
        reason=words,
        accepted_models=sorted(job.models),
        priority=job.priority,
        client_key=job.client_key or "",
    )
    if record.placement is not None:
        message.placement.CopyFrom(placement_message(record.placement))
    if record.started_at is not None:
        message.started_at = record.started_at
    if record.ended_at is not None:
        message.ended_at = record.ended_at
    return message


def event_message(event: Event) -> scheduler_pb2.JobEvent:
    data = Struct()
    ParseDict(dict(event.data), data)
    return scheduler_pb2.JobEvent(
        seq=event.seq,
        at=event.at,
        kind=event.kind,
        job_id=event.job_id or "",
        tenant=event.tenant or "",
        data=data,
    )


def placement(message: common_pb2.Placement, field: str) -> Placement:
    """A placement as the API sent it, back as the domain's value."""
    return Placement(
        model=message.model,
        zone=jurisdiction(message.zone, f"{field}.zone"),
        workers=tuple((w.node, w.accelerators) for w in message.workers),
        approval=message.approval or None,
    )


# Struct numbers are doubles; integers round-trip exactly up to 2^53.
_EXACT = 2**53


def event_data(data: Struct) -> dict[str, Any]:
    """An event's details as plain JSON values, integral numbers back as ints."""
    plain: dict[str, Any] = _integral(MessageToDict(data))
    return plain


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def job_states(numbers: Iterable[int], field: str) -> list[JobState]:
    return [job_state(n, f"{field}[{i}]") for i, n in enumerate(numbers)]
