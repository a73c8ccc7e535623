from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Currency(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CURRENCY_UNSPECIFIED: _ClassVar[Currency]
    CURRENCY_CNY: _ClassVar[Currency]
    CURRENCY_HKD: _ClassVar[Currency]
    CURRENCY_MOP: _ClassVar[Currency]

class Jurisdiction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JURISDICTION_UNSPECIFIED: _ClassVar[Jurisdiction]
    JURISDICTION_MAINLAND: _ClassVar[Jurisdiction]
    JURISDICTION_HONG_KONG: _ClassVar[Jurisdiction]
    JURISDICTION_MACAO: _ClassVar[Jurisdiction]

class City(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CITY_UNSPECIFIED: _ClassVar[City]
    CITY_GUANGZHOU: _ClassVar[City]
    CITY_SHENZHEN: _ClassVar[City]
    CITY_ZHUHAI: _ClassVar[City]
    CITY_FOSHAN: _ClassVar[City]
    CITY_HUIZHOU: _ClassVar[City]
    CITY_DONGGUAN: _ClassVar[City]
    CITY_ZHONGSHAN: _ClassVar[City]
    CITY_JIANGMEN: _ClassVar[City]
    CITY_ZHAOQING: _ClassVar[City]
    CITY_HONG_KONG: _ClassVar[City]
    CITY_MACAO: _ClassVar[City]

class OwnerClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OWNER_CLASS_UNSPECIFIED: _ClassVar[OwnerClass]
    OWNER_CLASS_GOVERNMENT: _ClassVar[OwnerClass]
    OWNER_CLASS_ENTERPRISE: _ClassVar[OwnerClass]
    OWNER_CLASS_RESEARCH: _ClassVar[OwnerClass]

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_UP: _ClassVar[NodeState]
    NODE_STATE_CORDONED: _ClassVar[NodeState]
    NODE_STATE_DRAINING: _ClassVar[NodeState]
    NODE_STATE_DOWN: _ClassVar[NodeState]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_ADMITTED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
    JOB_STATE_PREEMPTED: _ClassVar[JobState]
    JOB_STATE_REJECTED: _ClassVar[JobState]

class Precision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRECISION_UNSPECIFIED: _ClassVar[Precision]
    PRECISION_FP16: _ClassVar[Precision]
    PRECISION_FP32: _ClassVar[Precision]
    PRECISION_INT8: _ClassVar[Precision]

class TenantFlag(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TENANT_FLAG_UNSPECIFIED: _ClassVar[TenantFlag]
    TENANT_FLAG_STARTUP: _ClassVar[TenantFlag]
    TENANT_FLAG_SME: _ClassVar[TenantFlag]
    TENANT_FLAG_RESEARCH: _ClassVar[TenantFlag]
    TENANT_FLAG_PUBLIC_SECTOR: _ClassVar[TenantFlag]
CURRENCY_UNSPECIFIED: Currency
CURRENCY_CNY: Currency
CURRENCY_HKD: Currency
CURRENCY_MOP: Currency
JURISDICTION_UNSPECIFIED: Jurisdiction
JURISDICTION_MAINLAND: Jurisdiction
JURISDICTION_HONG_KONG: Jurisdiction
JURISDICTION_MACAO: Jurisdiction
CITY_UNSPECIFIED: City
CITY_GUANGZHOU: City
CITY_SHENZHEN: City
CITY_ZHUHAI: City
CITY_FOSHAN: City
CITY_HUIZHOU: City
CITY_DONGGUAN: City
CITY_ZHONGSHAN: City
CITY_JIANGMEN: City
CITY_ZHAOQING: City
CITY_HONG_KONG: City
CITY_MACAO: City
OWNER_CLASS_UNSPECIFIED: OwnerClass
OWNER_CLASS_GOVERNMENT: OwnerClass
OWNER_CLASS_ENTERPRISE: OwnerClass
OWNER_CLASS_RESEARCH: OwnerClass
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_UP: NodeState
NODE_STATE_CORDONED: NodeState
NODE_STATE_DRAINING: NodeState
NODE_STATE_DOWN: NodeState
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_ADMITTED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_PREEMPTED: JobState
JOB_STATE_REJECTED: JobState
PRECISION_UNSPECIFIED: Precision
PRECISION_FP16: Precision
PRECISION_FP32: Precision
PRECISION_INT8: Precision
TENANT_FLAG_UNSPECIFIED: TenantFlag
TENANT_FLAG_STARTUP: TenantFlag
TENANT_FLAG_SME: TenantFlag
TENANT_FLAG_RESEARCH: TenantFlag
TENANT_FLAG_PUBLIC_SECTOR: TenantFlag

class Money(_message.Message):
    __slots__ = ("currency", "minor")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    MINOR_FIELD_NUMBER: _ClassVar[int]
    currency: Currency
    minor: int
    def __init__(self, currency: _Optional[_Union[Currency, str]] = ..., minor: _Optional[int] = ...) -> None: ...

class WorkerPlacement(_message.Message):
    __slots__ = ("node", "accelerators")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    node: str
    accelerators: int
    def __init__(self, node: _Optional[str] = ..., accelerators: _Optional[int] = ...) -> None: ...

class Placement(_message.Message):
    __slots__ = ("model", "zone", "workers", "approval")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    model: str
    zone: Jurisdiction
    workers: _containers.RepeatedCompositeFieldContainer[WorkerPlacement]
    approval: str
    def __init__(self, model: _Optional[str] = ..., zone: _Optional[_Union[Jurisdiction, str]] = ..., workers: _Optional[_Iterable[_Union[WorkerPlacement, _Mapping]]] = ..., approval: _Optional[str] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("id", "tenant", "from_zone", "to_zone", "expires_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    FROM_ZONE_FIELD_NUMBER: _ClassVar[int]
    TO_ZONE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant: str
    from_zone: Jurisdiction
    to_zone: Jurisdiction
    expires_at: int
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., from_zone: _Optional[_Union[Jurisdiction, str]] = ..., to_zone: _Optional[_Union[Jurisdiction, str]] = ..., expires_at: _Optional[int] = ...) -> None: ...
