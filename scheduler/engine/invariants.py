"""Checks that a cycle's decisions are lawful for its snapshot. Used by property tests and the
simulator; each returns a list of violations (empty when all is well)."""

from __future__ import annotations

from scheduler.domain.residency import allowed_zones
from scheduler.engine.decisions import CycleResult
from scheduler.engine.quota import QuotaState
from scheduler.engine.reasons import PreemptionCause
from scheduler.engine.snapshot import Snapshot
from scheduler.policy.registry import Policy


def violations(snapshot: Snapshot, result: CycleResult, policy: Policy | None = None) -> list[str]:
    """With `policy`, preemptions for attained service are also checked against its ranking."""
    out: list[str] = []
    pool = snapshot.pool
    pending = {job.id: job for job in snapshot.pending}
    victims = {p.job_id for p in result.preemptions}
    running = {rid: r for rid, r in snapshot.running.items() if rid not in victims}

    # every pending job gets exactly one outcome
    admitted = [a.job_id for a in result.admissions]
    if len(set(admitted)) != len(admitted):
        out.append("a job was admitted twice")
    for job_id in pending:
        outcomes = (
            (job_id in set(admitted)) + (job_id in result.pending) + (job_id in result.rejected)
        )
        if outcomes != 1:
            out.append(f"job {job_id} has {outcomes} outcomes")
    for job_id in admitted:
        if job_id not in pending:
            out.append(f"job {job_id} admitted but was not pending")

    # capacity: nothing over a node's size, nothing new on a node that is not up
    used: dict[str, int] = {}
    for r in running.values():
        for node, count in r.placement.workers:
            used[node] = used.get(node, 0) + count
    for a in result.admissions:
        for node, count in a.placement.workers:
            used[node] = used.get(node, 0) + count
            if not snapshot.index.schedulable(snapshot.index.nid[node]):
                out.append(f"job {a.job_id} placed on node {node}, which takes no new work")
    for node, count in used.items():
        if count > pool.nodes[node].accelerators:
            out.append(f"node {node} over capacity: {count} > {pool.nodes[node].accelerators}")

    # gangs whole, one model, one zone, accepted model, residency
    for a in result.admissions:
        job = pending.get(a.job_id)
        if job is None:
            continue
        p = a.placement
        if len(p.workers) != job.gang.workers or any(
            c != job.gang.per_worker for _, c in p.workers
        ):
            out.append(f"job {job.id}: gang split or resized: {p.workers}")
        if {pool.nodes[n].model for n, _ in p.workers} != {p.model} or p.model not in job.models:
            out.append(f"job {job.id}: placed on a model it did not accept or on mixed models")
        node_zones = {pool.nodes[n].jurisdiction for n, _ in p.workers}
        if node_zones != {p.zone}:
            out.append(f"job {job.id}: gang spans zones {sorted(node_zones)}")
        zones = dict(
            allowed_zones(
                job.tenant, job.data_origin, job.approvals, dict(snapshot.approvals), result.now
            )
        )
        if p.zone not in zones or zones[p.zone] != p.approval:
            out.append(f"job {job.id}: zone {p.zone} not allowed for data from {job.data_origin}")

    # quotas: nobody above nominal + borrowing, no cohort above its lending pool
    quota = QuotaState.of(snapshot.facts, running.values())
    for a in result.admissions:
        tenant = pool.tenants[a.tenant]
        quota.charge(tenant, a.placement.model, a.placement.accelerators)
    for (tenant_id, model), count in quota.used.items():
        tenant = pool.tenants[tenant_id]
        ceiling = quota.ceiling(tenant, model)
        if ceiling is not None and count > ceiling:
            out.append(f"tenant {tenant_id} holds {count} of {model}, above its ceiling {ceiling}")
    for key, count in quota.cohort_used.items():
        if count > snapshot.facts.cohort_capacity.get(key, 0):
            out.append(f"cohort {key[0]} lends {count} of {key[1]}, more than it has")

    # money: every admission reserved its estimate, and nothing was overdrawn
    if snapshot.budgets is not None:
        out.extend(_money_violations(snapshot, result))

    # preemption only of preemptible work, of lower priority, on borrowed capacity or (las) of
    # more attained service
    ranking = policy.queue.ranking(snapshot.service, result.now) if policy is not None else None
    by_job = {a.job_id: a for a in result.admissions}
    for pre in result.preemptions:
        victim = snapshot.running.get(pre.job_id)
        preemptor = pending.get(pre.by_job)
        if victim is None or preemptor is None or pre.by_job not in by_job:
            out.append(f"preemption of {pre.job_id} by {pre.by_job} refers to unknown jobs")
            continue
        if not victim.job.preemptible:
            out.append(f"non-preemptible job {pre.job_id} was preempted")
        if pre.cause is PreemptionCause.PRIORITY and victim.job.priority >= preemptor.priority:
            out.append(f"job {pre.job_id} preempted for priority by a job of no higher priority")
        if pre.cause is PreemptionCause.ATTAINED_SERVICE:
            if victim.job.priority > preemptor.priority:
                out.append(f"job {pre.job_id} preempted for service by a job of lower priority")
            if policy is not None and (
                ranking is None
                or not policy.queue.preemption
                or not ranking.displaces(preemptor, victim)
            ):
                out.append(f"job {pre.job_id} preempted for service by a job it outranks")
        if pre.cause is PreemptionCause.RECLAIM_OWNER:
            owner = pool.tenants[preemptor.tenant].owner
            victim_owner = pool.tenants[victim.job.tenant].owner
            node_owners = {pool.nodes[n].owner for n, _ in victim.placement.workers}
            if owner is None or owner not in node_owners or victim_owner == owner:
                out.append(f"job {pre.job_id} reclaimed by an owner it did not borrow from")
        if pre.job_id not in by_job[pre.by_job].preempts:
            out.append(f"admission of {pre.by_job} does not list its victim {pre.job_id}")
    out.extend(_quota_reclaims(snapshot, result))
    return out


