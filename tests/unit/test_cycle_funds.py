"""Admission with funds: the cycle reserves each admitted job's estimated cost, split between the
programs it names and the tenant's co-payment, or leaves it pending with NO_FUNDS."""

from __future__ import annotations

from scheduler.domain.geography import City, Currency
from scheduler.domain.jobs import Job
from scheduler.domain.nodes import OwnerClass
from scheduler.domain.tenants import TenantFlag
from scheduler.engine.cycle import run_cycle
from scheduler.engine.state import ClusterState
from scheduler.ledger.budgets import Budgets
from scheduler.ledger.programs import Program, Rates, Split
from scheduler.ledger.split import Funds
from scheduler.policy.registry import resolve_policy
from tests.builders import ASCEND, H800, a_job, a_pool, a_tenant
from tests.decisions import admission, assert_outcomes, decide, victims

HOUR = 3600
YEAR_2026 = (1_767_196_800, 1_798_732_800)

# Shenzhen-style vouchers: 50 %, 60 % for start-ups, on any supplier.
SZ = Program(
    "sz",
    "Shenzhen training vouchers",
    "Shenzhen",
    Currency.CNY,
    1_000_000,
    *YEAR_2026,
    Rates(5000, 5000, 6000, 6000),
)
# Hangzhou-style: 30 % domestic, 20 % other, capped at 500 fen per tenant per year.
HZ = Program(
    "hz",
    "Hangzhou vouchers",
    "Hangzhou",
    Currency.CNY,
    1_000_000,
    *YEAR_2026,
    Rates(3000, 2000),
    tenant_cap=500,
)
NOW = YEAR_2026[0] + 100

POOL = (
    a_pool()
    .nodes(2, ASCEND, price=1000, owner="sz-gov")  # 10.00 CNY per accelerator-hour
    .nodes(
        1,
        H800,
        price=3000,
        city=City.GUANGZHOU,
        owner="gz-cloud",
        owner_class=OwnerClass.ENTERPRISE,
    )
    .tenant(a_tenant("lab"))
    .tenant(a_tenant("start").flags(TenantFlag.STARTUP))
    .build()
)


def budgets(balances: dict[str, int], programs: tuple[Program, ...] = (SZ, HZ)) -> Budgets:
    return Budgets(
        {p.id: p for p in programs},
        Funds({p.id: p.budget for p in programs}),
        {(tenant, Currency.CNY): amount for tenant, amount in balances.items()},
    )


def job(job_id: str, tenant: str, *programs: str, model: str = ASCEND, count: int = 8) -> Job:
    return (
        a_job(job_id)
        .tenant(tenant)
        .gang(1, model, count)
        .walltime(HOUR)
        .programs(*programs)
        .build()
    )


def test_the_estimate_is_split_between_the_program_and_the_tenant() -> None:
    # 8 Ascend accelerators × 1 h × 10.00 CNY = 80.00 CNY; Shenzhen pays 50 %
    result = decide(POOL, pending=[job("j", "lab", "sz")], budgets=budgets({"lab": 5_000}), now=NOW)
    assert admission(result, "j").funding == Split(Currency.CNY, 8_000, (("sz", 4_000),), 4_000)


def test_start_ups_get_the_higher_rate() -> None:
    result = decide(
        POOL, pending=[job("j", "start", "sz")], budgets=budgets({"start": 5_000}), now=NOW
    )
    assert admission(result, "j").funding == Split(Currency.CNY, 8_000, (("sz", 4_800),), 3_200)


def test_a_tenant_that_cannot_pay_its_share_waits_with_no_funds_and_others_go_on() -> None:
    pending = [job("poor", "lab", "sz"), job("rich", "start", "sz")]
    result = decide(POOL, pending=pending, budgets=budgets({"lab": 3_999, "start": 9_000}), now=NOW)
    assert_outcomes(result, {"poor": "NO_FUNDS", "rich": "admitted"})
    message = result.pending["poor"].message
    assert "co-payment 40.00 CNY exceeds its balance 39.99 CNY" in message
    assert "programs pay 40.00 CNY" in message


def test_without_programs_the_tenant_pays_everything() -> None:
    result = decide(POOL, pending=[job("j", "lab")], budgets=budgets({"lab": 8_000}), now=NOW)
    assert admission(result, "j").funding == Split(Currency.CNY, 8_000, (), 8_000)


def test_the_per_tenant_cap_binds_across_jobs_of_one_cycle() -> None:
    # Hangzhou pays 30 % of 80.00 = 24.00 on a domestic chip, but the cap is 5.00 per tenant
    pending = [job("a", "lab", "hz", count=1), job("b", "lab", "hz", count=1)]
    result = decide(POOL, pending=pending, budgets=budgets({"lab": 10_000}), now=NOW)
    first, second = admission(result, "a").funding, admission(result, "b").funding
    assert first == Split(Currency.CNY, 1_000, (("hz", 300),), 700)
    assert second == Split(Currency.CNY, 1_000, (("hz", 200),), 800)  # the cap's last 2.00


def test_a_non_domestic_chip_gets_the_lower_rate() -> None:
    result = decide(
        POOL,
        pending=[job("j", "lab", "hz", model=H800, count=1)],
        budgets=budgets({"lab": 10_000}),
        now=NOW,
    )
    # 1 H800 × 1 h × 30.00 CNY = 30.00; 20 % = 6.00, capped at 5.00
    assert admission(result, "j").funding == Split(Currency.CNY, 3_000, (("hz", 500),), 2_500)


