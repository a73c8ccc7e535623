"""Pool TOML: the sample pool, a minimal pool, and a table of bad files with their exact errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.config.errors import ConfigError
from scheduler.config.pool_toml import load_pool, parse_pool
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.money import Money
from scheduler.domain.nodes import NodeState, OwnerClass
from scheduler.domain.tenants import FlavorQuota, TenantFlag

SAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "pools" / "gba-sample.toml"

MINIMAL = """\
[pool]
name = "tiny"
default_priority_class = "standard"

[accelerators.npu]
vendor = "Huawei"
domestic = true
tflops_fp16 = 320
memory_gib = 64

[accelerators.gpu]
vendor = "NVIDIA"
domestic = false
tflops_fp16 = 989
tflops_fp32 = 67
memory_gib = 80

[owners.sz-gov]
name = "Shenzhen centre"
class = "government"
currency = "CNY"

[owners.hk-lab]
name = "Hong Kong lab"
class = "research"
currency = "HKD"

[[node_groups]]
owner = "sz-gov"
city = "shenzhen"
model = "npu"
accelerators_per_node = 8
count = 2
price_per_accel_hour = 1000
id_prefix = "sz-npu"

[[node_groups]]
owner = "hk-lab"
city = "hong-kong"
model = "gpu"
accelerators_per_node = 8
count = 1
price_per_accel_hour = 3200
id_prefix = "hk-gpu"
labels = { rack = "A3" }

[[nodes]]
id = "sz-spare"
owner = "sz-gov"
city = "shenzhen"
model = "gpu"
accelerators_per_node = 4
price_per_accel_hour = 2800
state = "cordoned"

[priority_classes.standard]
value = 500

[tenants.lab]
name = "Lab"
weight = 2
owner = "hk-lab"
flags = ["research"]
priority_classes = ["standard"]
cohort = "research"

[tenants.lab.quotas.npu]
nominal = 16
borrowing_limit = 8
lending_limit = 8

[tenants.open]
name = "Open"

