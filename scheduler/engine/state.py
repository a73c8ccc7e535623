"""The cluster state kept up to date between cycles, so a cycle does not rebuild the world.

The coordinator (and the simulator, and benchmarks) own one `ClusterState`: they submit jobs,
apply each cycle's decisions, report finished jobs and node changes, and take a `snapshot()` for
the next cycle. Updates are incremental: the capacity index moves single nodes between buckets,
and only the tenant queues that changed are re-sorted.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping

from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.jobs import Job, RunningJob
from scheduler.domain.nodes import NodeState
from scheduler.domain.pool import Pool
from scheduler.domain.residency import Approval
from scheduler.engine.decisions import CycleResult
from scheduler.engine.index import CapacityIndex
from scheduler.engine.running_index import RunningIndex
from scheduler.engine.snapshot import PoolFacts, Shape, Snapshot, count_shapes, shape_of
from scheduler.ledger.budgets import Budgets
from scheduler.policy.fairshare import accrue, accrue_rates
from scheduler.policy.service import ServiceHistory

_priority = operator.attrgetter("priority")
_seq = operator.attrgetter("seq")


def _queued(
    pending: Mapping[str, Job], jobs: Iterable[Job]
) -> tuple[tuple[Job, ...], dict[str, tuple[Job, ...]]]:
    """Those of `jobs` still pending (as `pending` holds them), in seq order, and by tenant in
    queue order (priority descending, then seq): what filtering all pending jobs and every
    queue would give."""
    chosen = [held for job in jobs if (held := pending.get(job.id)) is not None]
    chosen.sort(key=_seq)  # usually in order already: one pass
    by_tenant: dict[str, list[Job]] = {}
    for job in chosen:
        rows = by_tenant.get(job.tenant)
        if rows is None:
            by_tenant[job.tenant] = [job]
        else:
            rows.append(job)
    return tuple(chosen), _in_queue_order(by_tenant)


def _in_queue_order(by_tenant: dict[str, list[Job]]) -> dict[str, tuple[Job, ...]]:
    """Each tenant's jobs, given in seq order, in queue order (`queue_key`): sorted by priority
    alone, a C key, since the sort is stable, not by a Python call per job."""
    queues: dict[str, tuple[Job, ...]] = {}
    for tenant, rows in by_tenant.items():
        if rows:
            rows.sort(key=_priority, reverse=True)
            queues[tenant] = tuple(rows)
    return queues


class TenantQueues(Mapping[str, tuple[Job, ...]]):
    """Pending jobs per tenant, by (priority descending, seq): `base` with the queues of the
    tenants in `stale` rebuilt from `pending` (in seq order), worked out on first read."""

    __slots__ = ("_base", "_pending", "_stale", "worked_out")

    def __init__(
        self,
        base: dict[str, tuple[Job, ...]],
        stale: frozenset[str],
        pending: tuple[Job, ...],
    ) -> None:
        self._base = base  # never changed: replaced whole by the state
        self._stale = stale
        self._pending = pending
        self.worked_out: dict[str, tuple[Job, ...]] | None = None

    def _queues(self) -> dict[str, tuple[Job, ...]]:
        queues = self.worked_out
        if queues is None:
            queues = dict(self._base)
            if self._stale:
                by_tenant: dict[str, list[Job]] = {t: [] for t in self._stale}
                for job in self._pending:
                    rows = by_tenant.get(job.tenant)
                    if rows is not None:
                        rows.append(job)
                rebuilt = _in_queue_order(by_tenant)  # `pending` is in seq order
                for tenant in by_tenant:
                    queue = rebuilt.get(tenant)
                    if queue is None:
                        queues.pop(tenant, None)
                    else:
                        queues[tenant] = queue
            self.worked_out = queues
        return queues

    def __getitem__(self, tenant: str) -> tuple[Job, ...]:
        return self._queues()[tenant]

    def __iter__(self) -> Iterator[str]:
        return iter(self._queues())

    def __len__(self) -> int:
        return len(self._queues())


class ClusterState:
    def __init__(self, pool: Pool, usage: Mapping[str, int] | None = None) -> None:
        self.facts = PoolFacts.of(pool)
        self.index = CapacityIndex.build(pool.nodes.values(), pool.catalogue)
        self.node_state = {node.id: node.state for node in pool.nodes.values()}
        self.running: dict[str, RunningJob] = {}
        self.used: dict[tuple[str, str], int] = {}
        self.running_index = RunningIndex(pool)
        self.pending: dict[str, Job] = {}
        self.usage: dict[str, int] = dict(usage or {})
        self.approvals: dict[str, Approval] = dict(pool.approvals)
        self._pending_sorted = True  # dict order equals seq order unless a job was requeued
        self._shapes: dict[Shape, int] = {}  # pending jobs by shape
        # TFLOPS each tenant's running jobs hold (Σ accelerators × model TFLOPS), for fair share
        self._rates: dict[str, int] = {}
        self._last_seq = -1
        self._queues: dict[str, tuple[Job, ...]] = {}  # worked out as of some snapshot
        self._stale: set[str] = set()  # tenants changed between that snapshot and the last
        self._lazy: TenantQueues | None = None  # the last snapshot's queues
        self._dirty: set[str] = set()  # tenants changed since the last snapshot
        self._touched: set[int] = set()
        self._accrued_at: int | None = None
        self.budgets: Budgets | None = None  # capacity groups changed since the last snapshot
        self.service = ServiceHistory()  # attained service and finished run times (las, qssf)

    @property
    def pool(self) -> Pool:
        return self.facts.pool

    def with_pool(self, pool: Pool) -> ClusterState:
        """The same jobs, usage and budgets over a changed pool (a node added, removed or
        redescribed; a tenant or an approval put). Every running job's nodes must still be in
        `pool` with room for it. Rebuilt from scratch: operators change the pool rarely."""
        state = ClusterState(pool, self.usage)
        state._accrued_at = self._accrued_at
        state.budgets = self.budgets
        state.service = self.service
        for node in pool.nodes.values():
            if node.state is not NodeState.UP:
                state.set_node_state(node.id, node.state)
        for running in self.running.values():
            state.start(running)
        for job in self.pending.values():
            state.submit(job)
        return state

    # ------------------------------------------------------------ changes
    def submit(self, job: Job) -> None:
        self.submit_many((job,))

    def submit_many(self, jobs: Iterable[Job]) -> None:
        """`submit` each of `jobs`, in order (the same checks, fewer lookups a job)."""
        pending, running, shapes, dirty = self.pending, self.running, self._shapes, self._dirty
        last = self._last_seq
        for job in jobs:
            job_id = job.id
            if job_id in pending or job_id in running:
                raise InvalidField("job.id", f"job {job_id!r} is already known")
            pending[job_id] = job
            shape = shape_of(job)
            shapes[shape] = shapes.get(shape, 0) + 1
            if job.seq < last:
                self._pending_sorted = False
            else:
                last = job.seq
            dirty.add(job.tenant)
        self._last_seq = last

    def cancel(self, job_id: str, at: int | None = None) -> None:
        """Remove a pending job, or release a running one (at `at`, see `finish`); either way
        the job is over and its attained service forgotten."""
        job = self._pop_pending(job_id)
        if job is not None:
            self._dirty.add(job.tenant)
        else:
            self.finish(job_id, at)
        self.service.forget(job_id)

    def apply(self, result: CycleResult, now: int, *, requeue_victims: bool = True) -> None:
        """Take a committed cycle's decisions: admitted jobs run, victims free their capacity and
        go back to pending, unless `requeue_victims` is False: the coordinator requeues a victim
        only once its executor reports it stopped, so it is never admitted twice at once."""
        for preemption in result.preemptions:
            victim = self.finish(preemption.job_id, now)
            if requeue_victims:
                self.submit_requeued(victim.job)
        for admission in result.admissions:
            if self.budgets is not None and admission.funding is not None:
                self.budgets.take(admission.tenant, admission.funding, now)
            job = self._pop_pending(admission.job_id)
            if job is None:
                raise KeyError(admission.job_id)
            self._dirty.add(job.tenant)
            self._take(RunningJob(job, admission.placement, now))
        for job_id in result.rejected:
            rejected = self._pop_pending(job_id)
            if rejected is not None:
                self._dirty.add(rejected.tenant)
                self.service.forget(job_id)

    def submit_requeued(self, job: Job) -> None:
        self._add_pending(job)
        self._pending_sorted = False
        self._dirty.add(job.tenant)

    def start(self, running: RunningJob) -> None:
        """Record a job that holds capacity (recovery, tests)."""
        self._pop_pending(running.id)
        self._dirty.add(running.job.tenant)
        self._take(running)

    def finish(self, job_id: str, at: int | None = None) -> RunningJob:
        """Release a running job's capacity: its attempt is over (it may be queued again). With
        `at`, the attempt's accelerator-seconds since it started count towards the job's attained
        service (what `las` orders by); without, the attempt is not counted."""
        running = self.running.pop(job_id, None)
        if running is None:
            raise UnknownReference("job_id", f"job {job_id!r} is not running")
        if at is not None:
            self.service.attempt_ended(
                job_id, running.placement.accelerators, running.started_at, at
            )
        for node, count in running.placement.workers:
            n = self.index.nid[node]
            self.index.release(n, count)
            self._touched.add(self.index.node_group[n])
        self._count(running, -1)
        self.running_index.remove(running)
        return running

    def retire(self, job: Job, *, finished: bool) -> None:
        """The job is over for good (after `finish` if it was running): its attained service is
        forgotten, and when `finished` (it succeeded or failed after running; not cancelled) its
        run time over all attempts joins its tenant's history (what `qssf` estimates from)."""
        self.service.job_ended(job.id, job.tenant, job.gang.total, finished=finished)

    def set_service(self, service: ServiceHistory) -> None:
        """Service figures rebuilt elsewhere (a restart's replay of the event log)."""
        self.service = service

    def set_node_state(self, node_id: str, state: NodeState) -> None:
        n = self.index.nid.get(node_id)
        if n is None:
            raise UnknownReference("node_id", f"unknown node {node_id!r}")
        self.node_state[node_id] = state
        self.index.set_schedulable(n, state.schedulable)
        self._touched.add(self.index.node_group[n])

    def set_budgets(self, budgets: Budgets | None) -> None:
        """Money as the ledger has it now (the coordinator refreshes it after settlements);
        `apply` takes each admission's reservation from it so cycles in between stay right."""
        self.budgets = budgets

    def set_usage(self, usage: Mapping[str, int], accrued_at: int | None = None) -> None:
        """Fair-share usage as accrued up to `accrued_at` (a restart's stored figures): the next
        `accrue_usage` decays it over the time since."""
        self.usage = dict(usage)
        if accrued_at is not None:
            self._accrued_at = accrued_at

    def accrue_usage(self, now: int, half_life_s: int) -> None:
        """Bring fair-share usage up to `now`: old usage decays, running jobs add their
        TFLOP-seconds since the last call (the first call only sets the starting point)."""
        if self._accrued_at is not None and now > self._accrued_at:
            elapsed = now - self._accrued_at
            usage = self.usage
            rates = self._rates
            if sum(1 for t in rates.keys() - usage.keys() if rates[t]) > 1:
                # tenants new to `usage` join it in the order of the running jobs
                self.usage = accrue(
                    usage, self.running.values(), self.facts.tflops_by_model, elapsed, half_life_s
                )
            else:
                self.usage = accrue_rates(usage, self._rates, elapsed, half_life_s)
        if self._accrued_at is None or now > self._accrued_at:
            self._accrued_at = now

    def pending_shapes(self) -> dict[Shape, int]:
        """How many jobs wait, by shape (see `snapshot.shape_of`): a copy."""
        return self._shapes.copy()

    def _add_pending(self, job: Job) -> None:
        old = self.pending.get(job.id)
        if old is not None:
            self._uncount(old)
        self.pending[job.id] = job
        shape = shape_of(job)
        self._shapes[shape] = self._shapes.get(shape, 0) + 1

    def _pop_pending(self, job_id: str) -> Job | None:
        job = self.pending.pop(job_id, None)
        if job is not None:
            self._uncount(job)
        return job

    def _uncount(self, job: Job) -> None:
        shape = shape_of(job)
        left = self._shapes[shape] - 1
        if left:
            self._shapes[shape] = left
        else:
            del self._shapes[shape]

    def _take(self, running: RunningJob) -> None:
        for node, count in running.placement.workers:
            n = self.index.nid[node]
            self.index.allocate(n, count)
            self._touched.add(self.index.node_group[n])
        self.running[running.id] = running
        self._count(running, 1)
        self.running_index.add(running)

    def _count(self, running: RunningJob, sign: int) -> None:
        tenant = running.job.tenant
        model = running.placement.model
        accelerators = running.placement.accelerators
        key = (tenant, model)
        left = self.used.get(key, 0) + sign * accelerators
        if left:
            self.used[key] = left
        else:
            self.used.pop(key, None)
        rate = accelerators * self.facts.tflops_by_model.get(model, 0)
        self._rates[tenant] = self._rates.get(tenant, 0) + sign * rate

    # ------------------------------------------------------------ reading
    def snapshot(self, only: Iterable[Job] | None = None) -> Snapshot:
        """An immutable view for one cycle. The index and running table are shared, not copied:
        `run_cycle` never writes to them, and the caller applies the result only afterwards.

        `only`: the jobs the cycle is to look at (those no longer pending are skipped), the
        other pending jobs left out. After a cycle that admitted and preempted nothing, a cycle
        over just the jobs that arrived since decides what a cycle over all of them would (the
        others meet exactly the state they failed against), when jobs that do not fit are
        skipped (a best-effort queue). Its cost grows with `only`, not with all that waits."""
        if not self._pending_sorted:
            self.pending = dict(sorted(self.pending.items(), key=lambda kv: kv[1].seq))
            self._pending_sorted = True
        # Tenants' queues are worked out when a cycle first reads them (arrival-order policies
        # never do), from the last queues worked out and the tenants changed since.
        last = self._lazy
        if last is not None and last.worked_out is not None:
            self._queues = last.worked_out
            self._stale = set(self._dirty)
        else:
            self._stale |= self._dirty
        self._dirty.clear()
        if self._touched:  # same node order as an index built from scratch
            self.index.canonicalize(sorted(self._touched))
            self._touched.clear()
        queues: Mapping[str, tuple[Job, ...]]
        if only is None:
            pending = tuple(self.pending.values())
            self._lazy = queues = TenantQueues(self._queues, frozenset(self._stale), pending)
            shapes = self._shapes.copy()
        else:
            # No tenant's whole queue is worked out: the next full snapshot does it, from the
            # last queues worked out and every tenant changed since (kept in `_stale`).
            self._lazy = None
            pending, queues = _queued(self.pending, only)
            shapes = count_shapes(pending)
        return Snapshot(
            facts=self.facts,
            index=self.index,
            running=self.running,
            pending=pending,
            queues=queues,
            used=self.used.copy(),
            running_index=self.running_index,
            usage=self.usage,
            approvals=self.approvals,
            budgets=self.budgets,
            service=self.service,
            shapes=shapes,
        )