def test_money_is_not_checked_when_the_snapshot_has_no_budgets() -> None:
    result = decide(POOL, pending=[job("j", "lab", "sz")], now=NOW)
    assert admission(result, "j").funding is None


def test_a_preemptor_that_cannot_pay_leaves_its_victims_running() -> None:
    pool = a_pool().nodes(1, ASCEND, price=1000).tenant(a_tenant("lab")).build()
    node = next(iter(pool.nodes))
    victim = a_job("low").tenant("lab").gang(1, ASCEND, 8).priority("low").running_on((node, 8))
    high = a_job("high").tenant("lab").gang(1, ASCEND, 8).priority("high").walltime(HOUR).build()
    poor = decide(pool, pending=[high], running=[victim], budgets=budgets({"lab": 100}), now=NOW)
    assert_outcomes(poor, {"high": "NO_FUNDS"})
    assert victims(poor) == {}
    rich = decide(pool, pending=[high], running=[victim], budgets=budgets({"lab": 8_000}), now=NOW)
    assert victims(rich) == {"low": "PRIORITY"}
    assert admission(rich, "high").funding == Split(Currency.CNY, 8_000, (), 8_000)


def test_cluster_state_keeps_reservations_between_cycles() -> None:
    state = ClusterState(POOL)
    state.set_budgets(budgets({"lab": 8_000}))
    for j in (job("a", "lab", "sz"), job("b", "lab", "sz")):
        state.submit(j)
    policy = resolve_policy("priority-fairshare")
    result = run_cycle(state.snapshot(), policy, NOW)
    # 8,000 fen of balance pays two co-payments of 4,000
    assert {a.job_id for a in result.admissions} == {"a", "b"}
    state.apply(result, NOW)
    assert state.budgets is not None
    assert state.budgets.balance("lab", Currency.CNY) == 0
    assert state.budgets.funds.remaining["sz"] == SZ.budget - 8_000
    state.submit(job("c", "lab", "sz", model=H800, count=1))  # room, but no money left
    after = run_cycle(state.snapshot(), policy, NOW)
    assert after.pending["c"].code.value == "NO_FUNDS"


def test_the_subsidised_strategy_prefers_the_supplier_where_the_voucher_applies() -> None:
    # Ascend at 10.00/h with a 60 % voucher only at sz-gov (net 4.00) beats an Ascend at 8.00/h
    # elsewhere where no voucher applies; plain `cheapest` takes the 8.00 one.
    pool = (
        a_pool()
        .nodes(1, ASCEND, price=1000, owner="sz-gov")
        .nodes(
            1,
            ASCEND,
            price=800,
            owner="gz-cloud",
            city=City.GUANGZHOU,
            owner_class=OwnerClass.ENTERPRISE,
        )
        .tenant(a_tenant("lab"))
        .build()
    )
    voucher = Program(
        "designated",
        "designated centre",
        "city",
        Currency.CNY,
        10**6,
        *YEAR_2026,
        Rates(6000, 6000),
        eligible_owners=frozenset({"sz-gov"}),
    )
    money = budgets({"lab": 10**6}, (voucher,))
    pending = [job("j", "lab", "designated")]
    subsidised = decide(pool, pending=pending, budgets=money, now=NOW, policy="subsidised")
    assert admission(subsidised, "j").placement.workers[0][0].startswith("sz-gov")
    assert admission(subsidised, "j").funding == Split(
        Currency.CNY, 8_000, (("designated", 4_800),), 3_200
    )
    cheapest = decide(pool, pending=pending, budgets=money, now=NOW, policy="cheapest")
    assert admission(cheapest, "j").placement.workers[0][0].startswith("gz-cloud")
    assert admission(cheapest, "j").funding == Split(Currency.CNY, 6_400, (), 6_400)


# Two suppliers of Ascend in one zone, two nodes each: a 3-node gang fits the zone only by
# spanning both, which a funded gang may not (it bills one supplier at one price).
TWO_SUPPLIERS = (
    a_pool()
    .nodes(2, ASCEND, price=1000, owner="sz-gov")
    .nodes(2, ASCEND, price=800, owner="gz-cloud", city=City.GUANGZHOU)
    .tenant(a_tenant("lab"))
    .build()
)


def gang(job_id: str, workers: int) -> Job:
    return a_job(job_id).tenant("lab").gang(workers, ASCEND, 8).walltime(HOUR).build()


def test_a_funded_gang_larger_than_any_one_supplier_is_rejected_not_left_waiting() -> None:
    money = budgets({"lab": 10**9})
    result = decide(TWO_SUPPLIERS, pending=[gang("big", 3)], budgets=money, now=NOW)
    assert_outcomes(result, {"big": "GANG_TOO_LARGE"})
    assert "with one supplier at one price is 2" in result.rejected["big"].message
    # without money the gang may span both suppliers
    unfunded = decide(TWO_SUPPLIERS, pending=[gang("big", 3)], now=NOW)
    assert len(admission(unfunded, "big").placement.workers) == 3


def test_under_fifo_such_a_gang_does_not_block_the_queue_behind_it() -> None:
    money = budgets({"lab": 10**9})
    pending = [gang("big", 3), gang("next", 2)]
    result = decide(TWO_SUPPLIERS, pending=pending, budgets=money, now=NOW, policy="fifo")
    assert result.rejected["big"].code.value == "GANG_TOO_LARGE"
    assert admission(result, "next").funding is not None
