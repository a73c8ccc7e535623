"""A coordinator on a small pool, a manual clock and the fake executor, spoken to in the
domain's words: `world.submit(workers=2)`, `world.run(seconds=600)`, `world.kinds(job)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from scheduler.domain.clock import ManualClock
from scheduler.domain.geography import Currency, Jurisdiction
from scheduler.domain.jobs import Job, JobState
from scheduler.domain.pool import Pool
from scheduler.domain.requests import JobRequest
from scheduler.executor.base import Executor
from scheduler.executor.fake import FakeExecutor
from scheduler.ledger.book import Account, AccountKind
from scheduler.ledger.config import ProgramsConfig
from scheduler.policy.registry import resolve_policy
from scheduler.service.coordinator import Coordinator
from scheduler.service.settings import CoordinatorSettings
from scheduler.store.base import Store
from scheduler.store.memory import MemoryStore
from scheduler.store.records import JobRecord
from tests.builders import ASCEND, PROGRAM_START, a_pool, a_program, a_tenant

T0 = PROGRAM_START + 3600


def small_pool(nodes: int = 2) -> Pool:
    """`nodes` Shenzhen nodes of 8 Ascend at 1000 fen per accelerator-hour; tenants t1, t2."""
    return (
        a_pool()
        .nodes(nodes, ASCEND, owner="sz-gov")
        .tenant(a_tenant("t1"))
        .tenant(a_tenant("t2"))
        .build()
    )


def money(budget: int = 10_000_000, balance: int = 10_000_000) -> ProgramsConfig:
    """One program paying half of everything, and a prepaid balance for t1 and t2."""
    program = a_program("sz-voucher").rate(5000).budget(budget).build()
    return ProgramsConfig(
        {program.id: program},
        {("t1", Currency.CNY): balance, ("t2", Currency.CNY): balance},
    )


def half_walltime(job: Job) -> int:
    return max(1, job.walltime_s // 2)


@dataclass
class World:
    store: Store
    clock: ManualClock
    executor: FakeExecutor
    coordinator: Coordinator
    pool: Pool
    programs: ProgramsConfig | None
    settings: CoordinatorSettings
    runtime: Callable[[Job], int] = half_walltime
    _keys: int = field(default=0)
    policy: str = "priority-fairshare:binpack"

    # ------------------------------------------------------------------ acting

    def submit(
        self,
        tenant: str = "t1",
        *,
        workers: int = 1,
        per_worker: int = 8,
        walltime_s: int = 3600,
        priority: str = "standard",
        preemptible: bool = True,
        client_key: str | None = None,
        models: tuple[str, ...] = (ASCEND,),
        programs: tuple[str, ...] | None = None,
        checkpoint_interval_s: int = 0,
    ) -> str:
        """Submit one job; it names every configured program unless `programs` says."""
        if programs is None:
            programs = tuple(self.programs.programs) if self.programs else ()
        request = JobRequest(
            tenant=tenant,
            workers=workers,
            per_worker=per_worker,
            walltime_s=walltime_s,
            data_origin=Jurisdiction.MAINLAND,
            models=models,
            priority_class=priority,
            preemptible=preemptible,
            client_key=client_key,
            programs=programs,
            checkpoint_interval_s=checkpoint_interval_s,
        )
        [outcome] = self.coordinator.submit([request])
        return outcome.job_id

    def run(self, seconds: int = 0) -> None:
        """Move the clock on and tick once."""
        self.clock.advance(seconds)
        self.coordinator.tick()

    def restart(self, executor: FakeExecutor | None = None) -> Coordinator:
        """A new coordinator on the same store (and, unless told otherwise, a fresh executor:
        the old one died with the old process)."""
        self.coordinator.close()
        self.executor = executor or FakeExecutor(self.clock, self.runtime)
        self.coordinator = open_coordinator(
            self.store,
            self.executor,
            self.pool,
            self.clock,
            self.programs,
            self.settings,
            self.policy,
        )
        return self.coordinator

    # ------------------------------------------------------------------ looking

    def record(self, job_id: str) -> JobRecord:
        return self.coordinator.job(job_id)

    def nodes_of(self, job_id: str) -> list[str]:
        """The nodes the job's current (or last) attempt was placed on, rank by rank."""
        placement = self.record(job_id).placement
        assert placement is not None, f"{job_id} was never placed"
        return [node for node, _ in placement.workers]

    def state(self, job_id: str) -> JobState:
        return self.record(job_id).state

    def kinds(self, job_id: str) -> list[str]:
        return [event.kind for event in self.store.events(job_id=job_id)]

    def balance(self, kind: AccountKind, holder: str) -> int:
        return self.coordinator.ledger.balance(Account(kind, holder, Currency.CNY))


def open_coordinator(
    store: Store,
    executor: Executor,
    pool: Pool,
    clock: ManualClock,
    programs: ProgramsConfig | None,
    settings: CoordinatorSettings,
    policy: str = "priority-fairshare:binpack",
) -> Coordinator:
    return Coordinator.open(
        store, executor, pool, resolve_policy(policy), clock, programs=programs, settings=settings
    )


def a_world(
    pool: Pool | None = None,
    *,
    programs: ProgramsConfig | None = None,
    store: Store | None = None,
    runtime: Callable[[Job], int] = half_walltime,
    max_retries: int = 2,
    policy: str = "priority-fairshare:binpack",
    refuse_oversize: bool = True,
) -> World:
    pool = pool or small_pool()
    clock = ManualClock(T0)
    executor = FakeExecutor(clock, runtime)
    store = store if store is not None else MemoryStore()
    settings = CoordinatorSettings(max_retries=max_retries, refuse_oversize=refuse_oversize)
    coordinator = open_coordinator(store, executor, pool, clock, programs, settings, policy)
    return World(
        store, clock, executor, coordinator, pool, programs, settings, runtime, policy=policy
    )