[[approvals]]
id = "hk-to-mainland"
tenant = "lab"
from_zone = "hong-kong"
to_zone = "mainland"
expires_at = 2027-12-31T23:59:59+08:00
"""


def write(tmp_path: Path, text: str, name: str = "pool.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def variant(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


# ── the sample pool ──────────────────────────────────────────────────────────────────────────


def test_the_sample_pool_covers_the_whole_bay_area() -> None:
    pool = load_pool(SAMPLE)
    nodes = pool.nodes.values()
    models = {node.model for node in nodes}
    assert {node.city for node in nodes} == set(City)
    assert {node.owner_class for node in nodes} == set(OwnerClass)
    assert len(models) >= 6
    assert sum(pool.catalogue[m].domestic for m in models) >= 3
    assert len(pool.nodes) >= 40


def test_the_sample_pool_has_quota_limited_tenants_in_several_cohorts() -> None:
    pool = load_pool(SAMPLE)
    assert len(pool.tenants) >= 8
    assert sum(t.quotas is not None for t in pool.tenants.values()) >= 8
    assert len({t.cohort for t in pool.tenants.values() if t.cohort}) >= 2
    assert {TenantFlag.STARTUP, TenantFlag.SME, TenantFlag.RESEARCH} <= {
        flag for t in pool.tenants.values() for flag in t.flags
    }
    assert pool.approvals, "at least one cross-border approval"


def test_every_sample_node_bills_in_its_zones_currency() -> None:
    for node in load_pool(SAMPLE).nodes.values():
        assert node.price.currency is node.jurisdiction.currency, node.id


# ── what a valid file becomes ────────────────────────────────────────────────────────────────


def test_a_node_group_becomes_numbered_nodes_of_its_owner(tmp_path: Path) -> None:
    pool = load_pool(write(tmp_path, MINIMAL))
    assert sorted(pool.nodes) == ["hk-gpu-001", "sz-npu-001", "sz-npu-002", "sz-spare"]
    node = pool.nodes["sz-npu-002"]
    assert node.owner == "sz-gov"
    assert node.owner_class is OwnerClass.GOVERNMENT
    assert node.city is City.SHENZHEN
    assert node.accelerators == 8
    assert node.price == Money(Currency.CNY, 1000)
    assert node.state is NodeState.UP
    assert pool.nodes["hk-gpu-001"].price == Money(Currency.HKD, 3200)
    assert pool.nodes["hk-gpu-001"].labels == (("rack", "A3"),)
    assert pool.nodes["sz-spare"].state is NodeState.CORDONED


def test_tenants_quotas_and_approvals_are_read(tmp_path: Path) -> None:
    pool = load_pool(write(tmp_path, MINIMAL))
    lab = pool.tenants["lab"]
    assert lab.quotas == (FlavorQuota("npu", 16, borrowing_limit=8, lending_limit=8),)
    assert lab.weight == 2
    assert lab.flags == {TenantFlag.RESEARCH}
    assert lab.cohort == "research"
    assert lab.priority_classes == {"standard"}
    open_tenant = pool.tenants["open"]
    assert open_tenant.quotas is None, "no quotas table: not quota-limited"
    assert open_tenant.weight == 1
    approval = pool.approvals["hk-to-mainland"]
    assert (approval.from_zone, approval.to_zone) == (Jurisdiction.HONG_KONG, Jurisdiction.MAINLAND)
    assert approval.expires_at == 1830268799  # 2027-12-31T15:59:59Z
    assert pool.default_priority_class == "standard"


def test_policy_and_half_life_are_read(tmp_path: Path) -> None:
    header = 'name = "tiny"\npolicy = "backfill:cheapest"\nfair_share_half_life_s = 3600'
    text = variant('name = "tiny"', header)
    pool = load_pool(write(tmp_path, text))
    assert (pool.policy, pool.fair_share_half_life_s) == ("backfill:cheapest", 3600)
    assert (load_pool(write(tmp_path, MINIMAL)).policy, pool.fair_share_half_life_s) == ("", 3600)


def test_expiry_may_be_given_as_epoch_seconds(tmp_path: Path) -> None:
    text = variant("expires_at = 2027-12-31T23:59:59+08:00", "expires_at = 1830268799")
    assert load_pool(write(tmp_path, text)).approvals["hk-to-mainland"].expires_at == 1830268799


def test_parse_pool_names_the_given_source() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_pool({"pool": {"name": "x"}}, "inline")
    assert str(caught.value) == "inline: accelerators: missing required key"


# ── bad files: (what is wrong, the file, the key path, part of the message) ─────────────────

GROUP_1_OWNER = 'owner = "hk-lab"\ncity = "hong-kong"'
SECOND_NODE_NAMED_LIKE_A_GROUP_NODE = """
[[nodes]]
id = "sz-npu-002"
owner = "sz-gov"
city = "shenzhen"
model = "npu"
accelerators_per_node = 8
price_per_accel_hour = 1000
"""

BAD_FILES = [
    ("syntax error", variant('name = "tiny"', 'name = "tiny'), "", "line 2, column 13"),
    (
        "unknown policy",
        variant('name = "tiny"', 'name = "tiny"\npolicy = "backfill:cheapst"'),
        "pool.policy",
        "unknown placement strategy 'cheapst'",
    ),
    (
        "zero fair-share half-life",
        variant('name = "tiny"', 'name = "tiny"\nfair_share_half_life_s = 0'),
        "pool.fair_share_half_life_s",
        "must be a positive integer",
    ),
    (
        "unknown top-level key",
        MINIMAL + '\n[pools]\nname = "x"\n',
        "pools",
        "unknown key; accepted keys: pool, accelerators, owners, priority_classes",
    ),
    (
        "unknown key in a tenant",
        variant('name = "Open"', 'name = "Open"\ncolour = "red"'),
        "tenants.open.colour",
        "accepted keys: name, weight, owner, flags, priority_classes, cohort, quotas",
    ),
    ("missing key", variant('vendor = "Huawei"\n', ""), "accelerators.npu.vendor", "missing"),
    (
        "negative nominal",
        variant("nominal = 16", "nominal = -1"),
        "tenants.lab.quotas.npu.nominal",
        "must not be negative",
    ),
    (
        "lending limit above nominal",
        variant("lending_limit = 8", "lending_limit = 24"),
        "tenants.lab.quotas.npu.lending_limit",
        "between 0 and nominal",
    ),
    (
        "quota of an unknown accelerator",
        variant("[tenants.lab.quotas.npu]", "[tenants.lab.quotas.tpu]"),
        "tenants.lab.quotas.tpu",
        "unknown accelerator 'tpu'; known: gpu, npu",
    ),
    (
        "unknown accelerator in a node group",
        variant('model = "npu"', 'model = "tpu"'),
        "node_groups[0].model",
        "unknown accelerator 'tpu'",
    ),
    (
        "unknown city",
        variant('city = "shenzhen"', 'city = "shenzen"'),
        "node_groups[0].city",
        "unknown value 'shenzen'; expected one of: guangzhou",
    ),
    (
        "unknown owner",
        variant(GROUP_1_OWNER, 'owner = "hk-uni"\ncity = "hong-kong"'),
        "node_groups[1].owner",
        "unknown owner 'hk-uni'; known: hk-lab, sz-gov",
    ),
    (
        "price as a float",
        variant("price_per_accel_hour = 3200", "price_per_accel_hour = 32.00"),
        "node_groups[1].price_per_accel_hour",
        "must be an integer (minor units), got a float",
    ),
    (
        "price as a string",
        variant("price_per_accel_hour = 3200", 'price_per_accel_hour = "3200"'),
        "node_groups[1].price_per_accel_hour",
        "must be an integer (minor units), got a string",
    ),
    (
        "negative price",
        variant("price_per_accel_hour = 1000", "price_per_accel_hour = -1"),
        "node_groups[0].price_per_accel_hour",
        "must not be negative",
    ),
    (
        "zero count",
        variant("count = 2", "count = 0"),
        "node_groups[0].count",
        "must be a positive integer",
    ),
    (
        "zero accelerators per node",
        variant("accelerators_per_node = 8", "accelerators_per_node = 0"),
        "node_groups[0].accelerators_per_node",
        "must be a positive integer",
    ),
    (
        "duplicate node id",
        MINIMAL + SECOND_NODE_NAMED_LIKE_A_GROUP_NODE,
        "nodes[1].id",
        "'sz-npu-002' is already defined by node_groups[0]",
    ),
    (
        "unknown flag",
        variant('flags = ["research"]', 'flags = ["research", "charity"]'),
        "tenants.lab.flags[1]",
        "unknown value 'charity'",
    ),
    (
        "unknown priority class of a tenant",
        variant('priority_classes = ["standard"]', 'priority_classes = ["urgent"]'),
        "tenants.lab.priority_classes[0]",
        "unknown priority class 'urgent'; known: standard",
    ),
    (
        "zero weight",
        variant("weight = 2", "weight = 0"),
        "tenants.lab.weight",
        "must be a positive integer",
    ),
    (
        "Hong Kong node of a CNY-billing owner",
        variant(GROUP_1_OWNER, 'owner = "sz-gov"\ncity = "hong-kong"'),
        "node_groups[1].city",
        "hong-kong nodes bill in HKD but owner 'sz-gov' bills in CNY",
    ),
    (
        "approval of an unknown tenant",
        variant('tenant = "lab"', 'tenant = "ghost"'),
        "approvals[0].tenant",
        "unknown tenant 'ghost'; known: lab, open",
    ),
    (
        "approval to its own zone",
        variant('to_zone = "mainland"', 'to_zone = "hong-kong"'),
        "approvals[0].to_zone",
        "must differ from from_zone",
    ),
    (
        "expiry without an offset",
        variant("2027-12-31T23:59:59+08:00", "2027-12-31T23:59:59"),
        "approvals[0].expires_at",
        "without an offset",
    ),
    (
        "unknown default priority class",
        variant('default_priority_class = "standard"', 'default_priority_class = "normal"'),
        "pool.default_priority_class",
        "unknown priority class 'normal'",
    ),
    (
        "zero throughput",
        variant("tflops_fp16 = 320", "tflops_fp16 = 0"),
        "accelerators.npu.tflops_fp16",
        "must be a positive integer",
    ),
    (
        "boolean as a string",
        variant("domestic = true", 'domestic = "yes"'),
        "accelerators.npu.domestic",
        "must be true or false",
    ),
    (
        "unknown owner class",
        variant('class = "government"', 'class = "municipal"'),
        "owners.sz-gov.class",
        "expected one of: government, enterprise, research",
    ),
    (
        "a table where an array of tables belongs",
        variant("[[approvals]]", "[approvals]"),
        "approvals",
        "must be an array of tables ([[approvals]])",
    ),
]


@pytest.mark.parametrize(
    ("text", "key_path", "message"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_a_bad_file_is_rejected_naming_the_file_and_key(
    tmp_path: Path, text: str, key_path: str, message: str
) -> None:
    path = write(tmp_path, text, "bad-pool.toml")
    with pytest.raises(ConfigError) as caught:
        load_pool(path)
    error = caught.value
    assert isinstance(error, InvalidField)
    assert error.field == key_path
    prefix = f"{path}: {key_path}: " if key_path else f"{path}: "
    assert str(error).startswith(prefix), str(error)
    assert message in str(error)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_pool(missing)
    assert str(caught.value) == f"{missing}: no such file"


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[pool]\nname = "caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_pool(path)
    assert str(caught.value) == f"{path}: is not UTF-8 text"
