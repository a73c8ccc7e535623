"""Where the coordinator's world comes from: the config files on the very first start, the store
ever after.

The first start of a coordinator on an empty store seeds it from the pool and programs
configuration: nodes, tenants, approvals and programs are put (audited, actor `config`), each
program's budget is funded and each tenant's opening balance topped up, in the ledger. From then
on the store is the truth: later starts read nodes (with their states), tenants, approvals and
programs back from it, so what operators changed while the pool ran survives a restart. The
configuration still supplies what the store does not hold: the accelerator catalogue, owners,
priority classes and the scheduling policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.pool import Pool
from scheduler.ledger.book import Ledger
from scheduler.ledger.config import ProgramsConfig
from scheduler.ledger.flows import fund_program, fund_to, top_up
from scheduler.ledger.programs import Program
from scheduler.store.base import Store
from scheduler.store.records import Commit

CONFIG_ACTOR = "config"
"""The audit actor of what the first start writes from the configuration files."""


@dataclass(frozen=True, slots=True)
class World:
    pool: Pool
    programs: dict[str, Program]
    ledger: Ledger
    seeded: bool  # this start wrote the configuration into an empty store


def load_world(store: Store, config: Pool, programs: ProgramsConfig | None, at: int) -> World:
    """Seed an empty store from the configuration, then read the pool, programs and ledger from
    the store."""
    seeded = not store.nodes()
    if seeded:
        _seed(store, config, programs, at)
    pool = Pool.build(
        name=config.name,
        catalogue=config.catalogue,
        owners=config.owners.values(),
        nodes=store.nodes(),
        tenants=store.tenants(),
        priority_classes=config.priority_classes.values(),
        approvals=store.approvals(),
        default_priority_class=config.default_priority_class,
        policy=config.policy,
        fair_share_half_life_s=config.fair_share_half_life_s,
    )
    stored_programs = {program.id: program for program in store.programs()}
    ledger = Ledger.replay(store.postings())
    # A program is stored before the ledger follows its budget (two transactions): a start
    # after a crash in between posts what the budget still owes.
    owed = len(ledger)
    for program in stored_programs.values():
        fund_to(ledger, program, at)
    if len(ledger) > owed:
        store.commit(Commit(at=at, postings=ledger.postings(owed)))
    return World(pool, stored_programs, ledger, seeded)


def _seed(store: Store, config: Pool, programs: ProgramsConfig | None, at: int) -> None:
    store.put_tenants(config.tenants.values(), at, CONFIG_ACTOR)
    store.put_approvals(config.approvals.values(), at, CONFIG_ACTOR)
    if programs is not None:
        store.put_programs(programs.programs.values(), at, CONFIG_ACTOR)
        ledger = Ledger.replay(store.postings())
        for program in programs.programs.values():
            fund_program(ledger, program)
        for (tenant, currency), amount in sorted(programs.balances.items()):
            if amount > 0:
                top_up(ledger, tenant, currency, amount, ref=f"opening-{currency}", at=at)
        store.commit(Commit(at=at, postings=ledger.postings()))
    # Nodes last: an empty node table is what marks an unseeded store, so a start that died
    # half-way through seeding seeds again (every step above is idempotent) on the next one.
    store.put_nodes(config.nodes.values(), at, CONFIG_ACTOR)
