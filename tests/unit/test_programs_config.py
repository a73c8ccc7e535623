"""Programs TOML: the sample programs against the sample pool, a minimal file against a small
pool, and a table of bad files with their exact errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scheduler.config.errors import ConfigError
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs, parse_programs
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Currency
from scheduler.domain.nodes import OwnerClass
from scheduler.domain.pool import Pool
from scheduler.domain.tenants import TenantFlag
from scheduler.ledger.config import ProgramsConfig
from scheduler.ledger.programs import YEAR_S, Program, Rates
from scheduler.ledger.split import Supplier, split_cost
from tests.builders import ASCEND, H800, a_pool, a_tenant

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_POOL = ROOT / "deploy" / "pools" / "gba-sample.toml"
SAMPLE = ROOT / "deploy" / "programs" / "gba-sample.toml"
GBA = dt.timezone(dt.timedelta(hours=8))
FIRST_SECOND_OF_2026 = int(dt.datetime(2026, 1, 1, tzinfo=GBA).timestamp())
LAST_SECOND_OF_2027 = int(dt.datetime(2027, 12, 31, 23, 59, 59, tzinfo=GBA).timestamp())


# ── the sample programs ──────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def sample_pool() -> Pool:
    return load_pool(SAMPLE_POOL)


@pytest.fixture(scope="module")
def sample(sample_pool: Pool) -> ProgramsConfig:
    return load_programs(SAMPLE, sample_pool)


def test_the_sample_has_one_program_per_row_of_the_voucher_table(sample: ProgramsConfig) -> None:
    p = sample.programs
    # Beijing-style: ~20 %, ~¥40M in all, a per-company annual cap.
    beijing = p["gd-training-subsidy"]
    assert beijing.rates == Rates(2000, 2000)
    assert beijing.budget == 40_000_000 * 100
    assert beijing.tenant_cap is not None and beijing.cap_period_s == YEAR_S
    # Shanghai-style: a 30 % city programme and a district top-up that stack.
    city, district = p["gz-compute-vouchers"], p["gz-nansha-topup"]
    assert city.rates.other_bp == 3000 and district.rates.other_bp == 3000
    assert city.stacking_group == district.stacking_group is not None
    # Shenzhen-style: 50 %, 60 % for start-ups, with a district top-up capped per firm.
    shenzhen, nanshan = p["sz-training-vouchers"], p["sz-nanshan-topup"]
    assert shenzhen.rates == Rates(5000, 5000, 6000, 6000)
    assert nanshan.stacking_group == shenzhen.stacking_group is not None
    assert nanshan.tenant_cap is not None
    # Hangzhou-style: 30 % on domestic chips, 20 % on others, ≤ ¥8M per firm.
    hangzhou = p["dg-domestic-chip-vouchers"]
    assert hangzhou.rates == Rates(3000, 2000)
    assert hangzhou.tenant_cap == 8_000_000 * 100
    # Hong Kong-style: 70 % in HKD, only at the designated (government) supplier.
    hong_kong = p["hk-ai-subsidy"]
    assert (hong_kong.currency, hong_kong.rates.other_bp) == (Currency.HKD, 7000)
    assert hong_kong.eligible_owners == {"hk-aisc"}
    assert hong_kong.budget == 3_000_000_000 * 100
    # Chengdu-style: redeemable only at whitelisted centres.
    chengdu = p["gd-west-designated"]
    assert chengdu.eligible_owners and chengdu.eligible_nodes
    assert len(p) == 8


def test_the_hong_kong_program_names_the_designated_government_centre(
    sample_pool: Pool, sample: ProgramsConfig
) -> None:
    (owner,) = sample.programs["hk-ai-subsidy"].eligible_owners
    centre = sample_pool.owners[owner]
    assert (centre.owner_class, centre.currency) == (OwnerClass.GOVERNMENT, Currency.HKD)


def test_every_sample_program_is_valid_through_2026_and_2027(sample: ProgramsConfig) -> None:
    for program in sample.programs.values():
        assert program.active(FIRST_SECOND_OF_2026), program.id
        assert program.active(LAST_SECOND_OF_2027), program.id


def test_every_sample_tenant_holds_a_balance_in_its_zones_currency(
    sample_pool: Pool, sample: ProgramsConfig
) -> None:
    holders = {tenant for tenant, _ in sample.balances}
    assert holders == set(sample_pool.tenants)
    assert all(amount > 0 for amount in sample.balances.values())
    assert sample.balance("hk-fintech", Currency.HKD) > 0
    assert sample.balance("hku-ml", Currency.HKD) > 0
    assert sample.balance("mo-uni-nlp", Currency.MOP) > 0
    assert sample.balance("qianhai-llm", Currency.CNY) > 0
    two_currencies = [t for t in holders if sum(who == t for who, _ in sample.balances) > 1]
    assert len(two_currencies) >= 2


def test_sample_programs_split_a_cost_as_their_rows_say(
    sample_pool: Pool, sample: ProgramsConfig
) -> None:
    funds = sample.funds()
    now = FIRST_SECOND_OF_2026
    qianhai = sample_pool.tenants["qianhai-llm"]  # a start-up and an SME
    at_gz = Supplier("gz-aicc", ("gz-aicc-910b-001",), domestic=True)
    stacked = split_cost(
        1_000_000,
        Currency.CNY,
        ["gz-compute-vouchers", "gz-nansha-topup"],
        sample.programs,
        qianhai,
        at_gz,
        funds,
        now,
    )
    assert stacked.shares == (("gz-compute-vouchers", 300_000), ("gz-nansha-topup", 300_000))
    fintech = sample_pool.tenants["hk-fintech"]
    at_centre = Supplier("hk-aisc", ("hk-aisc-h800-001",), domestic=False)
    hk = split_cost(
        1_000_000, Currency.HKD, ["hk-ai-subsidy"], sample.programs, fintech, at_centre, funds, now
    )
    assert (hk.subsidy, hk.copay) == (700_000, 300_000)


# ── what a valid file becomes ────────────────────────────────────────────────────────────────

POOL = (
    a_pool()
    .nodes(2, ASCEND, owner="sz-gov", prefix="sz-npu")
    .nodes(1, H800, city=City.HONG_KONG, owner="hk-lab", owner_class=OwnerClass.RESEARCH)
    .tenant(a_tenant("lab").flags(TenantFlag.RESEARCH))
    .tenant(a_tenant("start-up").flags(TenantFlag.STARTUP))
    .build()
)

MINIMAL = """\
[programs.sz-vouchers]
name = "Shenzhen vouchers"
sponsor = "Shenzhen"
currency = "CNY"
budget = 1_000_000
valid_from = 2026-01-01T00:00:00+08:00
valid_until = 2027-01-01T00:00:00+08:00
rate_bp = 5000
startup_rate_bp = 6000
eligible_flags = ["startup", "research"]
eligible_nodes = ["sz-npu-000", "sz-npu-001"]
tenant_cap = 100_000
cap_period_s = 2592000
stacking_group = "shenzhen"