def _quota_reclaims(snapshot: Snapshot, result: CycleResult) -> list[str]:
    """Replays the decisions in the order they were made: quota is reclaimed only by a tenant
    that stays within its nominal quota, from another member of its cohort while that member is
    above its nominal quota."""
    out: list[str] = []
    tenants = snapshot.pool.tenants
    causes = {p.job_id: p.cause for p in result.preemptions}
    held: dict[tuple[str, str], int] = {}
    for r in snapshot.running.values():
        key = (r.job.tenant, r.placement.model)
        held[key] = held.get(key, 0) + r.placement.accelerators

    def nominal(tenant_id: str, model: str) -> int:
        tenant = tenants.get(tenant_id)
        quota = tenant.quota(model) if tenant is not None else None
        return quota.nominal if quota is not None else 0

    for a in result.admissions:
        taker = tenants.get(a.tenant)
        for victim_id in a.preempts:
            victim = snapshot.running.get(victim_id)
            if victim is None:
                continue  # reported above
            owner = tenants.get(victim.job.tenant)
            model = victim.placement.model
            key = (victim.job.tenant, model)
            if causes.get(victim_id) is PreemptionCause.RECLAIM_QUOTA:
                if (
                    taker is None
                    or owner is None
                    or taker.cohort is None
                    or owner.cohort != taker.cohort
                    or owner.id == taker.id
                ):
                    out.append(f"job {victim_id}: quota reclaimed by {a.tenant}, not a cohort peer")
                elif held.get(key, 0) <= nominal(owner.id, model):
                    out.append(
                        f"job {victim_id}: quota reclaimed from tenant {owner.id}, which was"
                        f" within its nominal quota of {model}"
                    )
                elif held.get((a.tenant, model), 0) + a.placement.accelerators > nominal(
                    a.tenant, model
                ):
                    out.append(
                        f"job {victim_id}: tenant {a.tenant} reclaimed quota of {model}"
                        " beyond its own nominal quota"
                    )
            held[key] = held.get(key, 0) - victim.placement.accelerators
        key = (a.tenant, a.placement.model)
        held[key] = held.get(key, 0) + a.placement.accelerators
    return out


def _money_violations(snapshot: Snapshot, result: CycleResult) -> list[str]:
    budgets = snapshot.budgets
    assert budgets is not None
    out: list[str] = []
    book = budgets.copy()
    for a in result.admissions:
        funding = a.funding
        if funding is None:
            out.append(f"job {a.job_id} admitted without a funding reservation")
            continue
        book.take(a.tenant, funding, result.now)
    for program_id, left in book.funds.remaining.items():
        if left < 0:
            out.append(f"program {program_id} overdrawn by {-left}")
    for (program_id, tenant, _), drawn in book.funds.drawn.items():
        cap = budgets.programs[program_id].tenant_cap
        if cap is not None and drawn > cap:
            out.append(f"tenant {tenant} drew {drawn} from {program_id}, above its cap {cap}")
    for (tenant, currency), balance in book.balances.items():
        if balance < 0:
            out.append(f"tenant {tenant} balance in {currency} would be {balance}")
    return out
