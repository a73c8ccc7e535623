from scheduler.api.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageReportKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_REPORT_KIND_UNSPECIFIED: _ClassVar[UsageReportKind]
    USAGE_REPORT_KIND_PROGRAMS: _ClassVar[UsageReportKind]
    USAGE_REPORT_KIND_TENANTS: _ClassVar[UsageReportKind]
    USAGE_REPORT_KIND_OWNERS: _ClassVar[UsageReportKind]
USAGE_REPORT_KIND_UNSPECIFIED: UsageReportKind
USAGE_REPORT_KIND_PROGRAMS: UsageReportKind
USAGE_REPORT_KIND_TENANTS: UsageReportKind
USAGE_REPORT_KIND_OWNERS: UsageReportKind

class AcceleratorModel(_message.Message):
    __slots__ = ("id", "vendor", "domestic", "tflops_fp16", "memory_gib", "tflops_fp32", "tops_int8")
    ID_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_FIELD_NUMBER: _ClassVar[int]
    TFLOPS_FP16_FIELD_NUMBER: _ClassVar[int]
    MEMORY_GIB_FIELD_NUMBER: _ClassVar[int]
    TFLOPS_FP32_FIELD_NUMBER: _ClassVar[int]
    TOPS_INT8_FIELD_NUMBER: _ClassVar[int]
    id: str
    vendor: str
    domestic: bool
    tflops_fp16: int
    memory_gib: int
    tflops_fp32: int
    tops_int8: int
    def __init__(self, id: _Optional[str] = ..., vendor: _Optional[str] = ..., domestic: _Optional[bool] = ..., tflops_fp16: _Optional[int] = ..., memory_gib: _Optional[int] = ..., tflops_fp32: _Optional[int] = ..., tops_int8: _Optional[int] = ...) -> None: ...

class Owner(_message.Message):
    __slots__ = ("id", "name", "owner_class", "currency")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_CLASS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    owner_class: _common_pb2.OwnerClass
    currency: _common_pb2.Currency
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., owner_class: _Optional[_Union[_common_pb2.OwnerClass, str]] = ..., currency: _Optional[_Union[_common_pb2.Currency, str]] = ...) -> None: ...