[programs.hk-subsidy]
name = "Hong Kong subsidy"
sponsor = "Hong Kong"
currency = "HKD"
budget = 3_000_000
valid_from = 1767196800
valid_until = 1798732800
rate_domestic_bp = 7000
rate_other_bp = 6000
startup_rate_other_bp = 6500
eligible_tenants = ["lab"]
eligible_owners = ["hk-lab"]

[balances.lab]
HKD = 500
CNY = 1_000
"""


def write(tmp_path: Path, text: str, name: str = "programs.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def variant(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


def test_a_minimal_file_becomes_programs_and_balances(tmp_path: Path) -> None:
    config = load_programs(write(tmp_path, MINIMAL), POOL)
    assert config.programs["sz-vouchers"] == Program(
        id="sz-vouchers",
        name="Shenzhen vouchers",
        sponsor="Shenzhen",
        currency=Currency.CNY,
        budget=1_000_000,
        valid_from=1_767_196_800,
        valid_until=1_798_732_800,
        rates=Rates(5000, 5000, 6000, 6000),
        eligible_flags=frozenset({TenantFlag.STARTUP, TenantFlag.RESEARCH}),
        eligible_nodes=frozenset({"sz-npu-000", "sz-npu-001"}),
        tenant_cap=100_000,
        cap_period_s=30 * 24 * 3600,
        stacking_group="shenzhen",
    )
    hk = config.programs["hk-subsidy"]
    assert hk.rates == Rates(7000, 6000, None, 6500)
    assert (hk.eligible_tenants, hk.eligible_owners) == (frozenset({"lab"}), frozenset({"hk-lab"}))
    assert (hk.tenant_cap, hk.cap_period_s, hk.stacking_group) == (None, YEAR_S, None)
    assert config.balances == {("lab", Currency.HKD): 500, ("lab", Currency.CNY): 1_000}
    assert config.balance("start-up", Currency.CNY) == 0
    assert config.funds().remaining == {"sz-vouchers": 1_000_000, "hk-subsidy": 3_000_000}


def test_balances_are_optional(tmp_path: Path) -> None:
    text = MINIMAL[: MINIMAL.index("[balances.lab]")]
    assert load_programs(write(tmp_path, text), POOL).balances == {}


def test_parse_programs_names_the_given_source() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_programs({}, "inline", POOL)
    assert str(caught.value) == "inline: programs: missing required key"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        load_programs(missing, POOL)
    assert str(caught.value) == f"{missing}: no such file"


# ── bad files: (what is wrong, the file, the key path, part of the message) ─────────────────

SZ = "programs.sz-vouchers"
HK = "programs.hk-subsidy"

BAD_FILES = [
    ("syntax error", variant("rate_bp = 5000", "rate_bp = 50 00"), "", "invalid TOML"),
    (
        "unknown top-level key",
        MINIMAL + '\n[program.x]\nname = "x"\n',
        "program",
        "unknown key; accepted keys: programs, balances",
    ),
    (
        "unknown key in a program",
        variant('sponsor = "Shenzhen"', 'sponsor = "Shenzhen"\ncolour = "red"'),
        f"{SZ}.colour",
        "unknown key; accepted keys: name, sponsor, currency, budget",
    ),
    ("missing key", variant('sponsor = "Shenzhen"\n', ""), f"{SZ}.sponsor", "missing"),
    (
        "negative budget",
        variant("budget = 1_000_000", "budget = -1"),
        f"{SZ}.budget",
        "must not be negative",
    ),
    (
        "budget as a float",
        variant("budget = 1_000_000", "budget = 1e6"),
        f"{SZ}.budget",
        "must be an integer (minor units), got a float (1000000.0)",
    ),
    (
        "rate 10001 bp",
        variant("rate_bp = 5000", "rate_bp = 10001"),
        f"{SZ}.rate_bp",
        "must be between 0 and 10000 basis points",
    ),
    (
        "negative rate",
        variant("rate_other_bp = 6000", "rate_other_bp = -1"),
        f"{HK}.rate_other_bp",
        "must be between 0 and 10000 basis points",
    ),
    (
        "start-up rate 10001 bp",
        variant("startup_rate_bp = 6000", "startup_rate_bp = 10001"),
        f"{SZ}.startup_rate_bp",
        "must be between 0 and 10000 basis points",
    ),
    (
        "rate as a float",
        variant("rate_bp = 5000", "rate_bp = 0.5"),
        f"{SZ}.rate_bp",
        "must be an integer (basis points), got a float (0.5)",
    ),
    (
        "rate as a string",
        variant("rate_domestic_bp = 7000", 'rate_domestic_bp = "70%"'),
        f"{HK}.rate_domestic_bp",
        "must be an integer (basis points), got a string",
    ),
    (
        "both rate forms",
        variant("rate_bp = 5000", "rate_bp = 5000\nrate_other_bp = 2000"),
        f"{SZ}.rate_bp",
        "give either rate_bp or rate_domestic_bp and rate_other_bp, not both",
    ),
    (
        "no rate",
        variant("rate_bp = 5000\n", ""),
        f"{SZ}.rate_bp",
        "missing required key: give rate_bp, or rate_domestic_bp and rate_other_bp",
    ),
    (
        "half of the split rate form",
        variant("rate_other_bp = 6000\n", ""),
        f"{HK}.rate_other_bp",
        "rate_domestic_bp and rate_other_bp go together",
    ),
    (
        "both start-up rate forms",
        variant("startup_rate_bp = 6000", "startup_rate_bp = 6000\nstartup_rate_domestic_bp = 1"),
        f"{SZ}.startup_rate_bp",
        "not both",
    ),
    (
        "unknown supplier owner",
        variant('eligible_owners = ["hk-lab"]', 'eligible_owners = ["hk-uni"]'),
        f"{HK}.eligible_owners[0]",
        "unknown owner 'hk-uni'; known: hk-lab, sz-gov",
    ),
    (
        "unknown node",
        variant('"sz-npu-000", "sz-npu-001"', '"sz-npu-000", "sz-npu-009"'),
        f"{SZ}.eligible_nodes[1]",
        "unknown node 'sz-npu-009' (no such node in the pool)",
    ),
    (
        "unknown tenant in eligible_tenants",
        variant('eligible_tenants = ["lab"]', 'eligible_tenants = ["ghost"]'),
        f"{HK}.eligible_tenants[0]",
        "unknown tenant 'ghost'; known: lab, start-up",
    ),
    (
        "tenant listed twice",
        variant('eligible_tenants = ["lab"]', 'eligible_tenants = ["lab", "lab"]'),
        f"{HK}.eligible_tenants[1]",
        "'lab' is listed twice",
    ),
    (
        "empty whitelist",
        variant('eligible_owners = ["hk-lab"]', "eligible_owners = []"),
        f"{HK}.eligible_owners",
        "must not be empty; leave the key out to allow anyone",
    ),
    (
        "unknown flag",
        variant('eligible_flags = ["startup", "research"]', 'eligible_flags = ["charity"]'),
        f"{SZ}.eligible_flags[0]",
        "unknown value 'charity'; expected one of: startup, sme",
    ),
    (
        "unknown currency",
        variant('currency = "CNY"', 'currency = "USD"'),
        f"{SZ}.currency",
        "unknown value 'USD'; expected one of: CNY, HKD, MOP",
    ),
    (
        "valid_until before valid_from",
        variant("valid_until = 2027-01-01T00:00:00+08:00", "valid_until = 2025-01-01T00:00:00Z"),
        f"{SZ}.valid_until",
        "must be after valid_from",
    ),
    (
        "valid_until equal to valid_from",
        variant("valid_until = 1798732800", "valid_until = 1767196800"),
        f"{HK}.valid_until",
        "must be after valid_from",
    ),
    (
        "validity without an offset",
        variant("valid_from = 2026-01-01T00:00:00+08:00", "valid_from = 2026-01-01T00:00:00"),
        f"{SZ}.valid_from",
        "without an offset",
    ),
    (
        "negative tenant cap",
        variant("tenant_cap = 100_000", "tenant_cap = -5"),
        f"{SZ}.tenant_cap",
        "must not be negative",
    ),
    (
        "zero cap period",
        variant("cap_period_s = 2592000", "cap_period_s = 0"),
        f"{SZ}.cap_period_s",
        "must be a positive number of seconds",
    ),
    (
        "stacking group that is not an id",
        variant('stacking_group = "shenzhen"', 'stacking_group = "shen zhen"'),
        f"{SZ}.stacking_group",
        "is not a valid id",
    ),
    (
        "currency no eligible owner bills in",
        variant('currency = "HKD"', 'currency = "CNY"'),
        f"{HK}.currency",
        "can never pay: its eligible suppliers bill only in HKD, not CNY",
    ),
    (
        "currency no eligible node's owner bills in",
        variant('currency = "CNY"', 'currency = "HKD"'),
        f"{SZ}.currency",
        "can never pay: its eligible suppliers bill only in CNY, not HKD",
    ),
    (
        "currency nobody in the pool bills in",
        variant('eligible_nodes = ["sz-npu-000", "sz-npu-001"]\n', "").replace(
            'currency = "CNY"', 'currency = "MOP"', 1
        ),
        f"{SZ}.currency",
        "can never pay: the pool's owners bill only in CNY, HKD, not MOP",
    ),
    (
        "unknown tenant in balances",
        variant("[balances.lab]", "[balances.ghost]"),
        "balances.ghost",
        "unknown tenant 'ghost'; known: lab, start-up",
    ),
    (
        "negative balance",
        variant("CNY = 1_000", "CNY = -1"),
        "balances.lab.CNY",
        "must not be negative",
    ),
    (
        "balance as a float",
        variant("CNY = 1_000", "CNY = 10.00"),
        "balances.lab.CNY",
        "must be an integer (minor units), got a float (10.0)",
    ),
    (
        "balance in an unknown currency",
        variant("CNY = 1_000", "USD = 1_000"),
        "balances.lab.USD",
        "unknown currency 'USD'; expected one of: CNY, HKD, MOP",
    ),
    (
        "balance that is not a table",
        variant("[balances.lab]\nHKD = 500\nCNY = 1_000", "[balances]\nlab = 1_000"),
        "balances.lab",
        "must be a table, got an integer",
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
    path = write(tmp_path, text, "bad-programs.toml")
    with pytest.raises(ConfigError) as caught:
        load_programs(path, POOL)
    error = caught.value
    assert isinstance(error, InvalidField)
    assert error.field == key_path
    prefix = f"{path}: {key_path}: " if key_path else f"{path}: "
    assert str(error).startswith(prefix), str(error)
    assert message in str(error)
