"""One scheduling cycle: `run_cycle(snapshot, policy, now) -> CycleResult`. Pure: no I/O, no clock,
no randomness; the snapshot is never changed (the cycle works on scratch copies).

For each pending job, in the order the policy gives:
  1. order     — arrival order, or tenants' heads by priority and weighted fair share
  2. intake    — feasible models / zones / gang size, else an infeasible reason (rejected)
  3. quota     — models the tenant's quota and cohort admit now, else OVER_QUOTA
  4. place     — all-or-nothing on the capacity index (backfill: without delaying the reservation)
               and, when the snapshot carries budgets, reserve the estimated cost (else NO_FUNDS)
  5. preempt   — if allowed: the fewest, lowest-priority, most recently started victims
               (las: also jobs of its priority with more attained service, highest queue first)
  6. decide    — admission, or a pending reason (and under strict FIFO, block what follows)
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property

from scheduler.domain.jobs import Job, Placement, RunningJob
from scheduler.domain.money import Money, accelerator_seconds_cost
from scheduler.engine.decisions import Admission, CycleResult, PendingReasons, Preemption
from scheduler.engine.index import CapacityIndex
from scheduler.engine.intake import Intake, JobPlan
from scheduler.engine.placement import Candidates, find_gang, find_single
from scheduler.engine.quota import QuotaState, QuotaVerdict
from scheduler.engine.reasons import PreemptionCause, Reason, ReasonCode
from scheduler.engine.snapshot import Snapshot
from scheduler.ledger.programs import Split
from scheduler.ledger.split import Supplier, split_cost
from scheduler.policy.fairshare import FairShare
from scheduler.policy.ordering import Discipline, Ranking
from scheduler.policy.placement import Fit
from scheduler.policy.preemption import victim_order
from scheduler.policy.registry import Policy

# Bounds the work one blocked job may spend looking for victims.
MAX_VICTIM_CANDIDATES = 256
# Bounds how many blocked jobs may try for the backfill reservation in one cycle (each try
# replays the ends of all running jobs).
MAX_RESERVATION_TRIES = 4

Found = list[tuple[int, int]]  # [(node handle, ranks on it)]


def run_cycle(snapshot: Snapshot, policy: Policy, now: int, *, alike: bool = True) -> CycleResult:
    """One cycle's decisions. `alike=False` decides every waiting job through every step
    instead of giving a job the reason of an earlier one like it (see `_Cycle.like_key`): the
    same decisions, more slowly; tests compare the two."""
    return _Cycle(snapshot, policy, now, alike).run()


class _Cycle:
    def __init__(self, snapshot: Snapshot, policy: Policy, now: int, alike: bool = True) -> None:
        self.alike = alike
        self.snap = snapshot
        self.policy = policy
        self.now = now
        self.best = policy.placement.fit is Fit.BEST
        self.index: CapacityIndex = snapshot.index.copy()
        # `quota`, `fair` and `alloc` are worked out on first use (below): a cycle that admits
        # nothing and reads no shares needs none of them. Intake reads quota ceilings only,
        # which depend on the configuration alone, not on what is in use.
        self.intake = Intake(snapshot, policy.placement, QuotaState(snapshot.facts), now)
        self.alloc: dict[str, dict[str, int]] | None = None  # see `allocated`
        self.alloc_changes: list[tuple[str, str, int]] = []  # see `held`
        self.evicted: set[str] = set()  # running jobs this cycle has preempted
        self.shares: dict[str, int] = {}  # fair-share values, dropped when a tenant's use changes
        self.admissions: list[Admission] = []
        self.preemptions: list[Preemption] = []
        self.pending: dict[str, Reason] = {}
        self.rejected: dict[str, Reason] = {}
        # shapes known not to fit: valid while capacity only shrinks, cleared when it grows
        self.no_room: dict[tuple[int, int, int], Reason] = {}
        self.no_victims: set[tuple[object, ...]] = set()
        self.room_reasons: dict[tuple[int, int, int], Reason] = {}  # NO_CAPACITY words by shape
        self.unfunded: dict[tuple[object, ...], Reason] = {}  # NO_FUNDS refusals, see `fund`
        # walltime and programs move a waiting job's decision only through funds or backfill
        self.costed = snapshot.budgets is not None or policy.queue.discipline is Discipline.BACKFILL
        # waiting jobs' reasons by `like_key`, with the `version` they hold for
        self.decided: dict[tuple[object, ...], tuple[tuple[object, ...], Reason]] = {}
        self.blocked_by: Reason | None = None  # strict FIFO: set once the head is blocked
        self.blocked_run: Sequence[Job] = ()  # strict FIFO: the jobs decided as one run behind it
        self.reservation: tuple[str, int] | None = None  # backfill: (job id, shadow start time)
        self.reservation_tries = 0
        self.started: list[tuple[Job, Placement]] = []  # admitted this cycle
        self.budgets = snapshot.budgets.copy() if snapshot.budgets is not None else None
        # service-based policies (las, qssf) rank every job; the others read no service figures
        self.ranking: Ranking | None = policy.queue.ranking(snapshot.service, now)
        self.victim_key: Callable[[RunningJob], tuple[int, ...]] = (
            victim_order if self.ranking is None else self.ranking.victim_key
        )

    # ---------------------------------------------------------------- worked out on first use
    @cached_property
    def quota(self) -> QuotaState:
        return QuotaState.of_used(self.snap.facts, self.snap.used)

    @cached_property
    def fair(self) -> FairShare:
        return self.snap.facts.fair_share(self.policy.half_life_s)

    def allocated(self) -> dict[str, dict[str, int]]:
        """Accelerators each tenant holds per model, as this cycle has changed them (worked out
        on first call; until then, `held` keeps the changes aside)."""
        alloc = self.alloc
        if alloc is None:
            alloc = self.alloc = {}
            for (tenant_id, model), count in self.snap.used.items():
                alloc.setdefault(tenant_id, {})[model] = count
            for tenant_id, model, delta in self.alloc_changes:
                per = alloc.setdefault(tenant_id, {})
                per[model] = per.get(model, 0) + delta
            self.alloc_changes.clear()
        return alloc

    def held(self, tenant_id: str, model: str, delta: int) -> None:
        """`delta` more accelerators of `model` held by the tenant."""
        alloc = self.alloc
        if alloc is not None:
            per = alloc.setdefault(tenant_id, {})
            per[model] = per.get(model, 0) + delta
        else:
            self.alloc_changes.append((tenant_id, model, delta))
        self.shares.pop(tenant_id, None)

    # ---------------------------------------------------------------- the cycle
    def run(self) -> CycleResult:
        considered = 0
        queue = self.policy.queue
        # strict FIFO: once the head blocks, every later job that can run at all waits behind it
        strict_arrival = queue.arrival_order and queue.discipline is Discipline.STRICT
        for job in self.ordered():  # 1. order
            considered += 1
            plan = self.intake.plan(job)  # 2. intake
            if isinstance(plan, Reason):
                self.rejected[job.id] = plan
                continue
            if self.blocked_by is not None:
                self.pending[job.id] = self.blocked_by
                continue
            like = self.like_key(job, plan)
            version = self.version() if like is not None else ()
            if like is not None:
                decided = self.decided.get(like)
                if decided is not None and decided[0] == version:
                    self.pending[job.id] = decided[1]  # as the job like it, in the same state
                    continue
            allowed, verdicts = self.quota_allowed(plan, job.gang.total)  # 3. quota
            if allowed:
                found = self.place(job, plan, plan.for_models(allowed, self.index))  # 4. place
                if found is not None:
                    funding = self.fund(job, plan, found)
                    if isinstance(funding, Reason):
                        self.pending[job.id] = funding
                        self.remember_pending(job, like, version)
                    else:
                        self.commit(job, plan, found, verdicts, funding=funding)
                    continue
                reason = self.no_room_reason(job, plan)
            else:
                reason = Reason(
                    ReasonCode.OVER_QUOTA,
                    f"tenant {plan.tenant.id}: " + "; ".join(v.why for v in verdicts.values()),
                )
            if self.may_preempt() and self.preempt(job, plan):  # 5. preempt
                self.remember_pending(job, like, version)
                continue
            self.decide_pending(job, plan, reason)  # 6. decide
            self.remember_pending(job, like, version)
            if strict_arrival and self.blocked_by is not None and self.block_rest(considered):
                considered = len(self.snap.pending)
                break
        pending: Mapping[str, Reason] = self.pending
        if self.blocked_run:
            pending = PendingReasons(self.pending, self.blocked_run, self.blocked_by)
        return CycleResult(
            now=self.now,
            policy=self.policy.name,
            admissions=tuple(self.admissions),
            preemptions=tuple(self.preemptions),
            pending=pending,
            rejected=self.rejected,
            considered=considered,
        )

    # ---------------------------------------------------------------- jobs alike
    def like_key(self, job: Job, plan: JobPlan) -> tuple[object, ...] | None:
        """What decides where a job of an accepted plan goes, beyond the cycle's state: its
        plan (tenant, class, models, zones, gang; programs when money counts) and priority
        (whom it may preempt); when money is checked or the queue backfills, also its walltime
        and programs (what it would cost, whether it ends before a reservation). Two jobs with
        equal keys meet the same quota, capacity, funds and victims, so while nothing was
        admitted, preempted or reserved in between, the second waits for the first's reason.
        None under service-ranked policies (las, qssf), where each job's own attained service
        decides whom it may displace."""
        if self.ranking is not None or not self.alike:
            return None
        gang = job.gang
        if self.costed:
            return (
                id(plan),
                gang.workers,
                gang.per_worker,
                job.priority,
                job.walltime_s,
                job.programs,
            )
        return (id(plan), gang.workers, gang.per_worker, job.priority)

    def version(self) -> tuple[object, ...]:
        """Changes to the cycle's state that move a waiting job's decision: admissions (which
        hold capacity, quota and funds), preemptions, the backfill reservation and its tries."""
        return (
            len(self.admissions),
            len(self.preemptions),
            self.reservation,
            self.reservation_tries,
        )

    def remember_pending(
        self, job: Job, like: tuple[object, ...] | None, version: tuple[object, ...]
    ) -> None:
        """After `job` was decided: if it waits and deciding it changed nothing (a backlog of
        one shape, the usual case under load), jobs like it take its reason without the
        quota, placement, funding and preemption steps. A strict-FIFO head that blocked the
        rest is not remembered: the jobs behind it are decided as blocked anyway."""
        if like is None or self.blocked_by is not None:
            return
        reason = self.pending.get(job.id)
        if reason is not None and self.version() == version:
            self.decided[like] = (version, reason)

    def block_rest(self, start: int) -> bool:
        """Strict FIFO, the head (at `start` - 1 in arrival order) just blocked: if no pending job
        can be infeasible (judged once per job shape, not per job), every job after it waits
        behind it, decided as one run. False: some may be infeasible, look at each."""
        shapes = self.snap.shapes
        if shapes is None or self.intake.infeasible(shapes):
            return False
        self.blocked_run = self.snap.pending[start:]
        return True

    # ---------------------------------------------------------------- 1. order
    def ordered(self) -> Iterator[Job]:
        if self.policy.queue.arrival_order:
            yield from self.snap.pending
            return
        if self.ranking is not None:
            yield from self.ranking.order(self.snap.pending)
            return
        queues = dict(self.snap.queues)  # one lookup per job below, from a plain dict
        if len(queues) == 1:
            # One tenant waiting (a flood from one submitter, or a cycle over its new jobs):
            # its head is always the heap's only entry, so the order is its queue's.
            [queue] = queues.values()
            yield from queue
            return
        head_key = self.policy.queue.head_key
        heap: list[tuple[tuple[int, ...], str, int]] = []
        for tenant, queue in queues.items():
            if queue:
                heap.append((head_key(queue[0], self.share(tenant)), tenant, 0))
        heapq.heapify(heap)
        while heap:
            _, tenant, i = heapq.heappop(heap)
            queue = queues[tenant]
            yield queue[i]
            # the share is read after the job was handled, so an admission moves the tenant back
            if i + 1 < len(queue):
                heapq.heappush(heap, (head_key(queue[i + 1], self.share(tenant)), tenant, i + 1))

    def share(self, tenant_id: str) -> int:
        cached = self.shares.get(tenant_id)
        if cached is not None:
            return cached
        tenant = self.snap.pool.tenants.get(tenant_id)
        value = 0
        if tenant is not None:
            value = self.fair.share_ppm(
                tenant.weight,
                self.allocated().get(tenant_id, {}),
                self.snap.usage.get(tenant_id, 0),
            )
        self.shares[tenant_id] = value
        return value

    # ---------------------------------------------------------------- 3. quota
    def quota_allowed(
        self, plan: JobPlan, total: int
    ) -> tuple[tuple[str, ...], dict[str, QuotaVerdict]]:
        tenant = plan.tenant
        if tenant.quotas is None:
            return plan.models, {}
        check = self.quota.check
        if len(plan.models) == 1:
            model = plan.models[0]
            verdict = check(tenant, model, total)
            return (plan.models if verdict.ok else ()), {model: verdict}
        verdicts = {m: check(tenant, m, total) for m in plan.models}
        return tuple(m for m in plan.models if verdicts[m].ok), verdicts

    # ---------------------------------------------------------------- 4. place
    def find(self, job: Job, cands: Candidates) -> Found | None:
        gang = job.gang
        if gang.workers == 1:
            node = find_single(self.index, cands, gang.per_worker, self.best)
            return None if node is None else [(node, 1)]
        # a funded attempt bills one supplier at one price, so its gang stays in one group
        one_group = self.budgets is not None
        return find_gang(self.index, cands, gang.workers, gang.per_worker, self.best, one_group)

    def place(self, job: Job, plan: JobPlan, cands: Candidates) -> Found | None:
        key = (id(cands), job.gang.workers, job.gang.per_worker)
        if key in self.no_room:
            return None
        found = self.find(job, cands)
        if found is None and self.reservation is not None:
            found = self.backfill(job, cands)
        if found is None and not self.index.held:
            self.no_room[key] = self.no_room_reason(job, plan)
        return found

    def backfill(self, job: Job, cands: Candidates) -> Found | None:
        """Under a reservation, a job may use the held nodes only if it ends before the reserved
        job is due to start."""
        assert self.reservation is not None
        if self.now + job.walltime_s > self.reservation[1]:
            return None
        held = sorted(self.index.held)
        for node in held:
            self.index.unhold(node)
        found = self.find(job, cands)
        for node in held:  # still held after the job's commit takes its share of them
            self.index.hold(node)
        return found

    def commit(
        self,
        job: Job,
        plan: JobPlan,
        found: Found,
        verdicts: dict[str, QuotaVerdict],
        preempts: tuple[str, ...] = (),
        funding: Split | None = None,
    ) -> None:
        index = self.index
        k = job.gang.per_worker
        group = index.groups[index.node_group[found[0][0]]]
        workers: list[tuple[str, int]] = []
        for node, ranks in found:
            index.allocate(node, ranks * k)
            workers.extend([(index.names[node], k)] * ranks)
        placement = Placement(group.model, group.zone, tuple(workers), plan.approval_of[group.zone])
        total = job.gang.total
        if plan.tenant.quotas is not None:  # a tenant without quotas is never checked
            self.quota.charge(plan.tenant, group.model, total)
        alloc = self.alloc  # `held`, inline: once per admission
        if alloc is not None:
            per = alloc.setdefault(job.tenant, {})
            per[group.model] = per.get(group.model, 0) + total
        else:
            self.alloc_changes.append((job.tenant, group.model, total))
        self.shares.pop(job.tenant, None)
        verdict = verdicts.get(group.model)
        self.started.append((job, placement))
        self.admissions.append(
            Admission(
                job.id,
                job.tenant,
                placement,
                verdict is not None and verdict.borrowing,
                preempts,
                funding,
            )
        )

    def fund(self, job: Job, plan: JobPlan, found: Found) -> Split | Reason | None:
        """Reserve the estimated cost of running `job` on `found` for its walltime: the programs
        it names pay their shares, the tenant's balance the rest. None when money is not
        checked; a NO_FUNDS reason (nothing reserved) when the balance is short."""
        budgets = self.budgets
        if budgets is None:
            return None
        index = self.index
        per_worker = job.gang.per_worker
        # accelerator-seconds per (owner, price), rounded once each, as settlement will
        seconds: dict[tuple[str, Money], int] = {}
        nodes: list[str] = []
        group = index.groups[index.node_group[found[0][0]]]
        for node, ranks in found:
            g = index.groups[index.node_group[node]]
            key = (g.owner, g.price)
            seconds[key] = seconds.get(key, 0) + ranks * per_worker * job.walltime_s
            nodes.append(index.names[node])
        cost = sum(accelerator_seconds_cost(price, s).minor for (_, price), s in seconds.items())
        owners = {owner for owner, _ in seconds}
        currency = group.price.currency  # a gang stays in one zone, which bills in one currency
        supplier = Supplier(group.owner if len(owners) == 1 else "", tuple(nodes), group.domestic)
        # Money moves only when a job is admitted (`take` clears this): until then the same
        # tenant asking the same programs for the same cost at the same supplier is refused
        # the same way, and a backlog of such jobs is refused without splitting each again.
        memo = (job.tenant, currency, cost, job.programs, supplier)
        refused = self.unfunded.get(memo)
        if refused is not None:
            return refused
        split = split_cost(
            cost,
            currency,
            job.programs,
            budgets.programs,
            plan.tenant,
            supplier,
            budgets.funds,
            self.now,
        )
        balance = budgets.balance(job.tenant, currency)
        if split.copay > balance:
            refused = Reason(
                ReasonCode.NO_FUNDS,
                f"tenant {job.tenant}: co-payment {Money(currency, split.copay)} exceeds its"
                f" balance {Money(currency, balance)} (estimated cost"
                f" {Money(currency, cost)}, programs pay {Money(currency, split.subsidy)})",
            )
            self.unfunded[memo] = refused
            return refused
        budgets.take(job.tenant, split, self.now)
        self.unfunded.clear()
        return split

    def no_room_reason(self, job: Job, plan: JobPlan) -> Reason:
        # Its words depend on the shape alone: a backlog of one shape shares one (immutable)
        # reason instead of formatting thousands of equal ones every cycle.
        gang = job.gang
        key = (id(plan), gang.workers, gang.per_worker)
        reason = self.room_reasons.get(key)
        if reason is None:
            zones = "/".join(sorted({z.value for _, z in plan.combos}))
            alone = " with one supplier" if self.budgets is not None and gang.workers > 1 else ""
            reason = Reason(
                ReasonCode.NO_CAPACITY,
                f"waiting for {gang.workers}×{gang.per_worker} of {'|'.join(plan.models)} in"
                f" {zones}{alone}",
            )
            self.room_reasons[key] = reason
        return reason

    # ---------------------------------------------------------------- 5. preempt
    def may_preempt(self) -> bool:
        return self.policy.queue.preemption and self.reservation is None

    def preempt(self, job: Job, plan: JobPlan) -> bool:
        """Try to make room by preemption. True when the job is decided: admitted, or pending
        with NO_FUNDS because it could not pay for the room it would get."""
        memo: tuple[object, ...] = (
            job.tenant,
            job.priority,
            id(plan),
            job.gang.workers,
            job.gang.per_worker,
        )
        if self.ranking is not None:  # jobs of different queues may displace different jobs
            memo += (self.ranking.tier(job),)
        if memo in self.no_victims:
            return False
        chosen = self.victims(job, plan)
        if not chosen:
            self.no_victims.add(memo)
            return False
        if job.gang.workers == 1 and self.preempt_on_one_node(job, plan, chosen):
            return True
        released: list[tuple[RunningJob, PreemptionCause]] = []
        for victim, cause in chosen:
            if not self.reclaimable(victim, cause):
                continue  # earlier victims brought its tenant back within nominal
            self.evict(victim)
            released.append((victim, cause))
            if self.fits(job, plan) is not None:
                break
        else:
            for victim, _ in released:
                self.restore(victim)
            self.no_victims.add(memo)
            return False
        # keep only the victims that are needed: put each back and see if the job still fits
        for i in range(len(released) - 2, -1, -1):
            victim = released[i][0]
            self.restore(victim)
            if self.fits(job, plan) is None:
                self.evict(victim)
            else:
                del released[i]
        fit = self.fits(job, plan)
        assert fit is not None
        return self.finish_preemption(job, plan, fit, released)

    def preempt_on_one_node(
        self, job: Job, plan: JobPlan, chosen: list[tuple[RunningJob, PreemptionCause]]
    ) -> bool:
        """A single-node job needs room on one node: pick the node where the fewest (then the
        lowest-priority, most recently started) victims make enough room."""
        allowed, _ = self.quota_allowed(plan, job.gang.total)
        if not allowed:
            return False  # quota is short, not room: the general search handles reclaim
        index = self.index
        groups = set(plan.for_models(allowed, index).gids)
        need = job.gang.per_worker
        on_node: dict[int, list[tuple[RunningJob, PreemptionCause, int]]] = {}
        for victim, cause in chosen:
            for node, count in victim.placement.per_node().items():  # a node once per victim
                n = index.nid[node]
                if index.node_group[n] in groups and index.schedulable(n) and n not in index.held:
                    on_node.setdefault(n, []).append((victim, cause, count))
        best: tuple[tuple[int, ...], list[tuple[RunningJob, PreemptionCause]]] | None = None
        for n, rows in on_node.items():
            room = index.free[n]
            picked: list[tuple[RunningJob, PreemptionCause]] = []
            counts: list[int] = []
            releasing: dict[tuple[str, str], int] = {}  # (tenant, model) -> picked so far
            for victim, cause, count in rows:
                if room >= need:
                    break
                owed = (victim.job.tenant, victim.placement.model)
                if not self.reclaimable(victim, cause, releasing.get(owed, 0)):
                    continue
                releasing[owed] = releasing.get(owed, 0) + victim.placement.accelerators
                picked.append((victim, cause))
                counts.append(count)
                room += count
            if room < need:
                continue
            # give back the victims the room does not need, the most valuable first
            for i in range(len(picked) - 2, -1, -1):
                if room - counts[i] >= need:
                    room -= counts[i]
                    del picked[i], counts[i]
            worst = max(self.victim_key(v) for v, _ in picked)
            key = (len(picked), *worst[:2])
            if best is None or key < best[0]:
                best = (key, picked)
        if best is None:
            return False
        picked = best[1]
        for victim, _ in picked:
            self.evict(victim)
        fit = self.fits(job, plan)
        if fit is None:
            for victim, _ in picked:
                self.restore(victim)
            return False
        return self.finish_preemption(job, plan, fit, picked)

    def reclaimable(self, victim: RunningJob, cause: PreemptionCause, releasing: int = 0) -> bool:
        """Quota is reclaimed from a borrower only while it is above its nominal quota;
        `releasing` is what the victims already chosen give back of its tenant's model."""
        if cause is not PreemptionCause.RECLAIM_QUOTA:
            return True
        tenant = self.snap.pool.tenants.get(victim.job.tenant)
        model = victim.placement.model
        return tenant is not None and self.quota.borrowing(tenant, model, releasing)

    def finish_preemption(
        self,
        job: Job,
        plan: JobPlan,
        fit: tuple[Found, dict[str, QuotaVerdict]],
        released: list[tuple[RunningJob, PreemptionCause]],
    ) -> bool:
        """Admit the job on the room its victims made; or, if it cannot pay, put the victims back
        and leave the job pending with NO_FUNDS (either way the job is decided: True)."""
        found, verdicts = fit
        funding = self.fund(job, plan, found)
        if isinstance(funding, Reason):
            for victim, _ in released:
                self.restore(victim)
            self.pending[job.id] = funding
            return True
        for victim, cause in released:
            if cause is PreemptionCause.ATTAINED_SERVICE and self.ranking is not None:
                text = self.ranking.why(job, victim)
            else:
                text = _cause_text(cause, job, victim)
            self.preemptions.append(Preemption(victim.id, victim.job.tenant, job.id, cause, text))
        self.commit(job, plan, found, verdicts, tuple(v.id for v, _ in released), funding)
        # capacity grew for everyone while victims were evicted: forget cached failures
        self.no_room.clear()
        self.no_victims.clear()
        return True

    def fits(self, job: Job, plan: JobPlan) -> tuple[Found, dict[str, QuotaVerdict]] | None:
        allowed, verdicts = self.quota_allowed(plan, job.gang.total)
        if not allowed:
            return None
        found = self.find(job, plan.for_models(allowed, self.index))
        return None if found is None else (found, verdicts)

    def victims(self, job: Job, plan: JobPlan) -> list[tuple[RunningJob, PreemptionCause]]:
        """Up to MAX_VICTIM_CANDIDATES running jobs this job may preempt, in victim order, drawn
        from indexed sources so that no search walks every running job: lower-priority jobs,
        borrowers on the nodes of the tenant's owner, and borrowers in the tenant's cohort; under
        las also jobs of its own priority (in its models and zones) that it outranks by attained
        service."""
        tenant = plan.tenant
        index = self.snap.running_index
        combos = set(plan.combos)
        found: dict[str, tuple[RunningJob, PreemptionCause]] = {}

        def offer(r: RunningJob, cause: PreemptionCause) -> None:
            if r.id in self.evicted or r.id in found:
                return
            if (r.placement.model, r.placement.zone) not in combos:
                return
            if r.job.priority < job.priority:
                cause = PreemptionCause.PRIORITY
            found[r.id] = (r, cause)

        quota_short = not self.quota_allowed(plan, job.gang.total)[0]
        ranking = self.ranking if self.policy.queue.preemption else None
        for model, zone in plan.combos:
            if ranking is not None:  # las: jobs of its priority with more attained service
                rows = (
                    index.of_tenant(tenant.id, model)
                    if quota_short
                    else index.at_priority((model, zone), job.priority)
                )
                for r in rows:
                    if r.job.priority == job.priority and ranking.displaces(job, r):
                        offer(r, PreemptionCause.ATTAINED_SERVICE)
            if quota_short:  # only the tenant's own lower-priority work frees its quota
                for r in itertools.islice(index.of_tenant(tenant.id, model), MAX_VICTIM_CANDIDATES):
                    if r.job.priority < job.priority:
                        offer(r, PreemptionCause.PRIORITY)
                continue
            lowest = index.lowest_priority((model, zone))
            if lowest is None or lowest >= job.priority:
                continue
            for r in itertools.islice(index.in_order((model, zone)), MAX_VICTIM_CANDIDATES):
                if r.job.priority >= job.priority:
                    break
                offer(r, PreemptionCause.PRIORITY)
        if tenant.owner is not None and not quota_short:
            for r in itertools.islice(index.lent_by(tenant.owner), MAX_VICTIM_CANDIDATES):
                offer(r, PreemptionCause.RECLAIM_OWNER)
        if tenant.cohort is not None and tenant.quotas is not None:  # unlimited: no nominal
            for member in self.snap.facts.cohorts.get(tenant.cohort, ()):
                if member.id == tenant.id:
                    continue
                for model in plan.models:
                    if not self.quota.borrowing(member, model):
                        continue
                    if not self.quota.check(tenant, model, job.gang.total).within_nominal:
                        continue
                    rows = itertools.islice(
                        index.of_tenant(member.id, model), MAX_VICTIM_CANDIDATES
                    )
                    for r in rows:
                        offer(r, PreemptionCause.RECLAIM_QUOTA)
        victim_key = self.victim_key
        out = sorted(found.values(), key=lambda pair: victim_key(pair[0]))
        return out[:MAX_VICTIM_CANDIDATES]

    def evict(self, victim: RunningJob) -> None:
        self._shift(victim, release=True)
        self.evicted.add(victim.id)

    def restore(self, victim: RunningJob) -> None:
        self._shift(victim, release=False)
        self.evicted.discard(victim.id)

    def _shift(self, victim: RunningJob, release: bool) -> None:
        tenant = self.snap.pool.tenants.get(victim.job.tenant)
        model = victim.placement.model
        total = victim.placement.accelerators
        sign = -1 if release else 1
        for node, count in victim.placement.workers:
            n = self.index.nid[node]
            if release:
                self.index.release(n, count)
            else:
                self.index.allocate(n, count)
        if tenant is not None:
            if release:
                self.quota.uncharge(tenant, model, total)
            else:
                self.quota.charge(tenant, model, total)
        self.held(victim.job.tenant, model, sign * total)

    # ---------------------------------------------------------------- 6. decide
    def decide_pending(self, job: Job, plan: JobPlan, reason: Reason) -> None:
        discipline = self.policy.queue.discipline
        if reason.code is not ReasonCode.NO_CAPACITY:
            self.pending[job.id] = reason
            return
        if discipline is Discipline.STRICT:
            self.pending[job.id] = reason
            self.blocked_by = Reason(ReasonCode.BLOCKED_BY_HEAD, f"waits behind job {job.id}")
            return
        if discipline is Discipline.BACKFILL:
            if self.reservation is None:
                if self.reservation_tries < MAX_RESERVATION_TRIES:
                    self.reservation_tries += 1
                    if self.reserve(job, plan):
                        return
            elif self.would_fit_unheld(job, plan):
                self.pending[job.id] = Reason(
                    ReasonCode.BACKFILL_WOULD_DELAY,
                    f"would delay job {self.reservation[0]}, due to start at {self.reservation[1]}",
                )
                return
        self.pending[job.id] = reason

    def would_fit_unheld(self, job: Job, plan: JobPlan) -> bool:
        held = sorted(self.index.held)
        for node in held:
            self.index.unhold(node)
        fits = self.fits(job, plan) is not None
        for node in held:
            self.index.hold(node)
        return fits

    def reserve(self, job: Job, plan: JobPlan) -> bool:
        """EASY backfill: find when the job could start if running jobs end at their walltime,
        and hold the nodes it would get then."""
        trial = self.index.copy()
        relevant = set(plan.candidates.gids)
        saved = self.index
        # Only jobs of the same model in the same zone can free room this job could use.
        combos = set(plan.combos)
        holding = [
            r
            for combo in plan.combos
            for r in self.snap.running_index.in_combo(combo)
            if r.id not in self.evicted
        ]
        holding += [  # admitted this cycle: running from now
            RunningJob(j, p, self.now) for j, p in self.started if (p.model, p.zone) in combos
        ]
        ends = sorted(
            (max(self.now, r.started_at + r.job.walltime_s), r.job.seq, r) for r in holding
        )
        need = job.gang.per_worker
        total = job.gang.total
        try:
            self.index = trial
            for end, _, r in ends:
                room = False  # did this release make room a search could use?
                for node, count in r.placement.workers:
                    n = trial.nid[node]
                    trial.release(n, count)
                    if trial.node_group[n] in relevant and trial.free[n] >= need:
                        room = True
                if not room:
                    continue
                if job.gang.workers > 1 and sum(trial.group_free[g] for g in relevant) < total:
                    continue
                fit = self.fits(job, plan)
                if fit is not None:
                    self.index = saved
                    for n, _ranks in fit[0]:
                        self.index.hold(n)
                    self.reservation = (job.id, end)
                    self.pending[job.id] = Reason(
                        ReasonCode.RESERVED,
                        f"capacity held: expected to start by {end} when running jobs end",
                    )
                    return True
        finally:
            self.index = saved
        return False


def _cause_text(cause: PreemptionCause, job: Job, victim: RunningJob) -> str:
    if cause is PreemptionCause.PRIORITY:
        return f"preempted by {job.id} (priority {job.priority} > {victim.job.priority})"
    if cause is PreemptionCause.RECLAIM_OWNER:
        return f"preempted by {job.id}: the node's owner reclaims lent capacity"
    return f"preempted by {job.id}: tenant {job.tenant} reclaims quota lent to its cohort"
