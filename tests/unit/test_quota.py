"""Quota with cohorts (Kueue semantics): nominal, borrowing limit, lending limit, cohort pool."""

from __future__ import annotations

import pytest

from scheduler.domain.pool import Pool
from scheduler.domain.tenants import Tenant
from scheduler.engine.quota import QuotaState
from scheduler.engine.reasons import ReasonCode
from scheduler.engine.snapshot import PoolFacts
from tests.builders import ASCEND, H800, TenantBuilder, a_job, a_pool, a_tenant
from tests.decisions import ADMITTED, admission, assert_outcomes, decide


def quota_of(*tenants: TenantBuilder) -> tuple[QuotaState, dict[str, Tenant]]:
    pool = a_pool().nodes(8, ASCEND).nodes(8, H800)
    for tenant in tenants:
        pool.tenant(tenant)
    built = pool.build()
    return QuotaState(PoolFacts.of(built)), dict(built.tenants)


def ok(quota: QuotaState, tenant: Tenant, model: str, count: int) -> bool:
    return quota.check(tenant, model, count).ok


# ------------------------------------------------------------------ without a cohort


def test_a_tenant_configured_without_quotas_is_not_limited() -> None:
    quota, t = quota_of(a_tenant("free"))
    quota.charge(t["free"], ASCEND, 10_000)
    assert ok(quota, t["free"], ASCEND, 10_000)
    assert ok(quota, t["free"], H800, 10_000)
    assert quota.ceiling(t["free"], ASCEND) is None


def test_a_tenant_with_quotas_cannot_use_a_model_it_has_none_for() -> None:
    quota, t = quota_of(a_tenant("pcl").quota(ASCEND, 16))
    verdict = quota.check(t["pcl"], H800, 1)
    assert not verdict.ok
    assert H800 in verdict.why
    assert quota.ceiling(t["pcl"], H800) == 0


@pytest.mark.parametrize(("used", "asked", "fits"), [(0, 16, True), (8, 8, True), (8, 9, False)])
def test_without_a_cohort_use_is_capped_at_nominal(used: int, asked: int, fits: bool) -> None:
    quota, t = quota_of(a_tenant("pcl").quota(ASCEND, 16, borrowing=8))
    quota.charge(t["pcl"], ASCEND, used)
    verdict = quota.check(t["pcl"], ASCEND, asked)
    assert verdict.ok is fits
    assert not verdict.borrowing
    if not fits:
        assert not verdict.within_nominal
        assert "nominal 16" in verdict.why and ASCEND in verdict.why
    assert quota.ceiling(t["pcl"], ASCEND) == 16, "a borrowing limit means nothing without cohort"


# ------------------------------------------------------------------ in a cohort


def test_borrowing_from_the_cohort_is_allowed_up_to_the_borrowing_limit() -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c").quota(ASCEND, 8, borrowing=8),
        a_tenant("b").cohort("c").quota(ASCEND, 16),
    )
    within = quota.check(t["a"], ASCEND, 8)
    assert within.ok and not within.borrowing and within.within_nominal
    borrowing = quota.check(t["a"], ASCEND, 16)
    assert borrowing.ok and borrowing.borrowing and not borrowing.within_nominal
    over = quota.check(t["a"], ASCEND, 17)
    assert not over.ok
    assert "borrowing limit 8" in over.why


def test_without_a_borrowing_limit_a_member_may_borrow_everything_the_cohort_lends() -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c").quota(ASCEND, 8),
        a_tenant("b").cohort("c").quota(ASCEND, 16, lending=12),
    )
    assert ok(quota, t["a"], ASCEND, 8 + 12)
    assert not ok(quota, t["a"], ASCEND, 8 + 12 + 1)
    assert quota.ceiling(t["a"], ASCEND) == 20


def test_the_lending_limit_caps_what_others_may_borrow() -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c").quota(ASCEND, 8, borrowing=100),
        a_tenant("b").cohort("c").quota(ASCEND, 16, lending=4),
    )
    assert ok(quota, t["a"], ASCEND, 12)
    verdict = quota.check(t["a"], ASCEND, 13)
    assert not verdict.ok
    assert "cohort c" in verdict.why
    assert quota.ceiling(t["a"], ASCEND) == 12


