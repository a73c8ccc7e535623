"""Pool configuration in TOML → a validated `Pool`.

The file shape is documented at the top of `deploy/pools/gba-sample.toml`. Reading is strict
(unknown keys, wrong types and missing keys are errors) and all-or-nothing: either a consistent
`Pool` comes back or a `ConfigError` naming the file and the key path, never a partial pool.
Value rules that the domain objects enforce themselves are left to them; their errors are
re-raised with the path of the key in this file (see `reader.domain_errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scheduler.config.reader import Table, Where, choice, domain_errors, known, load_toml
from scheduler.domain.accelerators import AcceleratorModel, Catalogue
from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState, Owner, OwnerClass
from scheduler.domain.pool import Pool
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import FlavorQuota, PriorityClass, Tenant, TenantFlag
from scheduler.policy.registry import resolve_policy

_TOP_REQUIRED = ("pool", "accelerators", "owners")
_TOP_OPTIONAL = ("priority_classes", "node_groups", "nodes", "tenants", "approvals")
_NODE_COMMON = ("owner", "city", "model", "accelerators_per_node", "price_per_accel_hour")
_NODE_OPTIONAL = ("labels", "state")
# Domain field names → the key that sets them in this file.
_NODE_KEYS = {"accelerators": "accelerators_per_node", "price": "price_per_accel_hour"}


def load_pool(path: str | Path) -> Pool:
    return parse_pool(load_toml(path), str(path))


def parse_pool(data: Mapping[str, object], source: str) -> Pool:
    root = Table(data, Where(source), _TOP_REQUIRED, _TOP_OPTIONAL)
    header = Table(
        root.raw("pool"),
        root.where.key("pool"),
        ("name",),
        ("default_priority_class", "policy", "fair_share_half_life_s"),
    )
    catalogue = _catalogue(root)
    owners = _owners(root)
    classes = _priority_classes(root)
    nodes, node_origin = _nodes(root, catalogue, owners)
    tenants = _tenants(root, catalogue, owners, classes)
    approvals, approval_origin = _approvals(root, tenants)
    default_class = header.opt_text("default_priority_class") or ""
    policy = header.opt_text("policy") or ""
    half_life = header.opt_integer("fair_share_half_life_s", minimum=1) or 0
    if policy:
        try:
            resolve_policy(policy)
        except InvalidField as exc:
            raise header.where.key("policy").error(exc.message) from None
    if default_class and default_class not in classes:
        raise header.where.key("default_priority_class").error(
            f"unknown priority class {default_class!r}; known: {known(classes)}"
        )

    def pool_path(field: str) -> str:
        kind, _, rest = field.partition(".")
        name, _, tail = rest.partition(".")
        if kind == "nodes" and name in node_origin:
            return _node_path(node_origin[name], tail)
        if kind == "approvals" and name in approval_origin and tail:
            return _approval_path(approval_origin[name])(tail)
        if field in ("default_priority_class", "fair_share_half_life_s"):
            return f"pool.{field}"
        return field

    with domain_errors(source, pool_path):
        return Pool.build(
            name=header.text("name"),
            catalogue=catalogue,
            owners=owners.values(),
            nodes=nodes,
            tenants=tenants.values(),
            priority_classes=classes.values(),
            approvals=approvals,
            default_priority_class=default_class,
            policy=policy,
            fair_share_half_life_s=half_life or 0,
        )


def load_nodes(
    path: str | Path, catalogue: Catalogue, owners: Iterable[Owner]
) -> list[tuple[Node, bool]]:
    """The `[[node_groups]]` and `[[nodes]]` of a TOML file, in the pool file's format and checked
    as the pool loader checks them, against a pool's catalogue and owners (a running server's,
    for `gbasched node register`); each node with whether its entry names a `state` (one that
    does not leaves a known node's state as it is). Errors name the file and the key path."""
    data = load_toml(path)
    root = Table(data, Where(str(path)), (), ("node_groups", "nodes"))
    if not root.has("node_groups") and not root.has("nodes"):
        raise root.where.key("nodes").error("no node: add [[node_groups]] or [[nodes]]")
    nodes, origin = _nodes(root, catalogue, {o.id: o for o in owners})
    stated = {  # the entries (groups or single nodes) that name a state, by their path
        at.path
        for key in ("node_groups", "nodes")
        for value, at in root.array(key)
        if isinstance(value, Mapping) and "state" in value
    }
    return [(node, origin[node.id].path in stated) for node in nodes]


def load_approvals(path: str | Path, tenants: Iterable[str]) -> list[Approval]:
    """The `[[approvals]]` of a TOML file, in the pool file's format and checked as the pool
    loader checks them, against a pool's tenants (a running server's, for `gbasched approval
    put`). Errors name the file and the key path."""
    root = Table(load_toml(path), Where(str(path)), ("approvals",))
    approvals, _ = _approvals(root, frozenset(tenants))
    if not approvals:
        raise root.where.key("approvals").error("must hold at least one approval")
    return approvals


def load_tenants(
    path: str | Path,
    catalogue: Catalogue,
    owners: Iterable[Owner],
    classes: Iterable[PriorityClass],
) -> dict[str, Tenant]:
    """The `[tenants.<id>]` tables of a TOML file, in the pool file's format and checked as the
    pool loader checks them, against a pool's catalogue, owners and priority classes (a running
    server's, for `gbasched tenant put`). Errors name the file and the key path."""
    data = load_toml(path)
    source = str(path)
    root = Table(data, Where(source), ("tenants",))
    tenants = _tenants(
        root,
        catalogue,
        {o.id: o for o in owners},
        {c.name: c for c in classes},
    )
    if not tenants:
        raise root.where.key("tenants").error("must hold at least one tenant")
    return tenants


def _catalogue(root: Table) -> Catalogue:
    models = []
    for model_id, value, where in root.entries("accelerators"):
        t = Table(
            value,
            where,
            ("vendor", "domestic", "tflops_fp16", "memory_gib"),
            ("tflops_fp32", "tops_int8"),
        )
        with domain_errors(where.source, lambda field: f"accelerators.{field}"):
            models.append(
                AcceleratorModel(
                    id=model_id,
                    vendor=t.text("vendor"),
                    domestic=t.boolean("domestic"),
                    tflops_fp16=t.integer("tflops_fp16"),
                    memory_gib=t.integer("memory_gib"),
                    tflops_fp32=t.opt_integer("tflops_fp32"),
                    tops_int8=t.opt_integer("tops_int8"),
                )
            )
    return Catalogue(models)


def _owners(root: Table) -> dict[str, Owner]:
    owners = {}
    for owner_id, value, where in root.entries("owners"):
        t = Table(value, where, ("name", "class", "currency"))
        owners[owner_id] = Owner(
            id=owner_id,
            name=t.text("name"),
            owner_class=t.choice(OwnerClass, "class"),
            currency=t.choice(Currency, "currency"),
        )
    return owners


def _priority_classes(root: Table) -> dict[str, PriorityClass]:
    classes = {}
    for name, value, where in root.entries("priority_classes"):
        t = Table(value, where, ("value",), ("description",))
        classes[name] = PriorityClass(name, t.integer("value"), t.opt_text("description") or "")
    return classes


@dataclass(frozen=True, slots=True)
class _NodeSpec:
    """What a node group and a single node share: everything but the id."""

    owner: Owner
    city: City
    model: str
    accelerators: int
    price: Money
    state: NodeState
    labels: tuple[tuple[str, str], ...]

    def node(self, node_id: str) -> Node:
        return Node(
            id=node_id,
            owner=self.owner.id,
            owner_class=self.owner.owner_class,
            city=self.city,
            model=self.model,
            accelerators=self.accelerators,
            price=self.price,
            state=self.state,
            labels=self.labels,
        )


def _node_spec(t: Table, catalogue: Catalogue, owners: Mapping[str, Owner]) -> _NodeSpec:
    owner_id = t.text("owner")
    owner = owners.get(owner_id)
    if owner is None:
        raise t.where.key("owner").error(f"unknown owner {owner_id!r}; known: {known(owners)}")
    city = t.choice(City, "city")
    # Prices are in the currency of the zone the node stands in; an owner bills in one currency,
    # so an owner with nodes in two zones is configured as two owners.
    zone_currency = city.jurisdiction.currency
    if owner.currency is not zone_currency:
        raise t.where.key("city").error(
            f"{city} nodes bill in {zone_currency} but owner {owner.id!r} bills in "
            f"{owner.currency}; configure a separate owner billing in {zone_currency}"
        )
    model = t.text("model")
    if model not in catalogue:
        raise t.where.key("model").error(
            f"unknown accelerator {model!r}; known: {known(catalogue)}"
        )
    return _NodeSpec(
        owner=owner,
        city=city,
        model=model,
        accelerators=t.integer("accelerators_per_node"),
        price=Money(owner.currency, t.integer("price_per_accel_hour", unit="minor units")),
        state=t.choice(NodeState, "state") if t.has("state") else NodeState.UP,
        labels=t.labels("labels"),
    )


def _node_path(origin: Where, field_tail: str) -> str:
    """The file path of a node's field: the group or [[nodes]] entry that defined it."""
    tail = field_tail.rpartition(".")[2]
    return origin.key(_NODE_KEYS.get(tail, tail)).path if tail else origin.path


def _nodes(
    root: Table, catalogue: Catalogue, owners: Mapping[str, Owner]
) -> tuple[list[Node], dict[str, Where]]:
    nodes: list[Node] = []
    origin: dict[str, Where] = {}

    def claim(node_id: str, where: Where, id_key: str) -> None:
        if node_id in origin:
            raise where.key(id_key).error(
                f"node id {node_id!r} is already defined by {origin[node_id].path}"
            )
        origin[node_id] = where

    def tail_of(node_id: str) -> Callable[[str], str]:
        return lambda field: _node_path(origin[node_id], field.removeprefix(f"nodes.{node_id}"))

    for value, where in root.array("node_groups"):
        t = Table(value, where, (*_NODE_COMMON, "count", "id_prefix"), _NODE_OPTIONAL)
        spec = _node_spec(t, catalogue, owners)
        count = t.integer("count", minimum=1)
        prefix = t.ident("id_prefix")
        for i in range(1, count + 1):
            node_id = f"{prefix}-{i:03d}"
            claim(node_id, where, "id_prefix")
            with domain_errors(where.source, tail_of(node_id)):
                nodes.append(spec.node(node_id))
    for value, where in root.array("nodes"):
        t = Table(value, where, ("id", *_NODE_COMMON), _NODE_OPTIONAL)
        spec = _node_spec(t, catalogue, owners)
        node_id = t.ident("id")
        claim(node_id, where, "id")
        with domain_errors(where.source, tail_of(node_id)):
            nodes.append(spec.node(node_id))
    if not nodes:
        raise root.where.key("node_groups").error(
            "the pool has no nodes; add [[node_groups]] or [[nodes]]"
        )
    return nodes, origin


def _tenants(
    root: Table,
    catalogue: Catalogue,
    owners: Mapping[str, Owner],
    classes: Mapping[str, PriorityClass],
) -> dict[str, Tenant]:
    tenants = {}
    for tenant_id, value, where in root.entries("tenants"):
        t = Table(
            value,
            where,
            ("name",),
            ("weight", "owner", "flags", "priority_classes", "cohort", "quotas"),
        )
        owner = t.opt_text("owner")
        if owner is not None and owner not in owners:
            raise where.key("owner").error(f"unknown owner {owner!r}; known: {known(owners)}")
        allowed = t.texts("priority_classes")
        for name, at in allowed:
            if name not in classes:
                raise at.error(f"unknown priority class {name!r}; known: {known(classes)}")
        with domain_errors(where.source, lambda field: field):
            tenants[tenant_id] = Tenant(
                id=tenant_id,
                name=t.text("name"),
                weight=t.integer("weight") if t.has("weight") else 1,
                owner=owner,
                priority_classes=frozenset(name for name, _ in allowed),
                flags=frozenset(choice(TenantFlag, f, at) for f, at in t.texts("flags")),
                cohort=t.ident("cohort") if t.has("cohort") else None,
                quotas=_quotas(t, catalogue) if t.has("quotas") else None,
            )
    return tenants


def _quotas(tenant: Table, catalogue: Catalogue) -> tuple[FlavorQuota, ...]:
    quotas = []
    for model, value, where in tenant.entries("quotas"):
        if model not in catalogue:
            raise where.error(f"unknown accelerator {model!r}; known: {known(catalogue)}")
        t = Table(value, where, ("nominal",), ("borrowing_limit", "lending_limit"))
        # FlavorQuota names its fields relative to the tenant (`quotas.<model>.nominal`).
        with domain_errors(where.source, lambda field: tenant.where.key(field).path):
            quotas.append(
                FlavorQuota(
                    model=model,
                    nominal=t.integer("nominal"),
                    borrowing_limit=t.opt_integer("borrowing_limit"),
                    lending_limit=t.opt_integer("lending_limit"),
                )
            )
    return tuple(quotas)


def _approvals(root: Table, tenants: Collection[str]) -> tuple[list[Approval], dict[str, Where]]:
    approvals = []
    origin: dict[str, Where] = {}
    for value, where in root.array("approvals"):
        t = Table(value, where, ("id", "tenant", "from_zone", "to_zone", "expires_at"))
        approval_id = t.ident("id")
        if approval_id in origin:
            raise where.key("id").error(
                f"approval {approval_id!r} is already defined by {origin[approval_id].path}"
            )
        origin[approval_id] = where
        tenant = t.text("tenant")
        if tenant not in tenants:
            raise where.key("tenant").error(f"unknown tenant {tenant!r}; known: {known(tenants)}")
        with domain_errors(where.source, _approval_path(where)):
            approvals.append(
                Approval(
                    id=approval_id,
                    tenant=tenant,
                    from_zone=t.choice(Jurisdiction, "from_zone"),
                    to_zone=t.choice(Jurisdiction, "to_zone"),
                    expires_at=t.epoch_seconds("expires_at"),
                )
            )
    return approvals, origin


def _approval_path(origin: Where) -> Callable[[str], str]:
    """Approval names its fields `approvals.<id>.<key>`; the file addresses it by position."""
    return lambda field: origin.key(field.rpartition(".")[2]).path
