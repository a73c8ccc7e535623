"""Accelerator models and the catalogue the pool configures (figures come from config, not code)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from scheduler.domain.errors import InvalidField, UnknownReference


class Precision(enum.StrEnum):
    FP16 = "fp16"  # dense fp16 / bf16
    FP32 = "fp32"
    INT8 = "int8"  # TOPS


@dataclass(frozen=True, slots=True)
class AcceleratorModel:
    """One accelerator model. Throughput: integer TFLOPS (TOPS for int8) per device, dense peak."""

    id: str
    vendor: str
    domestic: bool
    tflops_fp16: int
    memory_gib: int
    tflops_fp32: int | None = None
    tops_int8: int | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidField("id", "must not be empty")
        if self.tflops_fp16 <= 0:
            raise InvalidField(f"{self.id}.tflops_fp16", "must be a positive integer")
        if self.memory_gib <= 0:
            raise InvalidField(f"{self.id}.memory_gib", "must be a positive integer")
        for name in ("tflops_fp32", "tops_int8"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidField(f"{self.id}.{name}", "must be a positive integer when given")

    def tflops(self, precision: Precision) -> int | None:
        if precision is Precision.FP16:
            return self.tflops_fp16
        if precision is Precision.FP32:
            return self.tflops_fp32
        return self.tops_int8


class Catalogue(Mapping[str, AcceleratorModel]):
    """The accelerator models a pool knows, by id. Immutable."""

    __slots__ = ("_models",)

    def __init__(self, models: Iterable[AcceleratorModel]) -> None:
        table: dict[str, AcceleratorModel] = {}
        for model in models:
            if model.id in table:
                raise InvalidField(f"accelerators.{model.id}", "defined twice")
            table[model.id] = model
        self._models = table

    def __getitem__(self, model_id: str) -> AcceleratorModel:
        return self._models[model_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def require(self, model_id: str, field: str) -> AcceleratorModel:
        """The model, or an error naming `field` and the known models."""
        try:
            return self._models[model_id]
        except KeyError:
            known = ", ".join(sorted(self._models))
            raise UnknownReference(
                field, f"unknown accelerator {model_id!r}; known: {known}"
            ) from None

    def at_least(self, tflops_fp16: int) -> frozenset[str]:
        """Ids of the models with at least this fp16 throughput."""
        return frozenset(m.id for m in self._models.values() if m.tflops_fp16 >= tflops_fp16)
