"""The API's protos and their generated code: the checked-in code is what the codegen command
makes of the protos today, and the protos keep the rules every version follows (enum zero
values, prefixed enum values, a comment on everything, the services and methods clients use)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FileDescriptor
from grpc_tools import protoc

from scheduler.api import codegen
from scheduler.api.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    scheduler_pb2,
    scheduler_pb2_grpc,
)

FILES: tuple[FileDescriptor, ...] = (
    common_pb2.DESCRIPTOR,
    scheduler_pb2.DESCRIPTOR,
    admin_pb2.DESCRIPTOR,
)

REGENERATE = (
    f"the generated code in {codegen.OUT_DIR}/ is out of date with "
    f"{codegen.PROTO_ROOT}/{codegen.PROTO_PACKAGE_DIR}/: run `{codegen.COMMAND}` from the "
    "repository root and commit the result"
)


def generated_files(directory: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if path.name.endswith(codegen.GENERATED_SUFFIXES)
    }


# ---------------------------------------------------------------------- drift


def test_checked_in_code_is_what_the_codegen_command_makes(tmp_path: Path) -> None:
    codegen.generate(tmp_path)
    fresh = generated_files(tmp_path)
    checked_in = generated_files(codegen.ROOT / codegen.OUT_DIR)
    missing = sorted(fresh.keys() - checked_in.keys())
    stale = sorted(checked_in.keys() - fresh.keys())
    differ = sorted(
        name for name in fresh.keys() & checked_in.keys() if fresh[name] != checked_in[name]
    )
    problems = [
        *(f"missing: {name}" for name in missing),
        *(f"no longer generated: {name}" for name in stale),
        *(f"differs: {name}" for name in differ),
    ]
    assert not problems, f"{REGENERATE} ({'; '.join(problems)})"


def test_the_codegen_command_writes_the_same_bytes_every_time(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    codegen.generate(first)
    codegen.generate(second)
    assert generated_files(first) == generated_files(second)
    assert len(generated_files(first)) == 3 * len(codegen.proto_files())


def test_the_codegen_command_removes_what_no_proto_generates(tmp_path: Path) -> None:
    (tmp_path / "gone_pb2.py").write_text("# from a proto that was deleted\n")
    (tmp_path / "keep.py").write_text("# not generated: left alone\n")
    codegen.generate(tmp_path)
    assert not (tmp_path / "gone_pb2.py").exists()
    assert (tmp_path / "keep.py").exists()


IMPORTABLE = {"google", "grpc", "warnings", "collections", "typing"}
"""What generated code may import besides its own siblings in scheduler.api.v1."""


def test_generated_code_imports_its_siblings_and_the_grpc_runtime_only() -> None:
    for name, text in generated_files(codegen.ROOT / codegen.OUT_DIR).items():
        source = text.decode("utf-8")
        imported = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, re.MULTILINE)
        assert imported, name
        for module in imported:
            if module.split(".")[0] == "scheduler":
                assert module == "scheduler.api.v1", f"{name} imports {module}"
            else:
                assert module.split(".")[0] in IMPORTABLE, f"{name} imports {module}"
    assert scheduler_pb2.Job.__module__ == "scheduler.api.v1.scheduler_pb2"


def test_a_rewrite_the_codegen_does_not_know_stops_it() -> None:
    with pytest.raises(codegen.CodegenError, match="not rewritten"):
        codegen.rewrite("import gba.scheduler.v1.common_pb2\n")


# ---------------------------------------------------------------------- enums


def all_enums() -> list[EnumDescriptor]:
    enums: list[EnumDescriptor] = []

    def visit(messages: list[Descriptor]) -> None:
        for message in messages:
            enums.extend(message.enum_types)
            visit(list(message.nested_types))

    for file in FILES:
        enums.extend(file.enum_types_by_name.values())
        visit(list(file.message_types_by_name.values()))
    return enums


def upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def test_there_are_enums_to_check() -> None:
    names = {enum.name for enum in all_enums()}
    assert {"Currency", "Jurisdiction", "City", "JobState", "NodeState"} <= names


@pytest.mark.parametrize("enum", all_enums(), ids=lambda enum: enum.full_name)
def test_every_enum_starts_with_its_unspecified_zero_value(enum: EnumDescriptor) -> None:
    prefix = upper_snake(enum.name)
    zero = enum.values_by_number[0]
    assert zero.name.endswith("_UNSPECIFIED")
    assert zero.name == f"{prefix}_UNSPECIFIED"
    assert enum.values[0].number == 0, "the zero value comes first"
    for value in enum.values:
        assert value.name.startswith(prefix + "_"), f"{value.name} lacks the prefix {prefix}_"


# ---------------------------------------------------------------------- comments


def source_info(tmp_path: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    """The protos as protoc parses them, with their comments."""
    out = tmp_path / "api.binpb"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"--proto_path={codegen.ROOT / codegen.PROTO_ROOT}",
            f"--proto_path={resources.files('grpc_tools') / '_proto'}",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *(str(path) for path in codegen.proto_files()),
        ]
    )
    assert status == 0
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return list(descriptor_set.file)


def undocumented(file: descriptor_pb2.FileDescriptorProto) -> list[str]:
    """Every service, method, message, field, enum and enum value without a leading comment."""
    documented = {
        tuple(location.path)
        for location in file.source_code_info.location
        if location.leading_comments.strip()
    }
    missing: list[str] = []

    def need(path: tuple[int, ...], name: str) -> None:
        if path not in documented:
            missing.append(name)

    def enum(path: tuple[int, ...], proto: descriptor_pb2.EnumDescriptorProto, scope: str) -> None:
        need(path, f"{scope}{proto.name}")
        for i, value in enumerate(proto.value):
            need((*path, 2, i), f"{scope}{proto.name}.{value.name}")

    def message(path: tuple[int, ...], proto: descriptor_pb2.DescriptorProto, scope: str) -> None:
        name = f"{scope}{proto.name}"
        need(path, name)
        for i, field in enumerate(proto.field):
            need((*path, 2, i), f"{name}.{field.name}")
        for i, nested in enumerate(proto.nested_type):
            if not nested.options.map_entry:
                message((*path, 3, i), nested, f"{name}.")
        for i, nested_enum in enumerate(proto.enum_type):
            enum((*path, 4, i), nested_enum, f"{name}.")

    for i, proto in enumerate(file.message_type):
        message((4, i), proto, "")
    for i, proto in enumerate(file.enum_type):
        enum((5, i), proto, "")
    for i, service in enumerate(file.service):
        need((6, i), service.name)
        for j, method in enumerate(service.method):
            need((6, i, 2, j), f"{service.name}.{method.name}")
    return missing


def test_every_service_method_message_field_and_enum_value_has_a_comment(tmp_path: Path) -> None:
    files = source_info(tmp_path)
    assert {file.name for file in files} == {
        f"{codegen.PROTO_PACKAGE_DIR}/{name}"
        for name in ("common.proto", "scheduler.proto", "admin.proto")
    }
    for file in files:
        assert file.package == "gba.scheduler.v1"
        assert file.syntax == "proto3"
        assert undocumented(file) == [], f"{file.name}: add a comment above each of these"


# ---------------------------------------------------------------------- services

SERVICES = {
    "Scheduler": {
        "SubmitJob": False,
        "SubmitJobs": False,
        "GetJob": False,
        "ListJobs": False,
        "CancelJob": False,
        "WatchEvents": True,
    },
    "Admin": {
        "GetPool": False,
        "GetCapacity": False,
        "ListNodes": False,
        "RegisterNode": False,
        "SetNodeState": False,
        "RemoveNode": False,
        "ListTenants": False,
        "PutTenant": False,
        "ListPrograms": False,
        "PutProgram": False,
        "ListApprovals": False,
        "PutApproval": False,
        "GetUsageReport": False,
        "ExportEvidence": True,
        "ListAudit": False,
    },
}
"""Every service and method, with whether the server streams its answer."""


def test_every_service_and_method_exists_with_its_streaming() -> None:
    found: dict[str, dict[str, bool]] = {}
    for file in FILES:
        for service in file.services_by_name.values():
            assert service.full_name == f"gba.scheduler.v1.{service.name}"
            found[service.name] = {}
            for method in service.methods:
                assert not method.client_streaming, method.full_name
                found[service.name][method.name] = method.server_streaming
    assert found == SERVICES


class RecordingChannel:
    """Enough of a grpc.Channel for a generated stub to say which calls it makes."""

    def __init__(self) -> None:
        self.calls: dict[str, bool] = {}

    def unary_unary(self, path: str, **_: object) -> object:
        self.calls[path] = False
        return object()

    def unary_stream(self, path: str, **_: object) -> object:
        self.calls[path] = True
        return object()


@pytest.mark.parametrize(
    ("module", "service"), [(scheduler_pb2_grpc, "Scheduler"), (admin_pb2_grpc, "Admin")]
)
def test_the_generated_grpc_module_has_a_stub_and_a_servicer_with_every_method(
    module: object, service: str
) -> None:
    channel = RecordingChannel()
    getattr(module, f"{service}Stub")(channel)
    assert channel.calls == {
        f"/gba.scheduler.v1.{service}/{method}": streams
        for method, streams in SERVICES[service].items()
    }
    servicer = getattr(module, f"{service}Servicer")
    for method in SERVICES[service]:
        assert callable(getattr(servicer, method)), method
    assert callable(getattr(module, f"add_{service}Servicer_to_server"))


def test_the_messages_speak_the_domain_and_keep_presence_where_absent_means_something() -> None:
    spec = scheduler_pb2.JobSpec(workers=2, per_worker=8, models=["ascend-910b"], walltime_s=3600)
    assert not spec.HasField("preemptible"), "absent preemptible means true, as in the domain"
    assert not spec.HasField("min_tflops_fp16")
    job = scheduler_pb2.Job(id="j-1", state=common_pb2.JOB_STATE_QUEUED)
    assert not job.HasField("placement") and not job.HasField("started_at")
    tenant = admin_pb2.Tenant(id="pcl")
    assert not tenant.HasField("quotas"), "absent quotas: not quota-limited"
    tenant.quotas.SetInParent()
    assert tenant.HasField("quotas"), "present but empty: nothing usable"
    money = common_pb2.Money(currency=common_pb2.CURRENCY_HKD, minor=-1)
    assert money.minor == -1
    assert scheduler_pb2.Job.FromString(job.SerializeToString()) == job
