from scheduler.api.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobSpec(_message.Message):
    __slots__ = ("workers", "per_worker", "models", "min_tflops_fp16", "priority_class", "walltime_s", "data_origin", "preemptible", "checkpoint_interval_s", "approvals", "entrypoint", "programs")
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    PER_WORKER_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MIN_TFLOPS_FP16_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_CLASS_FIELD_NUMBER: _ClassVar[int]
    WALLTIME_S_FIELD_NUMBER: _ClassVar[int]
    DATA_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    PREEMPTIBLE_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_INTERVAL_S_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINT_FIELD_NUMBER: _ClassVar[int]
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    workers: int
    per_worker: int
    models: _containers.RepeatedScalarFieldContainer[str]
    min_tflops_fp16: int
    priority_class: str
    walltime_s: int
    data_origin: _common_pb2.Jurisdiction
    preemptible: bool
    checkpoint_interval_s: int
    approvals: _containers.RepeatedScalarFieldContainer[str]
    entrypoint: str
    programs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workers: _Optional[int] = ..., per_worker: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ..., min_tflops_fp16: _Optional[int] = ..., priority_class: _Optional[str] = ..., walltime_s: _Optional[int] = ..., data_origin: _Optional[_Union[_common_pb2.Jurisdiction, str]] = ..., preemptible: _Optional[bool] = ..., checkpoint_interval_s: _Optional[int] = ..., approvals: _Optional[_Iterable[str]] = ..., entrypoint: _Optional[str] = ..., programs: _Optional[_Iterable[str]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("tenant", "client_key", "spec")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_KEY_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    client_key: str
    spec: JobSpec
    def __init__(self, tenant: _Optional[str] = ..., client_key: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job_id", "created")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    created: bool
    def __init__(self, job_id: _Optional[str] = ..., created: _Optional[bool] = ...) -> None: ...

class SubmitJobsRequest(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[SubmitJobRequest]
    def __init__(self, jobs: _Optional[_Iterable[_Union[SubmitJobRequest, _Mapping]]] = ...) -> None: ...

class SubmitJobsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitJobResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitJobResponse, _Mapping]]] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "tenant", "spec", "state", "attempt", "failures", "placement", "submitted_at", "started_at", "ended_at", "updated_at", "reason_code", "reason", "accepted_models", "priority", "client_key", "cost", "subsidy", "subsidy_by_program", "reserved", "progress_bp", "checkpoint_bp", "progress_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_MODELS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    CLIENT_KEY_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    SUBSIDY_FIELD_NUMBER: _ClassVar[int]
    SUBSIDY_BY_PROGRAM_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_BP_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_BP_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant: str
    spec: JobSpec
    state: _common_pb2.JobState
    attempt: int
    failures: int
    placement: _common_pb2.Placement
    submitted_at: int
    started_at: int
    ended_at: int
    updated_at: int
    reason_code: str
    reason: str
    accepted_models: _containers.RepeatedScalarFieldContainer[str]
    priority: int
    client_key: str
    cost: _containers.RepeatedCompositeFieldContainer[_common_pb2.Money]
    subsidy: _containers.RepeatedCompositeFieldContainer[_common_pb2.Money]
    subsidy_by_program: _containers.RepeatedCompositeFieldContainer[ProgramPayment]
    reserved: _containers.RepeatedCompositeFieldContainer[_common_pb2.Money]
    progress_bp: int
    checkpoint_bp: int
    progress_at: int
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.JobState, str]] = ..., attempt: _Optional[int] = ..., failures: _Optional[int] = ..., placement: _Optional[_Union[_common_pb2.Placement, _Mapping]] = ..., submitted_at: _Optional[int] = ..., started_at: _Optional[int] = ..., ended_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., reason_code: _Optional[str] = ..., reason: _Optional[str] = ..., accepted_models: _Optional[_Iterable[str]] = ..., priority: _Optional[int] = ..., client_key: _Optional[str] = ..., cost: _Optional[_Iterable[_Union[_common_pb2.Money, _Mapping]]] = ..., subsidy: _Optional[_Iterable[_Union[_common_pb2.Money, _Mapping]]] = ..., subsidy_by_program: _Optional[_Iterable[_Union[ProgramPayment, _Mapping]]] = ..., reserved: _Optional[_Iterable[_Union[_common_pb2.Money, _Mapping]]] = ..., progress_bp: _Optional[int] = ..., checkpoint_bp: _Optional[int] = ..., progress_at: _Optional[int] = ...) -> None: ...

class ProgramPayment(_message.Message):
    __slots__ = ("program", "amount")
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    program: str
    amount: _common_pb2.Money
    def __init__(self, program: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("tenant", "states", "page_size", "page_token", "newest_first")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    states: _containers.RepeatedScalarFieldContainer[_common_pb2.JobState]
    page_size: int
    page_token: str
    newest_first: bool
    def __init__(self, tenant: _Optional[str] = ..., states: _Optional[_Iterable[_Union[_common_pb2.JobState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., newest_first: _Optional[bool] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("after_seq", "job_id", "client_key_prefix", "tenant")
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    job_id: str
    client_key_prefix: str
    tenant: str
    def __init__(self, after_seq: _Optional[int] = ..., job_id: _Optional[str] = ..., client_key_prefix: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("seq", "at", "kind", "job_id", "tenant", "data")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: int
    kind: str
    job_id: str
    tenant: str
    data: _struct_pb2.Struct
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[int] = ..., kind: _Optional[str] = ..., job_id: _Optional[str] = ..., tenant: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
