"""What an operator may change in the running pool, checked before anything is written.

Each function returns the changed value (a new `Pool`, which validates itself on construction)
or raises `InvalidField` naming the request's field (`node.owner`, not the pool's key path
`nodes.n1.owner`), or `ChangeRefused` when the change needs something done first."""

from __future__ import annotations

from dataclasses import replace

from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.nodes import Node
from scheduler.domain.pool import Pool
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import Tenant, flavor_field
from scheduler.ledger.programs import Program
from scheduler.service.errors import ChangeRefused


def with_node(pool: Pool, node: Node, busy: bool) -> Pool:
    """`pool` with `node` added or replacing the node of its id. A node that holds work (`busy`)
    keeps everything its attempts were placed and priced by: only its labels may change."""
    old = pool.nodes.get(node.id)
    if busy and old is not None and replace(old, labels=node.labels) != node:
        raise ChangeRefused(
            f"node.id: node {node.id!r} holds running work; only its labels can change while "
            "it does: drain it (or take it down) first"
        )
    try:
        return replace(pool, nodes={**pool.nodes, node.id: node})
    except InvalidField as exc:
        raise exc.moved(f"nodes.{node.id}", "node") from None


def without_node(pool: Pool, node_id: str, busy: bool) -> Pool:
    """`pool` without the node. A node that holds work, and the pool's last node, stay."""
    if busy:
        raise ChangeRefused(
            f"node_id: node {node_id!r} still holds work: drain it or take it down first"
        )
    if len(pool.nodes) == 1:
        raise ChangeRefused(f"node_id: {node_id!r} is the pool's last node")
    return replace(pool, nodes={k: v for k, v in pool.nodes.items() if k != node_id})


def with_tenant(pool: Pool, tenant: Tenant) -> Pool:
    try:
        return replace(pool, tenants={**pool.tenants, tenant.id: tenant})
    except InvalidField as exc:
        models = [quota.model for quota in tenant.quotas or ()]
        raise flavor_field(exc.moved(f"tenants.{tenant.id}", "tenant"), "tenant", models) from None


def with_approval(pool: Pool, approval: Approval) -> Pool:
    try:
        return replace(pool, approvals={**pool.approvals, approval.id: approval})
    except InvalidField as exc:
        raise exc.moved(f"approvals.{approval.id}", "approval") from None


def check_program(program: Program, pool: Pool, old: Program | None) -> None:
    """Every name the program refers to exists, some eligible supplier bills in its currency
    (else it could never pay), and a replaced program keeps its currency and sponsor (its
    ledger accounts are theirs: make a new program instead)."""
    for field, names, known in (
        ("eligible_tenants", program.eligible_tenants, pool.tenants),
        ("eligible_owners", program.eligible_owners, pool.owners),
        ("eligible_nodes", program.eligible_nodes, pool.nodes),
    ):
        for name in sorted(names):
            if name not in known:
                raise UnknownReference(f"program.{field}", f"no {field[9:-1]} {name!r} in the pool")
    suppliers = program.eligible_owners | {pool.nodes[n].owner for n in program.eligible_nodes}
    billed = {pool.owners[owner].currency for owner in suppliers or pool.owners}
    if program.currency not in billed:
        raise InvalidField(
            "program.currency",
            f"the program could never pay: its suppliers bill only in "
            f"{', '.join(sorted(c.value for c in billed))}",
        )
    if old is not None:
        for field in ("currency", "sponsor"):
            if getattr(old, field) != getattr(program, field):
                raise InvalidField(
                    f"program.{field}",
                    f"cannot change from {getattr(old, field)!s} (the program's ledger accounts "
                    "are in it): put a new program instead",
                )