def test_the_guaranteed_part_of_nominal_stays_usable_when_the_cohort_pool_is_exhausted() -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c").quota(ASCEND, 8, borrowing=100),
        a_tenant("b").cohort("c").quota(ASCEND, 16, lending=4),
    )
    quota.charge(t["a"], ASCEND, 12)  # a's own 8 and b's 4: the cohort pool is empty
    assert ok(quota, t["b"], ASCEND, 12), "16 nominal - 4 lent = 12 only b may use"
    verdict = quota.check(t["b"], ASCEND, 13)
    assert not verdict.ok
    assert verdict.within_nominal, "b stays within its nominal: it may reclaim"
    assert "cohort c has 0 of 12 left" in verdict.why


def test_when_the_cohort_pool_is_exhausted_nobody_else_may_borrow() -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c").quota(ASCEND, 8, borrowing=16),
        a_tenant("b").cohort("c").quota(ASCEND, 8, borrowing=16),
        a_tenant("lender").cohort("c").quota(ASCEND, 8),
    )
    quota.charge(t["a"], ASCEND, 16)  # a borrows all 8 the lender lends
    assert not ok(quota, t["b"], ASCEND, 9)
    assert ok(quota, t["b"], ASCEND, 8)
    quota.charge(t["b"], ASCEND, 8)
    assert not ok(quota, t["lender"], ASCEND, 1), "the pool is empty, even for its lender"


def test_cohorts_do_not_share_with_each_other() -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c1").quota(ASCEND, 8, borrowing=8),
        a_tenant("b").cohort("c2").quota(ASCEND, 16),
    )
    assert not ok(quota, t["a"], ASCEND, 9)
    assert quota.ceiling(t["a"], ASCEND) == 8


@pytest.mark.parametrize(
    ("nominal", "borrowing", "lending", "other_lends", "ceiling"),
    [
        (8, None, None, 16, 24),  # nominal + everything others lend
        (8, 4, None, 16, 12),  # capped by the borrowing limit
        (8, 100, 2, 4, 12),  # 6 guaranteed + the pool of 2 + 4
        (8, 0, None, 16, 8),
    ],
)
def test_ceiling_is_the_most_a_tenant_could_ever_hold(
    nominal: int, borrowing: int | None, lending: int | None, other_lends: int, ceiling: int
) -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c").quota(ASCEND, nominal, borrowing=borrowing, lending=lending),
        a_tenant("b").cohort("c").quota(ASCEND, 16, lending=other_lends),
    )
    assert quota.ceiling(t["a"], ASCEND) == ceiling
    assert ok(quota, t["a"], ASCEND, ceiling)
    assert not ok(quota, t["a"], ASCEND, ceiling + 1)


def test_charge_then_uncharge_restores_tenant_and_cohort_use() -> None:
    quota, t = quota_of(
        a_tenant("a").cohort("c").quota(ASCEND, 8, lending=4),
        a_tenant("b").cohort("c").quota(ASCEND, 8),
    )
    quota.charge(t["a"], ASCEND, 6)
    before = (dict(quota.used), dict(quota.cohort_used))
    assert before[1] == {("c", ASCEND): 2}, "6 in use, 4 of them guaranteed: 2 from the pool"
    quota.charge(t["a"], ASCEND, 7)
    assert quota.borrowing(t["a"], ASCEND)
    quota.uncharge(t["a"], ASCEND, 7)
    assert (quota.used, quota.cohort_used) == before
    assert not quota.borrowing(t["a"], ASCEND)


def test_a_copy_is_independent() -> None:
    quota, t = quota_of(a_tenant("a").cohort("c").quota(ASCEND, 8, borrowing=8))
    scratch = quota.copy()
    scratch.charge(t["a"], ASCEND, 8)
    assert quota.used_by("a", ASCEND) == 0 and quota.cohort_used == {}
    assert scratch.used_by("a", ASCEND) == 8


def test_quota_state_of_running_jobs_charges_each_tenant() -> None:
    pool: Pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="n")
        .tenant(a_tenant("a").cohort("c").quota(ASCEND, 4, borrowing=8))
        .tenant(a_tenant("b").cohort("c").quota(ASCEND, 8))
        .build()
    )
    running = [
        a_job("a1").tenant("a").accelerators(6).running_on(("n-000", 6)),
        a_job("b1").tenant("b").accelerators(2).running_on(("n-001", 2)),
    ]
    quota = QuotaState.of(PoolFacts.of(pool), running)
    assert quota.used_by("a", ASCEND) == 6 and quota.used_by("b", ASCEND) == 2
    assert quota.borrowing(pool.tenants["a"], ASCEND)
    assert not quota.borrowing(pool.tenants["b"], ASCEND)


