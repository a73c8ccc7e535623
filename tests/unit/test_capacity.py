"""Capacity report on a small hand-built pool: exact integers, every slice present."""

from __future__ import annotations

import json

import pytest

from scheduler.domain.accelerators import AcceleratorModel, Catalogue, Precision
from scheduler.domain.capacity import Breakdown, CapacityReport, capacity_report
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState, Owner, OwnerClass
from scheduler.domain.pool import Pool
from scheduler.domain.tenants import PriorityClass, Tenant

NPU = AcceleratorModel(
    "npu", "Huawei", domestic=True, tflops_fp16=320, memory_gib=64, tops_int8=640
)
GPU = AcceleratorModel(
    "gpu", "NVIDIA", domestic=False, tflops_fp16=989, memory_gib=80, tflops_fp32=67
)
OWNERS = {
    "sz-gov": Owner("sz-gov", "Shenzhen centre", OwnerClass.GOVERNMENT, Currency.CNY),
    "hk-lab": Owner("hk-lab", "Hong Kong lab", OwnerClass.RESEARCH, Currency.HKD),
    "mo-cloud": Owner("mo-cloud", "Macao cloud", OwnerClass.ENTERPRISE, Currency.MOP),
}


def node(node_id: str, owner: str, city: City, model: str, size: int, state: NodeState) -> Node:
    o = OWNERS[owner]
    return Node(node_id, owner, o.owner_class, city, model, size, Money(o.currency, 100), state)


def small_pool() -> Pool:
    return Pool.build(
        name="small",
        catalogue=Catalogue([GPU, NPU]),
        owners=OWNERS.values(),
        nodes=[
            node("a", "sz-gov", City.SHENZHEN, "npu", 8, NodeState.UP),
            node("b", "sz-gov", City.SHENZHEN, "npu", 8, NodeState.UP),
            node("c", "sz-gov", City.GUANGZHOU, "gpu", 4, NodeState.CORDONED),
            node("d", "hk-lab", City.HONG_KONG, "gpu", 8, NodeState.UP),
            node("e", "mo-cloud", City.MACAO, "npu", 16, NodeState.DOWN),
        ],
        tenants=[Tenant("t", "t")],
        priority_classes=[PriorityClass("standard", 500)],
    )


@pytest.fixture(scope="module")
def report() -> CapacityReport:
    return capacity_report(small_pool())


def test_totals_count_every_node_and_schedulable_only_up_ones(report: CapacityReport) -> None:
    assert (report.nodes, report.accelerators) == (5, 44)
    assert (report.schedulable_nodes, report.schedulable_accelerators) == (3, 24)


def test_each_precision_sums_only_the_models_that_publish_it(report: CapacityReport) -> None:
    # fp16: 32 npu × 320 + 12 gpu × 989; fp32 only gpu; int8 only npu
    assert report.tflops == {Precision.FP16: 22108, Precision.FP32: 804, Precision.INT8: 20480}
    assert report.counted_accelerators == {
        Precision.FP16: 44,
        Precision.FP32: 12,
        Precision.INT8: 32,
    }


def test_domestic_capacity(report: CapacityReport) -> None:
    assert report.domestic_accelerators == 32
    assert report.domestic_tflops_fp16 == 10240


@pytest.mark.parametrize(
    ("breakdown", "key", "expected"),
    [
        ("by_city", City.SHENZHEN, Breakdown(2, 16, 5120, 16)),
        ("by_city", City.GUANGZHOU, Breakdown(1, 4, 3956, 0)),
        ("by_city", City.HONG_KONG, Breakdown(1, 8, 7912, 0)),
        ("by_city", City.MACAO, Breakdown(1, 16, 5120, 16)),
        ("by_city", City.ZHAOQING, Breakdown(0, 0, 0, 0)),
        ("by_owner_class", OwnerClass.GOVERNMENT, Breakdown(3, 20, 9076, 16)),
        ("by_owner_class", OwnerClass.RESEARCH, Breakdown(1, 8, 7912, 0)),
        ("by_owner_class", OwnerClass.ENTERPRISE, Breakdown(1, 16, 5120, 16)),
        ("by_jurisdiction", Jurisdiction.MAINLAND, Breakdown(3, 20, 9076, 16)),
        ("by_jurisdiction", Jurisdiction.HONG_KONG, Breakdown(1, 8, 7912, 0)),
        ("by_jurisdiction", Jurisdiction.MACAO, Breakdown(1, 16, 5120, 16)),
        ("by_model", "npu", Breakdown(3, 32, 10240, 32)),
        ("by_model", "gpu", Breakdown(2, 12, 11868, 0)),
    ],
)
def test_breakdowns(
    report: CapacityReport, breakdown: str, key: object, expected: Breakdown
) -> None:
    assert getattr(report, breakdown)[key] == expected


def test_every_city_class_and_zone_appears_even_when_empty(report: CapacityReport) -> None:
    assert list(report.by_city) == list(City)
    assert list(report.by_owner_class) == list(OwnerClass)
    assert list(report.by_jurisdiction) == list(Jurisdiction)
    assert list(report.by_model) == ["gpu", "npu"]
    assert sum(b.accelerators for b in report.by_city.values()) == report.accelerators


def test_json_has_the_headline_figures(report: CapacityReport) -> None:
    out = report.to_json()
    assert out["nodes"] == 5
    assert out["accelerators"] == 44
    assert out["pflops_fp16"] == 22.108
    assert out["pflops_fp32"] == 0.804
    assert out["pops_int8"] == 20.48
    assert out["eflops_fp16"] == 0.022108
    assert out["domestic_share"] == 0.7273  # 32 / 44
    assert out["domestic_share_tflops"] == 0.4632  # 10240 / 22108
    assert out["targets"] == {
        "guangdong-2025": {"year": 2025, "eflops_fp16": 40, "fraction": 0.000553},
        "guangdong-2027": {"year": 2027, "eflops_fp16": 60, "fraction": 0.000368},
    }


def test_json_breakdowns_are_keyed_by_name(report: CapacityReport) -> None:
    out = json.loads(json.dumps(report.to_json()))
    by_city = out["by_city"]
    assert set(by_city) == {c.value for c in City}
    assert by_city["macao"] == {
        "jurisdiction": "macao",
        "nodes": 1,
        "accelerators": 16,
        "tflops_fp16": 5120,
        "pflops_fp16": 5.12,
        "domestic_accelerators": 16,
        "domestic_share": 1.0,
    }
    assert by_city["zhaoqing"]["domestic_share"] == 0.0
    by_model = out["by_model"]
    assert by_model["gpu"]["vendor"] == "NVIDIA"
    assert by_model["gpu"]["domestic"] is False
    assert set(out["by_owner_class"]) == {"government", "enterprise", "research"}
    assert set(out["by_jurisdiction"]) == {"mainland", "hong-kong", "macao"}