class PriorityClass(_message.Message):
    __slots__ = ("name", "value", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: int
    description: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("id", "owner", "owner_class", "city", "jurisdiction", "model", "accelerators", "price", "state", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    OWNER_CLASS_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    owner_class: _common_pb2.OwnerClass
    city: _common_pb2.City
    jurisdiction: _common_pb2.Jurisdiction
    model: str
    accelerators: int
    price: _common_pb2.Money
    state: _common_pb2.NodeState
    labels: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ..., owner_class: _Optional[_Union[_common_pb2.OwnerClass, str]] = ..., city: _Optional[_Union[_common_pb2.City, str]] = ..., jurisdiction: _Optional[_Union[_common_pb2.Jurisdiction, str]] = ..., model: _Optional[str] = ..., accelerators: _Optional[int] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.NodeState, str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetPoolRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPoolResponse(_message.Message):
    __slots__ = ("name", "catalogue", "owners", "priority_classes", "default_priority_class", "policy", "fair_share_half_life_s", "nodes", "tenants")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CATALOGUE_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_CLASSES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PRIORITY_CLASS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    FAIR_SHARE_HALF_LIFE_S_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    catalogue: _containers.RepeatedCompositeFieldContainer[AcceleratorModel]
    owners: _containers.RepeatedCompositeFieldContainer[Owner]
    priority_classes: _containers.RepeatedCompositeFieldContainer[PriorityClass]
    default_priority_class: str
    policy: str
    fair_share_half_life_s: int
    nodes: int
    tenants: int
    def __init__(self, name: _Optional[str] = ..., catalogue: _Optional[_Iterable[_Union[AcceleratorModel, _Mapping]]] = ..., owners: _Optional[_Iterable[_Union[Owner, _Mapping]]] = ..., priority_classes: _Optional[_Iterable[_Union[PriorityClass, _Mapping]]] = ..., default_priority_class: _Optional[str] = ..., policy: _Optional[str] = ..., fair_share_half_life_s: _Optional[int] = ..., nodes: _Optional[int] = ..., tenants: _Optional[int] = ...) -> None: ...

class GetCapacityRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PrecisionTotal(_message.Message):
    __slots__ = ("precision", "tflops", "counted_accelerators")
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    TFLOPS_FIELD_NUMBER: _ClassVar[int]
    COUNTED_ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    precision: _common_pb2.Precision
    tflops: int
    counted_accelerators: int
    def __init__(self, precision: _Optional[_Union[_common_pb2.Precision, str]] = ..., tflops: _Optional[int] = ..., counted_accelerators: _Optional[int] = ...) -> None: ...

class Breakdown(_message.Message):
    __slots__ = ("nodes", "accelerators", "tflops_fp16", "domestic_accelerators", "domestic_share_bp")
    NODES_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    TFLOPS_FP16_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_SHARE_BP_FIELD_NUMBER: _ClassVar[int]
    nodes: int
    accelerators: int
    tflops_fp16: int
    domestic_accelerators: int
    domestic_share_bp: int
    def __init__(self, nodes: _Optional[int] = ..., accelerators: _Optional[int] = ..., tflops_fp16: _Optional[int] = ..., domestic_accelerators: _Optional[int] = ..., domestic_share_bp: _Optional[int] = ...) -> None: ...

class CityCapacity(_message.Message):
    __slots__ = ("city", "jurisdiction", "capacity")
    CITY_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    city: _common_pb2.City
    jurisdiction: _common_pb2.Jurisdiction
    capacity: Breakdown
    def __init__(self, city: _Optional[_Union[_common_pb2.City, str]] = ..., jurisdiction: _Optional[_Union[_common_pb2.Jurisdiction, str]] = ..., capacity: _Optional[_Union[Breakdown, _Mapping]] = ...) -> None: ...

class OwnerClassCapacity(_message.Message):
    __slots__ = ("owner_class", "capacity")
    OWNER_CLASS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    owner_class: _common_pb2.OwnerClass
    capacity: Breakdown
    def __init__(self, owner_class: _Optional[_Union[_common_pb2.OwnerClass, str]] = ..., capacity: _Optional[_Union[Breakdown, _Mapping]] = ...) -> None: ...

class JurisdictionCapacity(_message.Message):
    __slots__ = ("jurisdiction", "capacity")
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: _common_pb2.Jurisdiction
    capacity: Breakdown
    def __init__(self, jurisdiction: _Optional[_Union[_common_pb2.Jurisdiction, str]] = ..., capacity: _Optional[_Union[Breakdown, _Mapping]] = ...) -> None: ...

class ModelCapacity(_message.Message):
    __slots__ = ("model", "vendor", "domestic", "capacity")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VENDOR_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    model: str
    vendor: str
    domestic: bool
    capacity: Breakdown
    def __init__(self, model: _Optional[str] = ..., vendor: _Optional[str] = ..., domestic: _Optional[bool] = ..., capacity: _Optional[_Union[Breakdown, _Mapping]] = ...) -> None: ...

class TargetProgress(_message.Message):
    __slots__ = ("name", "year", "eflops_fp16", "fraction_ppm")
    NAME_FIELD_NUMBER: _ClassVar[int]
    YEAR_FIELD_NUMBER: _ClassVar[int]
    EFLOPS_FP16_FIELD_NUMBER: _ClassVar[int]
    FRACTION_PPM_FIELD_NUMBER: _ClassVar[int]
    name: str
    year: int
    eflops_fp16: int
    fraction_ppm: int
    def __init__(self, name: _Optional[str] = ..., year: _Optional[int] = ..., eflops_fp16: _Optional[int] = ..., fraction_ppm: _Optional[int] = ...) -> None: ...

class GetCapacityResponse(_message.Message):
    __slots__ = ("pool", "nodes", "accelerators", "schedulable_nodes", "schedulable_accelerators", "totals", "domestic_accelerators", "domestic_tflops_fp16", "domestic_share_bp", "domestic_share_tflops_bp", "by_city", "by_owner_class", "by_jurisdiction", "by_model", "targets")
    POOL_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULABLE_NODES_FIELD_NUMBER: _ClassVar[int]
    SCHEDULABLE_ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_ACCELERATORS_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_TFLOPS_FP16_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_SHARE_BP_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_SHARE_TFLOPS_BP_FIELD_NUMBER: _ClassVar[int]
    BY_CITY_FIELD_NUMBER: _ClassVar[int]
    BY_OWNER_CLASS_FIELD_NUMBER: _ClassVar[int]
    BY_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    BY_MODEL_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    pool: str
    nodes: int
    accelerators: int
    schedulable_nodes: int
    schedulable_accelerators: int
    totals: _containers.RepeatedCompositeFieldContainer[PrecisionTotal]
    domestic_accelerators: int
    domestic_tflops_fp16: int
    domestic_share_bp: int
    domestic_share_tflops_bp: int
    by_city: _containers.RepeatedCompositeFieldContainer[CityCapacity]
    by_owner_class: _containers.RepeatedCompositeFieldContainer[OwnerClassCapacity]
    by_jurisdiction: _containers.RepeatedCompositeFieldContainer[JurisdictionCapacity]
    by_model: _containers.RepeatedCompositeFieldContainer[ModelCapacity]
    targets: _containers.RepeatedCompositeFieldContainer[TargetProgress]
    def __init__(self, pool: _Optional[str] = ..., nodes: _Optional[int] = ..., accelerators: _Optional[int] = ..., schedulable_nodes: _Optional[int] = ..., schedulable_accelerators: _Optional[int] = ..., totals: _Optional[_Iterable[_Union[PrecisionTotal, _Mapping]]] = ..., domestic_accelerators: _Optional[int] = ..., domestic_tflops_fp16: _Optional[int] = ..., domestic_share_bp: _Optional[int] = ..., domestic_share_tflops_bp: _Optional[int] = ..., by_city: _Optional[_Iterable[_Union[CityCapacity, _Mapping]]] = ..., by_owner_class: _Optional[_Iterable[_Union[OwnerClassCapacity, _Mapping]]] = ..., by_jurisdiction: _Optional[_Iterable[_Union[JurisdictionCapacity, _Mapping]]] = ..., by_model: _Optional[_Iterable[_Union[ModelCapacity, _Mapping]]] = ..., targets: _Optional[_Iterable[_Union[TargetProgress, _Mapping]]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("owner", "city", "model", "states", "page_size", "page_token")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    owner: str
    city: _common_pb2.City
    model: str
    states: _containers.RepeatedScalarFieldContainer[_common_pb2.NodeState]
    page_size: int
    page_token: str
    def __init__(self, owner: _Optional[str] = ..., city: _Optional[_Union[_common_pb2.City, str]] = ..., model: _Optional[str] = ..., states: _Optional[_Iterable[_Union[_common_pb2.NodeState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes", "next_page_token")
    NODES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    next_page_token: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RegisterNodeRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class RegisterNodeResponse(_message.Message):
    __slots__ = ("node", "created")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    node: Node
    created: bool
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class SetNodeStateRequest(_message.Message):
    __slots__ = ("node_id", "state")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    state: _common_pb2.NodeState
    def __init__(self, node_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.NodeState, str]] = ...) -> None: ...

class SetNodeStateResponse(_message.Message):
    __slots__ = ("node", "previous_state")
    NODE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    previous_state: _common_pb2.NodeState
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ..., previous_state: _Optional[_Union[_common_pb2.NodeState, str]] = ...) -> None: ...

class RemoveNodeRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class RemoveNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class FlavorQuota(_message.Message):
    __slots__ = ("model", "nominal", "borrowing_limit", "lending_limit")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NOMINAL_FIELD_NUMBER: _ClassVar[int]
    BORROWING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    LENDING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    model: str
    nominal: int
    borrowing_limit: int
    lending_limit: int
    def __init__(self, model: _Optional[str] = ..., nominal: _Optional[int] = ..., borrowing_limit: _Optional[int] = ..., lending_limit: _Optional[int] = ...) -> None: ...

class Quotas(_message.Message):
    __slots__ = ("flavors",)
    FLAVORS_FIELD_NUMBER: _ClassVar[int]
    flavors: _containers.RepeatedCompositeFieldContainer[FlavorQuota]
    def __init__(self, flavors: _Optional[_Iterable[_Union[FlavorQuota, _Mapping]]] = ...) -> None: ...

class Tenant(_message.Message):
    __slots__ = ("id", "name", "weight", "owner", "priority_classes", "flags", "cohort", "quotas")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_CLASSES_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    COHORT_FIELD_NUMBER: _ClassVar[int]
    QUOTAS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    weight: int
    owner: str
    priority_classes: _containers.RepeatedScalarFieldContainer[str]
    flags: _containers.RepeatedScalarFieldContainer[_common_pb2.TenantFlag]
    cohort: str
    quotas: Quotas
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., weight: _Optional[int] = ..., owner: _Optional[str] = ..., priority_classes: _Optional[_Iterable[str]] = ..., flags: _Optional[_Iterable[_Union[_common_pb2.TenantFlag, str]]] = ..., cohort: _Optional[str] = ..., quotas: _Optional[_Union[Quotas, _Mapping]] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ("tenants", "next_page_token")
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedCompositeFieldContainer[Tenant]
    next_page_token: str
    def __init__(self, tenants: _Optional[_Iterable[_Union[Tenant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PutTenantRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ...) -> None: ...

class PutTenantResponse(_message.Message):
    __slots__ = ("tenant", "created")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    tenant: Tenant
    created: bool
    def __init__(self, tenant: _Optional[_Union[Tenant, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class Rates(_message.Message):
    __slots__ = ("domestic_bp", "other_bp", "startup_domestic_bp", "startup_other_bp")
    DOMESTIC_BP_FIELD_NUMBER: _ClassVar[int]
    OTHER_BP_FIELD_NUMBER: _ClassVar[int]
    STARTUP_DOMESTIC_BP_FIELD_NUMBER: _ClassVar[int]
    STARTUP_OTHER_BP_FIELD_NUMBER: _ClassVar[int]
    domestic_bp: int
    other_bp: int
    startup_domestic_bp: int
    startup_other_bp: int
    def __init__(self, domestic_bp: _Optional[int] = ..., other_bp: _Optional[int] = ..., startup_domestic_bp: _Optional[int] = ..., startup_other_bp: _Optional[int] = ...) -> None: ...

class Program(_message.Message):
    __slots__ = ("id", "name", "sponsor", "currency", "budget", "valid_from", "valid_until", "rates", "eligible_tenants", "eligible_flags", "eligible_owners", "eligible_nodes", "tenant_cap", "cap_period_s", "stacking_group")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPONSOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RATES_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_TENANTS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FLAGS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_OWNERS_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_NODES_FIELD_NUMBER: _ClassVar[int]
    TENANT_CAP_FIELD_NUMBER: _ClassVar[int]
    CAP_PERIOD_S_FIELD_NUMBER: _ClassVar[int]
    STACKING_GROUP_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    sponsor: str
    currency: _common_pb2.Currency
    budget: int
    valid_from: int
    valid_until: int
    rates: Rates
    eligible_tenants: _containers.RepeatedScalarFieldContainer[str]
    eligible_flags: _containers.RepeatedScalarFieldContainer[_common_pb2.TenantFlag]
    eligible_owners: _containers.RepeatedScalarFieldContainer[str]
    eligible_nodes: _containers.RepeatedScalarFieldContainer[str]
    tenant_cap: int
    cap_period_s: int
    stacking_group: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., sponsor: _Optional[str] = ..., currency: _Optional[_Union[_common_pb2.Currency, str]] = ..., budget: _Optional[int] = ..., valid_from: _Optional[int] = ..., valid_until: _Optional[int] = ..., rates: _Optional[_Union[Rates, _Mapping]] = ..., eligible_tenants: _Optional[_Iterable[str]] = ..., eligible_flags: _Optional[_Iterable[_Union[_common_pb2.TenantFlag, str]]] = ..., eligible_owners: _Optional[_Iterable[str]] = ..., eligible_nodes: _Optional[_Iterable[str]] = ..., tenant_cap: _Optional[int] = ..., cap_period_s: _Optional[int] = ..., stacking_group: _Optional[str] = ...) -> None: ...

class ListProgramsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProgramsResponse(_message.Message):
    __slots__ = ("programs",)
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    programs: _containers.RepeatedCompositeFieldContainer[Program]
    def __init__(self, programs: _Optional[_Iterable[_Union[Program, _Mapping]]] = ...) -> None: ...

class PutProgramRequest(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: Program
    def __init__(self, program: _Optional[_Union[Program, _Mapping]] = ...) -> None: ...

class PutProgramResponse(_message.Message):
    __slots__ = ("program", "created")
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    program: Program
    created: bool
    def __init__(self, program: _Optional[_Union[Program, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListApprovalsRequest(_message.Message):
    __slots__ = ("tenant", "include_expired")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    include_expired: bool
    def __init__(self, tenant: _Optional[str] = ..., include_expired: _Optional[bool] = ...) -> None: ...

class ListApprovalsResponse(_message.Message):
    __slots__ = ("approvals",)
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[_common_pb2.Approval]
    def __init__(self, approvals: _Optional[_Iterable[_Union[_common_pb2.Approval, _Mapping]]] = ...) -> None: ...

class PutApprovalRequest(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: _common_pb2.Approval
    def __init__(self, approval: _Optional[_Union[_common_pb2.Approval, _Mapping]] = ...) -> None: ...

class PutApprovalResponse(_message.Message):
    __slots__ = ("approval", "created")
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    approval: _common_pb2.Approval
    created: bool
    def __init__(self, approval: _Optional[_Union[_common_pb2.Approval, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetUsageReportRequest(_message.Message):
    __slots__ = ("kinds",)
    KINDS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[UsageReportKind]
    def __init__(self, kinds: _Optional[_Iterable[_Union[UsageReportKind, str]]] = ...) -> None: ...

class ProgramReport(_message.Message):
    __slots__ = ("program", "currency", "budget", "reserved", "paid", "remaining", "tenants_served", "paid_domestic", "paid_other", "domestic_bp")
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    TENANTS_SERVED_FIELD_NUMBER: _ClassVar[int]
    PAID_DOMESTIC_FIELD_NUMBER: _ClassVar[int]
    PAID_OTHER_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_BP_FIELD_NUMBER: _ClassVar[int]
    program: str
    currency: _common_pb2.Currency
    budget: int
    reserved: int
    paid: int
    remaining: int
    tenants_served: _containers.RepeatedScalarFieldContainer[str]
    paid_domestic: int
    paid_other: int
    domestic_bp: int
    def __init__(self, program: _Optional[str] = ..., currency: _Optional[_Union[_common_pb2.Currency, str]] = ..., budget: _Optional[int] = ..., reserved: _Optional[int] = ..., paid: _Optional[int] = ..., remaining: _Optional[int] = ..., tenants_served: _Optional[_Iterable[str]] = ..., paid_domestic: _Optional[int] = ..., paid_other: _Optional[int] = ..., domestic_bp: _Optional[int] = ...) -> None: ...

class TenantReport(_message.Message):
    __slots__ = ("tenant", "currency", "deposited", "balance", "reserved", "spent", "subsidised", "attempts_settled", "accelerator_seconds")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    DEPOSITED_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    SUBSIDISED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_SETTLED_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_SECONDS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    currency: _common_pb2.Currency
    deposited: int
    balance: int
    reserved: int
    spent: int
    subsidised: int
    attempts_settled: int
    accelerator_seconds: int
    def __init__(self, tenant: _Optional[str] = ..., currency: _Optional[_Union[_common_pb2.Currency, str]] = ..., deposited: _Optional[int] = ..., balance: _Optional[int] = ..., reserved: _Optional[int] = ..., spent: _Optional[int] = ..., subsidised: _Optional[int] = ..., attempts_settled: _Optional[int] = ..., accelerator_seconds: _Optional[int] = ...) -> None: ...

class OwnerReport(_message.Message):
    __slots__ = ("owner", "currency", "receivable", "accelerator_seconds", "attempts_settled")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    RECEIVABLE_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_SETTLED_FIELD_NUMBER: _ClassVar[int]
    owner: str
    currency: _common_pb2.Currency
    receivable: int
    accelerator_seconds: int
    attempts_settled: int
    def __init__(self, owner: _Optional[str] = ..., currency: _Optional[_Union[_common_pb2.Currency, str]] = ..., receivable: _Optional[int] = ..., accelerator_seconds: _Optional[int] = ..., attempts_settled: _Optional[int] = ...) -> None: ...

class GetUsageReportResponse(_message.Message):
    __slots__ = ("programs", "tenants", "owners", "as_of_posting")
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_POSTING_FIELD_NUMBER: _ClassVar[int]
    programs: _containers.RepeatedCompositeFieldContainer[ProgramReport]
    tenants: _containers.RepeatedCompositeFieldContainer[TenantReport]
    owners: _containers.RepeatedCompositeFieldContainer[OwnerReport]
    as_of_posting: int
    def __init__(self, programs: _Optional[_Iterable[_Union[ProgramReport, _Mapping]]] = ..., tenants: _Optional[_Iterable[_Union[TenantReport, _Mapping]]] = ..., owners: _Optional[_Iterable[_Union[OwnerReport, _Mapping]]] = ..., as_of_posting: _Optional[int] = ...) -> None: ...

class ExportEvidenceRequest(_message.Message):
    __slots__ = ("after_posting", "program", "tenant", "supplier")
    AFTER_POSTING_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SUPPLIER_FIELD_NUMBER: _ClassVar[int]
    after_posting: int
    program: str
    tenant: str
    supplier: str
    def __init__(self, after_posting: _Optional[int] = ..., program: _Optional[str] = ..., tenant: _Optional[str] = ..., supplier: _Optional[str] = ...) -> None: ...

class ProgramShare(_message.Message):
    __slots__ = ("program", "amount")
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    program: str
    amount: int
    def __init__(self, program: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class EvidenceRow(_message.Message):
    __slots__ = ("posting", "settled_at", "job", "attempt", "tenant", "supplier", "nodes", "model", "domestic", "accelerator_seconds", "currency", "price", "cost", "shares", "copay")
    POSTING_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SUPPLIER_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DOMESTIC_FIELD_NUMBER: _ClassVar[int]
    ACCELERATOR_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    COPAY_FIELD_NUMBER: _ClassVar[int]
    posting: int
    settled_at: int
    job: str
    attempt: int
    tenant: str
    supplier: str
    nodes: _containers.RepeatedScalarFieldContainer[str]
    model: str
    domestic: bool
    accelerator_seconds: int
    currency: _common_pb2.Currency
    price: int
    cost: int
    shares: _containers.RepeatedCompositeFieldContainer[ProgramShare]
    copay: int
    def __init__(self, posting: _Optional[int] = ..., settled_at: _Optional[int] = ..., job: _Optional[str] = ..., attempt: _Optional[int] = ..., tenant: _Optional[str] = ..., supplier: _Optional[str] = ..., nodes: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., domestic: _Optional[bool] = ..., accelerator_seconds: _Optional[int] = ..., currency: _Optional[_Union[_common_pb2.Currency, str]] = ..., price: _Optional[int] = ..., cost: _Optional[int] = ..., shares: _Optional[_Iterable[_Union[ProgramShare, _Mapping]]] = ..., copay: _Optional[int] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ("after_seq", "action", "subject", "page_size", "page_token")
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    after_seq: int
    action: str
    subject: str
    page_size: int
    page_token: str
    def __init__(self, after_seq: _Optional[int] = ..., action: _Optional[str] = ..., subject: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("seq", "at", "actor", "action", "subject", "details")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: int
    actor: str
    action: str
    subject: str
    details: _struct_pb2.Struct
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[int] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., subject: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    next_page_token: str
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