# ------------------------------------------------------------------ through a cycle


def test_a_cycle_admits_up_to_quota_then_reports_over_quota_naming_tenant_and_model() -> None:
    pool = a_pool().nodes(4, ASCEND, prefix="n").tenant(a_tenant("pcl").quota(ASCEND, 16)).build()
    jobs = [a_job(f"j{i}").tenant("pcl").accelerators(8).build() for i in range(3)]
    result = decide(pool, pending=jobs, policy="fifo")
    assert_outcomes(result, {"j0": ADMITTED, "j1": ADMITTED, "j2": "OVER_QUOTA"})
    message = result.pending["j2"].message
    assert "pcl" in message and ASCEND in message


def test_a_cycle_counts_running_work_against_quota() -> None:
    pool = a_pool().nodes(4, ASCEND, prefix="n").tenant(a_tenant("pcl").quota(ASCEND, 16)).build()
    running = [a_job("r").tenant("pcl").accelerators(8).running_on(("n-000", 8))]
    jobs = [a_job(f"j{i}").tenant("pcl").accelerators(8).build() for i in range(2)]
    result = decide(pool, pending=jobs, running=running)
    assert_outcomes(result, {"j0": ADMITTED, "j1": "OVER_QUOTA"})


def test_an_admission_says_when_it_borrows_from_the_cohort() -> None:
    pool = (
        a_pool()
        .nodes(4, ASCEND, prefix="n")
        .tenant(a_tenant("a").cohort("c").quota(ASCEND, 8, borrowing=8))
        .tenant(a_tenant("b").cohort("c").quota(ASCEND, 16))
        .build()
    )
    jobs = [a_job(f"a{i}").tenant("a").accelerators(8).build() for i in range(3)]
    result = decide(pool, pending=jobs, policy="fifo")
    assert_outcomes(result, {"a0": ADMITTED, "a1": ADMITTED, "a2": "OVER_QUOTA"})
    assert not admission(result, "a0").borrowing
    assert admission(result, "a1").borrowing


def test_a_job_with_two_models_uses_the_one_its_quota_still_admits() -> None:
    pool = (
        a_pool()
        .nodes(2, ASCEND, prefix="a")
        .nodes(2, H800, prefix="h")
        .tenant(a_tenant("pcl").quota(ASCEND, 8).quota(H800, 8))
        .build()
    )
    running = [a_job("r").tenant("pcl").accelerators(8).running_on(("a-000", 8))]
    job = a_job("j").tenant("pcl").accelerators(8).models(ASCEND, H800).build()
    result = decide(pool, pending=[job], running=running)
    assert admission(result, "j").placement.model == H800


def test_over_quota_is_not_infeasible_but_a_request_above_the_ceiling_is() -> None:
    pool = a_pool().nodes(4, ASCEND, prefix="n").tenant(a_tenant("pcl").quota(ASCEND, 8)).build()
    running = [a_job("r").tenant("pcl").accelerators(8).running_on(("n-000", 8))]
    jobs = [
        a_job("fits-later").tenant("pcl").accelerators(8).build(),
        a_job("never").tenant("pcl").gang(2, ASCEND, 8).build(),
    ]
    result = decide(pool, pending=jobs, running=running)
    assert result.pending["fits-later"].code is ReasonCode.OVER_QUOTA
    assert result.rejected["never"].code is ReasonCode.QUOTA_TOO_SMALL


def test_a_cycle_rejects_a_job_for_a_model_the_tenants_quotas_do_not_list() -> None:
    pool = (
        a_pool()
        .nodes(1, ASCEND, prefix="a")
        .nodes(1, H800, prefix="h")
        .tenant(a_tenant("pcl").quota(ASCEND, 8))
        .build()
    )
    only_h800 = a_job("h800").tenant("pcl").gang(1, H800, 1).build()
    either = a_job("either").tenant("pcl").accelerators(8).models(ASCEND, H800).build()
    result = decide(pool, pending=[only_h800, either])
    assert result.rejected["h800"].code is ReasonCode.QUOTA_TOO_SMALL
    assert H800 in result.rejected["h800"].message
    assert admission(result, "either").placement.model == ASCEND
