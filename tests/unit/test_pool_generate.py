"""The pool generator: deterministic, loads back, keeps the sample's mix at any size."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import pytest

from scheduler.config import toml_writer
from scheduler.config.generate import generate_pool_toml
from scheduler.config.pool_toml import load_pool, parse_pool
from scheduler.domain.capacity import CapacityReport, capacity_report
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City
from scheduler.domain.pool import Pool

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "pools" / "gba-sample.toml"


@cache
def sample() -> Pool:
    return load_pool(SAMPLE)


@cache
def generated(accelerators: int, seed: int) -> Pool:
    text = generate_pool_toml(accelerators, seed, template=sample())
    return parse_pool(tomllib.loads(text), f"generated-{accelerators}-{seed}.toml")


def shares(report: CapacityReport, attribute: str) -> dict[object, float]:
    slices = getattr(report, attribute)
    return {key: b.accelerators / report.accelerators for key, b in slices.items()}


def test_the_same_seed_gives_the_same_text() -> None:
    assert generate_pool_toml(5000, 7) == generate_pool_toml(5000, 7)


def test_another_seed_gives_another_pool() -> None:
    assert generate_pool_toml(5000, 7) != generate_pool_toml(5000, 8)


@pytest.mark.parametrize(
    ("requested", "accelerators"),
    [(8, 8), (15, 8), (100, 96), (1000, 1000), (4099, 4096)],
)
def test_accelerators_are_rounded_down_to_whole_eight_accelerator_nodes(
    requested: int, accelerators: int
) -> None:
    pool = generated(requested, 1)
    assert sum(n.accelerators for n in pool.nodes.values()) == accelerators
    assert {n.accelerators for n in pool.nodes.values()} == {8}


@pytest.mark.parametrize("too_few", [-8, 0, 7])
def test_fewer_than_one_node_is_refused(too_few: int) -> None:
    with pytest.raises(InvalidField, match="accelerators: must be at least 8"):
        generate_pool_toml(too_few, 1)


@pytest.mark.parametrize(
    ("attribute", "tolerance"),
    [("by_model", 0.05), ("by_city", 0.05), ("by_owner_class", 0.05), ("by_jurisdiction", 0.05)],
)
def test_a_large_pool_keeps_the_samples_mix(attribute: str, tolerance: float) -> None:
    big = capacity_report(generated(20_000, 3))
    small = capacity_report(sample())
    expected = shares(small, attribute)
    actual = shares(big, attribute)
    for key, share in expected.items():
        assert actual[key] == pytest.approx(share, abs=tolerance), key


def test_a_large_pool_keeps_the_domestic_share_and_price_levels() -> None:
    pool = generated(20_000, 3)
    big, small = capacity_report(pool), capacity_report(sample())
    assert abs(big.domestic_accelerators / big.accelerators - 0.5975) <= 0.10
    assert small.domestic_accelerators / small.accelerators == pytest.approx(0.5975, abs=1e-4)
    base_prices = {(n.owner, n.city, n.model): n.price.minor for n in sample().nodes.values()}
    for node in pool.nodes.values():
        base = base_prices[(node.owner, node.city, node.model)]
        assert abs(node.price.minor - base) <= base * 0.09 + 1, node.id


def test_a_large_pool_has_the_samples_tenants_with_scaled_quotas() -> None:
    pool = generated(63_600, 1)  # 100 × the sample's 636 accelerators
    assert pool.tenants.keys() == sample().tenants.keys()
    assert pool.priority_classes == sample().priority_classes
    assert pool.approvals == sample().approvals
    lab = pool.tenants["bay-natlab-fm"]
    quota = lab.quota("huawei-ascend-910b")
    assert quota is not None
    assert (quota.nominal, quota.borrowing_limit, quota.lending_limit) == (6400, 6400, 3200)
    assert pool.tenants["sz-gov-data"].quotas is None


def test_a_hundred_thousand_accelerators_make_a_gba_scale_pool() -> None:
    pool = generated(100_000, 1)
    report = capacity_report(pool)
    groups = {(n.owner, n.city, n.model, n.price) for n in pool.nodes.values()}
    eflops = report.tflops_fp16 / 1_000_000
    print(f"100k accelerators, seed 1: {report.nodes} nodes, {len(groups)} groups, {eflops} EFLOPS")
    assert report.nodes == 12_500
    assert report.accelerators == 100_000
    assert len(groups) <= 300
    assert 20 <= eflops <= 80
    assert {city for city, b in report.by_city.items() if b.accelerators} == set(City)


def test_the_default_template_is_the_sample() -> None:
    text = generate_pool_toml(800, 2)
    assert text == generate_pool_toml(800, 2, template=sample())


@pytest.mark.parametrize(
    "text",
    ["plain", 'quote " and \\ backslash', "tab\tnewline\nbell\x07 del\x7f", "粤港澳大湾区 — Macau"],
)
def test_any_string_survives_the_toml_emitter(text: str) -> None:
    line = f"{toml_writer.key(text)} = {toml_writer.value(text)}"
    assert tomllib.loads(line) == {text: text}
