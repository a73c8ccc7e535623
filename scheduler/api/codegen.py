"""Generate the API's Python code from the protos: `python -m scheduler.api.codegen`.

Reads `proto/gba/scheduler/v1/*.proto` (package `gba.scheduler.v1`) and writes, for each file,
`scheduler/api/v1/<name>_pb2.py` (messages), `<name>_pb2.pyi` (typed stubs, protoc's
`--pyi_out`) and `<name>_pb2_grpc.py` (service stubs and servicers), with the protoc that
grpcio-tools bundles; stale generated files are removed. The output depends only on the protos
and the grpcio-tools version (pinned in pyproject.toml): running it twice writes the same bytes,
and `tests/unit/test_proto_drift.py` fails when the checked-in files differ from a fresh run.

protoc names a generated module after the proto's path, so it emits
`from gba.scheduler.v1 import common_pb2` and registers classes under the module
`gba.scheduler.v1.common_pb2`. The protos keep their versioned path (it is the wire name and
what reflection shows), and the generated text is post-processed instead, line by line and
deterministically: `from gba.scheduler.v1 import` becomes `from scheduler.api.v1 import`, the
module names `'gba.scheduler.v1.X_pb2'` become `'scheduler.api.v1.X_pb2'`, and the path in
grpc's version-check message follows. Nothing else is touched (descriptors, wire names and
comments keep `gba.scheduler.v1`), and an import of `gba…` the rewrite does not know stops the
run.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (this file is `scheduler/api/codegen.py`)."""

PROTO_ROOT = "proto"
"""The proto include root, relative to the repository root."""

PROTO_PACKAGE_DIR = "gba/scheduler/v1"
"""Where the protos of this API version live under `PROTO_ROOT` (package `gba.scheduler.v1`)."""

OUT_DIR = "scheduler/api/v1"
"""Where the generated modules go, relative to the repository root."""

COMMAND = "python -m scheduler.api.codegen"
"""The command that regenerates the checked-in code, run from the repository root."""

GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")

_PROTO_MODULE = "gba.scheduler.v1"
_PY_MODULE = "scheduler.api.v1"
_IMPORT = re.compile(r"^from gba\.scheduler\.v1 import ", re.MULTILINE)
_MODULE_NAME = re.compile(r"'gba\.scheduler\.v1\.(\w+_pb2)'")
_GRPC_PATH = re.compile(r"generated code in gba/scheduler/v1/")
_LEFTOVER = re.compile(r"^\s*(from|import)\s+gba\b", re.MULTILINE)


class CodegenError(Exception):
    """protoc failed, or its output has a shape the rewrite does not know."""


def proto_files(root: Path = ROOT) -> list[Path]:
    """The API's proto files, sorted by name."""
    directory = root / PROTO_ROOT / PROTO_PACKAGE_DIR
    files = sorted(directory.glob("*.proto"))
    if not files:
        raise CodegenError(f"no .proto files in {directory}")
    return files


def rewrite(text: str) -> str:
    """Point protoc's `gba.scheduler.v1` imports and module names at `scheduler.api.v1`."""
    text = _IMPORT.sub(f"from {_PY_MODULE} import ", text)
    text = _MODULE_NAME.sub(lambda m: f"'{_PY_MODULE}.{m.group(1)}'", text)
    text = _GRPC_PATH.sub(f"generated code in {OUT_DIR}/", text)
    leftover = _LEFTOVER.search(text)
    if leftover is not None:
        line = text[leftover.start() :].splitlines()[0]
        raise CodegenError(f"generated code imports {_PROTO_MODULE} in a way not rewritten: {line}")
    return text


def generate(out_dir: Path, root: Path = ROOT) -> list[Path]:
    """Generate into `out_dir` (created if missing), remove stale generated files there, and
    return the written files, sorted. Only `*_pb2.py`, `*_pb2.pyi` and `*_pb2_grpc.py` in
    `out_dir` are ever written or removed."""
    from grpc_tools import protoc  # a development dependency: not needed to run the scheduler

    include = resources.files("grpc_tools") / "_proto"  # google/protobuf/*.proto
    protos = proto_files(root)
    with tempfile.TemporaryDirectory(prefix="gba-codegen-") as tmp:
        args = [
            "grpc_tools.protoc",
            f"--proto_path={root / PROTO_ROOT}",
            f"--proto_path={include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(path) for path in protos),
        ]
        status = protoc.main(args)
        if status != 0:
            raise CodegenError(f"protoc failed with status {status} (its message is above)")
        produced = sorted((Path(tmp) / PROTO_PACKAGE_DIR).iterdir())
        expected = {proto.stem + suffix for proto in protos for suffix in GENERATED_SUFFIXES}
        names = {path.name for path in produced}
        if names != expected:
            raise CodegenError(f"protoc produced {sorted(names)}, expected {sorted(expected)}")
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in sorted(out_dir.iterdir()):
            if stale.name.endswith(GENERATED_SUFFIXES) and stale.name not in expected:
                stale.unlink()
        written: list[Path] = []
        for path in produced:
            target = out_dir / path.name
            text = rewrite(path.read_text(encoding="utf-8"))
            target.write_bytes(text.encode("utf-8"))
            written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description=f"Generate {OUT_DIR}/ from {PROTO_ROOT}/{PROTO_PACKAGE_DIR}/*.proto.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / OUT_DIR,
        help=f"where to write (default: {OUT_DIR} in the repository)",
    )
    options = parser.parse_args(argv)
    try:
        written = generate(options.out)
    except CodegenError as error:
        print(f"codegen: error: {error}", file=sys.stderr)
        return 1
    for path in written:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
