"""Thousands of malformed operators' writes against one real gRPC server on loopback (a coordinator
on a SQLite file, a manual clock that never ticks after the set-up): random and out-of-range
values for every field of a Node (RegisterNode), a Tenant and its quotas (PutTenant), a Program
(PutProgram) and an Approval (PutApproval), random node ids to remove (RemoveNode: empty,
unknown, the node that holds work, the last node) and random evidence exports (ExportEvidence);
as an operator, and as a tenant or no one; with requests valid by construction among them.

Every answer is the one the API documents for what was sent: an oracle here reads the request
and the pool's current contents and says which (status, field path) pairs may answer it, never
INTERNAL or UNKNOWN; a refusal's details start with `<path>: `, a path through the fields of the
request; a request valid by construction succeeds, and what it answers is what was asked for.
A refused call changes nothing: the store's nodes, tenants, programs, approvals, audit trail,
postings and events, and the coordinator's pool, programs and ledger, are the same before and
after (a call that legitimately succeeded re-baselines them), and after a success the pool's
views (ListNodes, GetCapacity, ListTenants, ListPrograms, GetUsageReport, ListApprovals,
ListAudit) still answer."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.api import convert
from scheduler.api.v1 import admin_pb2 as pb
from scheduler.api.v1 import common_pb2
from scheduler.domain.geography import City
from scheduler.domain.jobs import JobState
from scheduler.domain.nodes import MAX_NODE_ACCELERATORS, OwnerClass
from scheduler.domain.tenants import TenantFlag
from scheduler.ledger.programs import BASIS_POINTS, YEAR_S
from scheduler.store.sqlite import SqliteStore
from tests.api_builders import Served, a_token_book
from tests.builders import ASCEND, CATALOGUE, H800, a_pool, a_tenant, an_approval
from tests.property.test_api_malformed import (
    CALL_S,
    FP,
    IA,
    INT64,
    MALFORMED,
    NF,
    ODD_TEXT,
    OK,
    TOKENS,
    Answer,
    Code,
    Expected,
    answer,
    enum_numbers,
    field_path,
    int32,
    int64,
    names_a_field,
    operators_only,
    unknown_enum,
)
from tests.service_builders import T0, World, a_world, money

# ---------------------------------------------------------------------------- the served pool

TENANTS = ("t1", "t2")
CLASSES = ("low", "standard", "high")
MODELS = tuple(sorted(CATALOGUE))
SPONSOR = "sponsor of sz-voucher"  # the sponsor of `money()`'s program
WHO = st.sampled_from(["operator"] * 16 + ["t1", "t2", "none", "garbage"])
MAX_ID = 128  # characters of an identifier (`convert.MAX_ID_CHARS`)
MAX_NAME = 4 * MAX_ID
MAX_ACCELERATORS = MAX_NODE_ACCELERATORS  # per node

CITIES = enum_numbers(common_pb2.City)
ZONES = enum_numbers(common_pb2.Jurisdiction)
NODE_STATES = enum_numbers(common_pb2.NodeState)
OWNER_CLASSES = enum_numbers(common_pb2.OwnerClass)
CURRENCIES = enum_numbers(common_pb2.Currency)
# A node is priced in its zone's currency: wire city -> wire currency.
CITY_CURRENCY = {
    number: convert.currency_number(convert.city(number, "city").jurisdiction.currency)
    for number in CITIES
}
FLAGS = enum_numbers(common_pb2.TenantFlag)
DOWN = common_pb2.NODE_STATE_DOWN
HOLDING = (JobState.ADMITTED, JobState.RUNNING, JobState.PREEMPTED)  # their nodes hold work
RATES = ("domestic_bp", "other_bp", "startup_domestic_bp", "startup_other_bp")


@dataclass(repr=False)  # hypothesis shows the strategies' arguments: not the whole world
class Harness:
    api: Served
    world: World
    admins: dict[str, Any]
    busy: str  # the node the running job holds
    evidence: list[pb.EvidenceRow]  # every row, as exported before any example ran
    # The audit trail and the postings, counted as they grow (re-reading them is slow).
    audit_count: int = 0
    audit_last: int = 0
    postings_count: int = 0
    postings_last: int = 0

    @property
    def operator(self) -> Any:
        return self.admins["operator"]

    def __repr__(self) -> str:
        return "harness"

    def snapshot(self) -> tuple[object, ...]:
        """What a refused call must leave as it was."""
        store, coordinator = self.world.store, self.world.coordinator
        postings = store.postings(self.postings_last)
        if postings:
            self.postings_count += len(postings)
            self.postings_last = postings[-1].seq
        return (
            tuple(store.nodes()),
            tuple(store.tenants()),
            tuple(store.programs()),
            tuple(store.approvals()),
            self.audit_mark(),
            self.postings_count,
            self.postings_last,
            store.last_event_seq(),
            len(coordinator.ledger),
            dict(coordinator.pool.nodes),
            dict(coordinator.pool.tenants),
            dict(coordinator.pool.approvals),
            dict(coordinator.programs),
        )

    def audit_mark(self) -> tuple[int, int]:
        """How many audit records there are, and the last one's seq."""
        records = self.world.coordinator.audit(self.audit_last, limit=1_000_000)
        if records:
            self.audit_count += len(records)
            self.audit_last = records[-1].seq
        return self.audit_count, self.audit_last

    def held(self) -> set[str]:
        """The nodes an attempt holds (or is still stopping on)."""
        return {
            node
            for record in self.world.coordinator.records.values()
            if record.placement is not None and record.state in HOLDING
            for node in record.placement.nodes
        }

    def owners(self) -> dict[str, tuple[int, int]]:
        """Owner id -> (owner class, currency) as wire numbers."""
        return {
            o.id: (convert.owner_class_number(o.owner_class), convert.currency_number(o.currency))
            for o in self.world.coordinator.pool.owners.values()
        }

    def nodes(self) -> dict[str, pb.Node]:
        return {i: convert.node_message(n) for i, n in self.world.coordinator.pool.nodes.items()}

    def tenants(self) -> list[str]:
        return sorted(self.world.coordinator.pool.tenants)

    def programs(self) -> dict[str, pb.Program]:
        return {
            i: convert.program_message(p) for i, p in dict(self.world.coordinator.programs).items()
        }

    def spent(self, program_id: str) -> int:
        """What the program has paid or holds reserved: its budget can be cut down to this."""
        reports = self.world.coordinator.reports(tenants=False, owners=False).programs
        return next((r.paid + r.reserved for r in reports if r.program == program_id), 0)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    pool = (
        a_pool()
        .nodes(2, ASCEND, owner="sz-gov")
        .nodes(
            1,
            H800,
            city=City.HONG_KONG,
            owner="hk-corp",
            owner_class=OwnerClass.ENTERPRISE,
        )
        .tenant(a_tenant("t1").flags(TenantFlag.STARTUP).quota(ASCEND, 16, borrowing=0))
        .tenant(a_tenant("t2").priorities("low"))
        .approval(an_approval("ap-t1").held_by("t1").expires_at(T0 + 86_400))
        .approval(an_approval("ap-t2").held_by("t2").expires_at(T0 - 1))
        .build()
    )
    path: Path = tmp_path_factory.mktemp("admin-malformed") / "api.db"
    world = a_world(pool, store=SqliteStore(path), programs=money())
    finished = world.submit("t1")
    world.run()
    world.run(3600)
    world.run()  # settled: one evidence row
    running = world.submit("t1")
    world.run()
    world.run()  # started and reported: from here on the clock stands still and nothing ticks
    assert world.state(finished) is JobState.SUCCEEDED
    assert world.state(running) is JobState.RUNNING
    [busy] = set(world.nodes_of(running))
    api = Served(world.coordinator, a_token_book(*TENANTS))
    admins = {who: api.admin_as(token) for who, token in TOKENS.items()}
    evidence = list(admins["operator"].ExportEvidence(pb.ExportEvidenceRequest(), timeout=CALL_S))
    assert [row.job for row in evidence] == [finished]
    harness = Harness(api, world, admins, busy, evidence)
    assert harness.held() == {busy}
    assert harness.spent("sz-voucher") > 0  # the running job holds a reservation
    yield harness
    api.close()
    world.coordinator.close()
    world.store.close()


# ---------------------------------------------------------------------------- answers


def refusal_path(details: str, expected: Expected) -> str | None:
    """The longest expected path the details start with (`<path>: `), else the path they show."""
    paths = sorted((p for _, p in expected if p and details.startswith(p + ": ")), key=len)
    return paths[-1] if paths else field_path(details)


def check_answer(got: Answer, expected: Expected, request: Message) -> None:
    """`got` is OK if nothing is `expected`, else one of the `expected` (status, path) refusals;
    its details start with `<path>: `, a path through fields of `request` (or, for a quota, the
    quota's key path, see `quota_paths`); "" expected: no path needed (no operator's token)."""
    assert got.code not in (Code.INTERNAL, Code.UNKNOWN), (got.code, got.details)
    if got.code is OK:
        assert not expected, f"accepted, but expected one of {sorted(expected)}"
        return
    assert expected, f"refused {got.code.name} ({got.details[:200]!r}), but nothing is wrong"
    if (got.code, "") in expected:
        return
    path = refusal_path(got.details, expected)
    assert path is not None, f"{got.code.name} without a field path: {got.details[:200]!r}"
    assert (got.code, path) in expected, (got.code, got.details[:200], sorted(expected))
    assert names_a_field(request, path), f"{path!r} names no field"


def unchanged_unless_ok(h: Harness, before: tuple[object, ...], got: Answer) -> None:
    if got.code is not OK:
        assert h.snapshot() == before, f"{got.code.name} ({got.details[:120]!r}) changed the pool"


def is_identifier(value: str) -> bool:
    """1 to 128 printable characters, no spaces (ids, owners, models, label keys)."""
    return 0 < len(value) <= MAX_ID and value.isprintable() and not any(c.isspace() for c in value)


def is_name(value: str) -> bool:
    """A name people read: not blank, at most 512 printable characters."""
    return bool(value.strip()) and len(value) <= MAX_NAME and value.isprintable()


def ok(call: Any, request: Message) -> Any:
    """The reply of a call that must succeed."""
    got = answer(call, request)
    assert got.code is OK, (got.code, got.details[:200])
    return got.reply


def audited(h: Harness, action: str, subject: str, after: int) -> None:
    """The change was audited (as `action`; "": any) with the operator's name, after seq
    `after`; the audit trail still answers."""
    records = ok(
        h.operator.ListAudit,
        pb.ListAuditRequest(after_seq=after, action=action, subject=subject, page_size=1000),
    ).records
    assert records and all(r.actor == "ops" for r in records), (action, subject)


def last_audit_seq(h: Harness) -> int:
    return h.audit_mark()[1]


# ---------------------------------------------------------------------------- strategies

fresh = itertools.count()
GOOD_ID = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.:/数", min_size=1, max_size=20
).filter(is_identifier)
WIDE_ID = st.sampled_from(
    ["x" * MAX_ID, "x" * (MAX_ID + 1), "é" * MAX_ID, "a b", "a\tb", "a\u200bb", "a\u00a0b"]
)

# The pool changes from one example to the next (a success changes it), but hypothesis needs
# the same choices to draw the same way: a strategy never branches on the pool, it draws a
# number and `pick` maps it to one of what the pool holds when the example runs.


def pick(known: Callable[[], Iterable[str]], empty: str = "") -> st.SearchStrategy[str]:
    """One of `known()` (sorted), or `empty` if there is none."""

    def at(i: int) -> str:
        values = sorted(known())
        return values[i % len(values)] if values else empty

    return st.integers(0, 2**16).map(at)


def new_id(prefix: str) -> st.SearchStrategy[str]:
    return st.builds(lambda: f"{prefix}-{next(fresh)}")


def any_id(known: Callable[[], Iterable[str]], prefix: str) -> st.SearchStrategy[str]:
    """A known id, a new one, or any text (good or not)."""
    return st.one_of(pick(known), pick(known), new_id(prefix), GOOD_ID, ODD_TEXT, WIDE_ID)


RARELY = st.sampled_from([False] * 30 + [True])


def either(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], faults: bool) -> Any:
    """Mostly good, sometimes bad (never bad unless `faults`)."""
    return st.one_of(*[good] * 8, bad) if faults else good


def enum_value(known: frozenset[int], faults: bool) -> st.SearchStrategy[int]:
    return either(st.sampled_from(sorted(known)), unknown_enum(known), faults)


def cities_billing(currency: int) -> frozenset[int]:
    """The cities whose nodes bill in `currency` (a wire number); every city if none does."""
    return frozenset(c for c, billed in CITY_CURRENCY.items() if billed == currency) or CITIES


def money_of(currency: int, faults: bool) -> st.SearchStrategy[common_pb2.Money | None]:
    good = st.builds(common_pb2.Money, currency=st.just(currency), minor=int64(0))
    bad = st.one_of(
        st.none(),  # no price
        st.builds(
            common_pb2.Money,
            currency=st.one_of(unknown_enum(CURRENCIES), st.sampled_from(sorted(CURRENCIES))),
            minor=st.one_of(int64(0), int64(high=-1)),
        ),
    )
    return either(good, bad, faults)


# ---------------------------------------------------------------------------- RegisterNode


@st.composite
def node_messages(draw: st.DrawFn, h: Harness, faults: bool) -> pb.Node:
    """A node to register: a new one or a known one (the busy one included), every field good
    (`faults` False: a node the pool accepts) or, field by field, mostly good."""
    if faults:
        node_id = draw(any_id(h.nodes, "n"))
    else:  # a new node, or an idle one described anew
        node_id = draw(
            st.one_of(pick(lambda: set(h.nodes()) - h.held()), new_id("n"), GOOD_ID).map(
                lambda i: i if i and i not in h.held() else f"n-{next(fresh)}"
            )
        )
    # A known node re-registered as it is, with new labels and maybe a new state (the busy
    # node may change only these), or described anew (the busy node: FAILED_PRECONDITION).
    as_it_is = draw(st.integers(0, 3)) == 0
    new_state = draw(st.sampled_from([0, *sorted(NODE_STATES)]))
    owners = h.owners()
    owner = draw(either(st.sampled_from(sorted(owners)), ODD_TEXT, faults))
    owner_class, currency = owners.get(owner, (common_pb2.OWNER_CLASS_GOVERNMENT, 1))
    anew = pb.Node(
        id=node_id,
        owner=owner,
        owner_class=draw(either(st.just(owner_class), unknown_enum(OWNER_CLASSES), faults)),
        city=draw(
            either(
                st.sampled_from(sorted(cities_billing(currency))),
                st.one_of(unknown_enum(CITIES), st.sampled_from(sorted(CITIES))),  # any zone
                faults,
            )
        ),
        model=draw(either(st.sampled_from(MODELS), ODD_TEXT, faults)),
        accelerators=draw(
            either(
                int32(1, MAX_ACCELERATORS),
                st.one_of(int32(high=0), int32(MAX_ACCELERATORS + 1)),
                faults,
            )
        ),
        state=draw(
            either(st.sampled_from([0, *sorted(NODE_STATES)]), unknown_enum(NODE_STATES), faults)
        ),
    )
    price = draw(money_of(currency, faults))
    if price is not None:
        anew.price.CopyFrom(price)
    good_labels = st.dictionaries(GOOD_ID, ODD_TEXT, max_size=3)
    bad_labels = st.dictionaries(st.one_of(GOOD_ID, ODD_TEXT), ODD_TEXT, min_size=1, max_size=3)
    labels = draw(either(good_labels, bad_labels, faults))
    jurisdiction = draw(st.one_of(st.just(0), int32()))  # output only: any number is ignored

    nodes, busy = h.nodes(), h.held()
    if node_id in nodes and as_it_is:
        message = pb.Node()
        message.CopyFrom(nodes[node_id])
        message.ClearField("labels")
        message.state = new_state  # type: ignore[assignment]
    else:
        message = anew
    message.labels.update(labels)
    message.jurisdiction = jurisdiction  # type: ignore[assignment]
    if node_id in busy and message.state == DOWN:
        message.state = common_pb2.NODE_STATE_CORDONED  # the busy node keeps its work
    return message


def described(node: pb.Node) -> tuple[object, ...]:
    """What a node that holds work may not change: everything but its labels and state."""
    return (
        node.owner,
        node.owner_class,
        node.city,
        node.model,
        node.accelerators,
        node.price.currency,
        node.price.minor,
    )


def node_faults(h: Harness, node: pb.Node) -> Expected:
    """Every (status, field path) the API may refuse registering `node` with."""
    faults: set[tuple[Code, str]] = set()
    owners, nodes = h.owners(), h.nodes()
    if not is_identifier(node.id):
        faults.add((IA, "node.id"))
    if node.state and node.state not in NODE_STATES:
        faults.add((IA, "node.state"))
    if not node.HasField("price"):
        faults.add((IA, "node.price"))
    else:
        if node.price.currency not in CURRENCIES:
            faults.add((IA, "node.price.currency"))
        if node.price.minor < 0:
            faults.add((IA, "node.price"))
    if any(not is_identifier(key) for key in node.labels):
        faults.add((IA, "node.labels"))
    if node.owner not in owners:  # an identifier or not, it is no owner of the pool
        faults.add((IA, "node.owner"))
    if node.owner_class not in OWNER_CLASSES:
        faults.add((IA, "node.owner_class"))
    if node.city not in CITIES:
        faults.add((IA, "node.city"))
    if node.model not in MODELS:
        faults.add((IA, "node.model"))
    if not 0 < node.accelerators <= MAX_ACCELERATORS:
        faults.add((IA, "node.accelerators"))
    if node.owner in owners:
        owner_class, currency = owners[node.owner]
        if node.owner_class in OWNER_CLASSES and node.owner_class != owner_class:
            faults.add((IA, "node.owner_class"))
        if node.HasField("price") and node.price.currency in CURRENCIES - {currency}:
            faults.add((IA, "node.price"))
    priced = node.HasField("price") and node.price.currency in CURRENCIES
    if priced and node.city in CITIES and node.price.currency != CITY_CURRENCY[node.city]:
        faults.add((IA, "node.price"))  # not in its zone's currency
    old = nodes.get(node.id)
    if node.id in h.held() and old is not None and described(old) != described(node):
        faults.add((FP, "node.id"))
    return frozenset(faults)


@settings(MALFORMED, max_examples=550)
@given(data=st.data(), who=WHO, faults=st.sampled_from([True, True, True, False]))
def test_registering_a_random_node_is_answered_as_documented_and_a_refusal_changes_nothing(
    harness: Harness, data: st.DataObject, who: str, faults: bool
) -> None:
    node = data.draw(node_messages(harness, faults))
    request = pb.RegisterNodeRequest(node=node)
    if faults and data.draw(RARELY):
        request.ClearField("node")
    old = harness.nodes().get(node.id)
    expected = operators_only(who)
    if expected is None:
        expected = node_faults(harness, node) if request.HasField("node") else {(IA, "node")}
        assert faults or not expected, sorted(expected)  # valid by construction
    before, mark = harness.snapshot(), last_audit_seq(harness)

    got = answer(harness.admins[who].RegisterNode, request)

    check_answer(got, frozenset(expected), request)
    unchanged_unless_ok(harness, before, got)
    if got.code is OK:
        reply = got.reply
        assert reply.created == (old is None)
        state = node.state or (old.state if old is not None else common_pb2.NODE_STATE_UP)
        assert (reply.node.id, reply.node.state) == (node.id, state)
        assert described(reply.node) == described(node)
        assert dict(reply.node.labels) == dict(node.labels)
        assert reply.node.jurisdiction == convert.jurisdiction_number(
            convert.city(node.city, "city").jurisdiction
        )
        listed = ok(harness.operator.ListNodes, pb.ListNodesRequest(page_size=1000)).nodes
        assert reply.node in listed
        ok(harness.operator.GetCapacity, pb.GetCapacityRequest())
        if old != reply.node:
            audited(harness, "", node.id, mark)


# ---------------------------------------------------------------------------- PutTenant


@st.composite
def flavor_quotas(draw: st.DrawFn, faults: bool) -> list[pb.FlavorQuota]:
    flavors = []
    models = draw(
        either(
            st.lists(st.sampled_from(MODELS), unique=True, max_size=4),
            st.lists(st.one_of(st.sampled_from(MODELS), ODD_TEXT), min_size=1, max_size=4),
            faults,
        )
    )
    for model in models:  # with `faults`, a model may come twice
        nominal = draw(either(int32(0, 64), st.one_of(int32(0), int32(high=-1)), faults))
        flavor = pb.FlavorQuota(model=model, nominal=nominal)
        borrowing = draw(st.none() | either(int32(0), int32(high=-1), faults))
        if borrowing is not None:
            flavor.borrowing_limit = borrowing
        lending = draw(
            st.none()
            | either(int32(0, max(nominal, 0)), st.one_of(int32(), int32(high=-1)), faults)
        )
        if lending is not None:
            flavor.lending_limit = lending
        flavors.append(flavor)
    return flavors


@st.composite
def tenant_messages(draw: st.DrawFn, h: Harness, faults: bool) -> pb.Tenant:
    good_id = st.one_of(pick(h.tenants), new_id("t"), GOOD_ID)
    tenant = pb.Tenant(
        id=draw(either(good_id, any_id(h.tenants, "t"), faults)),
        name=draw(ODD_TEXT),  # free-form
        weight=draw(either(int32(0), int32(high=-1), faults)),
        owner=draw(either(st.sampled_from(["", *sorted(h.owners())]), ODD_TEXT, faults)),
        priority_classes=draw(
            either(
                st.lists(st.sampled_from(CLASSES), max_size=3),
                st.lists(st.one_of(st.sampled_from(CLASSES), ODD_TEXT), min_size=1, max_size=3),
                faults,
            )
        ),
        flags=draw(
            either(
                st.lists(st.sampled_from(sorted(FLAGS)), max_size=4),
                st.lists(
                    st.one_of(st.sampled_from(sorted(FLAGS)), unknown_enum(FLAGS)), min_size=1
                ),
                faults,
            )
        ),
        cohort=draw(ODD_TEXT),  # free-form
    )
    if draw(st.booleans()):
        tenant.quotas.SetInParent()  # present: quota-limited, even with no flavors
        tenant.quotas.flavors.extend(draw(flavor_quotas(faults)))
    return tenant


def quota_paths(i: int, model: str, leaf: str = "") -> set[str]:
    """Where a refusal about `tenant.quotas.flavors[i]` (its `leaf`) points: the request's
    field (never the pool's key path `tenant.quotas.<model>`)."""
    return {f"tenant.quotas.flavors[{i}]" + (f".{leaf}" if leaf else "")}


def tenant_faults(h: Harness, tenant: pb.Tenant) -> Expected:
    faults: set[tuple[Code, str]] = set()
    if not is_identifier(tenant.id):
        faults.add((IA, "tenant.id"))
    if tenant.weight < 0:
        faults.add((IA, "tenant.weight"))
    if tenant.owner and tenant.owner not in h.owners():
        faults.add((IA, "tenant.owner"))
    if any(name not in CLASSES for name in tenant.priority_classes):
        faults.add((IA, "tenant.priority_classes"))
    faults.update((IA, f"tenant.flags[{i}]") for i, f in enumerate(tenant.flags) if f not in FLAGS)
    seen: set[str] = set()
    for i, flavor in enumerate(tenant.quotas.flavors):
        model = flavor.model
        if not is_identifier(model):
            faults.add((IA, f"tenant.quotas.flavors[{i}].model"))
        paths: set[str] = set()
        if model not in MODELS or model in seen:
            paths |= quota_paths(i, model)
        if flavor.nominal < 0:
            paths |= quota_paths(i, model, "nominal")
        if flavor.HasField("borrowing_limit") and flavor.borrowing_limit < 0:
            paths |= quota_paths(i, model, "borrowing_limit")
        if flavor.HasField("lending_limit") and not 0 <= flavor.lending_limit <= flavor.nominal:
            paths |= quota_paths(i, model, "lending_limit")
        faults.update((IA, path) for path in paths)
        seen.add(model)
    return frozenset(faults)


@settings(MALFORMED, max_examples=450)
@given(data=st.data(), who=WHO, faults=st.sampled_from([True, True, True, False]))
def test_putting_a_random_tenant_is_answered_as_documented_and_a_refusal_changes_nothing(
    harness: Harness, data: st.DataObject, who: str, faults: bool
) -> None:
    tenant = data.draw(tenant_messages(harness, faults))
    request = pb.PutTenantRequest(tenant=tenant)
    if faults and data.draw(RARELY):
        request.ClearField("tenant")
    known = tenant.id in harness.world.coordinator.pool.tenants
    expected = operators_only(who)
    if expected is None:
        expected = (
            tenant_faults(harness, tenant) if request.HasField("tenant") else {(IA, "tenant")}
        )
        assert faults or not expected, sorted(expected)
    before, mark = harness.snapshot(), last_audit_seq(harness)

    got = answer(harness.admins[who].PutTenant, request)

    check_answer(got, frozenset(expected), request)
    unchanged_unless_ok(harness, before, got)
    if got.code is OK:
        reply = got.reply
        assert reply.created == (not known)
        assert reply.tenant.id == tenant.id
        assert reply.tenant.name == (tenant.name or tenant.id)
        assert reply.tenant.weight == (tenant.weight or 1)
        assert (reply.tenant.owner, reply.tenant.cohort) == (tenant.owner, tenant.cohort)
        assert set(reply.tenant.priority_classes) == set(tenant.priority_classes)
        assert set(reply.tenant.flags) == set(tenant.flags)
        assert reply.tenant.HasField("quotas") == tenant.HasField("quotas")
        assert sorted(reply.tenant.quotas.flavors, key=lambda f: f.model) == sorted(
            tenant.quotas.flavors, key=lambda f: f.model
        )
        listed = ok(harness.operator.ListTenants, pb.ListTenantsRequest(page_size=1000)).tenants
        assert reply.tenant in listed
        if harness.snapshot() != before:
            audited(harness, "tenant.put", tenant.id, mark)


# ---------------------------------------------------------------------------- PutProgram

GOOD_SPONSORS = st.sampled_from([SPONSOR, "gz-gov", "Shenzhen S&T Bureau", "深圳市科技创新局"])
BILLED = (common_pb2.CURRENCY_CNY, common_pb2.CURRENCY_HKD)  # what the pool's owners bill in


def names(known: Callable[[], Iterable[str]], faults: bool) -> st.SearchStrategy[list[str]]:
    """Some of `known()` (none: anyone), or with faults some text too."""
    good = st.lists(pick(known), max_size=3).map(lambda names: [n for n in names if n])
    bad = st.lists(st.one_of(pick(known), ODD_TEXT), min_size=1, max_size=3)
    return either(st.one_of(st.just([]), st.just([]), good), bad, faults)


@st.composite
def program_messages(draw: st.DrawFn, h: Harness, faults: bool) -> pb.Program:
    program_id = draw(
        either(
            st.one_of(pick(h.programs), new_id("p")),
            any_id(h.programs, "p"),
            faults,
        )
    )
    # A known program keeps its sponsor and currency (mostly); a new one gets any good one.
    sponsor, currency = draw(GOOD_SPONSORS), draw(st.sampled_from(BILLED))
    old = h.programs().get(program_id)
    if old is not None:
        sponsor, currency = old.sponsor, old.currency
    # Its budget may be cut down to what it has paid and holds reserved (`spent`), not below.
    spent = h.spent(program_id)
    more, less = draw(int64(0)), draw(st.one_of(int64(1), st.integers(1, 10)))
    valid_from = draw(either(int64(-(2**40), 2**40), int64(), faults))
    good_until = int64(valid_from + 1) if valid_from < INT64[1] else st.nothing()
    program = pb.Program(
        id=program_id,
        name=draw(ODD_TEXT),  # free-form
        sponsor=draw(either(st.just(sponsor), st.one_of(GOOD_SPONSORS, ODD_TEXT), faults)),
        currency=draw(either(st.just(currency), unknown_enum(CURRENCIES) | st.just(3), faults)),
        budget=min(spent + more, INT64[1])
        if not faults or draw(st.integers(0, 4))
        else max(spent - less, INT64[0]),
        valid_from=valid_from,
        valid_until=draw(either(good_until, int64(high=valid_from), faults)),
        eligible_tenants=draw(names(h.tenants, faults)),
        eligible_flags=draw(
            either(
                st.lists(st.sampled_from(sorted(FLAGS)), max_size=2),
                st.lists(unknown_enum(FLAGS), min_size=1, max_size=2),
                faults,
            )
        ),
        cap_period_s=draw(either(int64(0), int64(high=-1), faults)),
        stacking_group=draw(ODD_TEXT),  # free-form
    )
    owners, nodes = h.owners(), h.nodes()
    eligible_owners = draw(names(lambda: owners, faults))
    eligible_nodes = draw(names(lambda: nodes, faults))
    if not faults:  # some supplier of its own must bill in its currency
        billing = [o for o, (_, c) in owners.items() if c == program.currency]
        if eligible_owners or eligible_nodes:
            eligible_owners.append(draw(st.sampled_from(billing)))
    program.eligible_owners.extend(eligible_owners)
    program.eligible_nodes.extend(eligible_nodes)
    if draw(st.integers(0, 7)):
        program.rates.SetInParent()
        for name in RATES:
            rate = draw(
                either(int32(0, BASIS_POINTS), int32(BASIS_POINTS + 1) | int32(high=-1), faults)
            )
            if name.startswith("startup") and draw(st.booleans()):
                continue  # absent: the ordinary rate
            setattr(program.rates, name, rate)
    cap = draw(st.none() | either(int64(0), int64(high=-1), faults))
    if cap is not None:
        program.tenant_cap = cap
    return program


def program_faults(h: Harness, program: pb.Program) -> Expected:
    faults: set[tuple[Code, str]] = set()
    owners, nodes = h.owners(), h.nodes()
    if not is_identifier(program.id):
        faults.add((IA, "program.id"))
    if not is_name(program.sponsor):
        faults.add((IA, "program.sponsor"))
    if program.currency not in CURRENCIES:
        faults.add((IA, "program.currency"))
    for i, flag in enumerate(program.eligible_flags):
        if flag not in FLAGS:
            faults.add((IA, f"program.eligible_flags[{i}]"))
    for name in RATES:
        if not 0 <= getattr(program.rates, name) <= BASIS_POINTS:
            faults.add((IA, f"program.rates.{name}"))
    if program.budget < 0:
        faults.add((IA, "program.budget"))
    if program.valid_until <= program.valid_from:
        faults.add((IA, "program.valid_until"))
    if program.HasField("tenant_cap") and program.tenant_cap < 0:
        faults.add((IA, "program.tenant_cap"))
    if program.cap_period_s < 0:
        faults.add((IA, "program.cap_period_s"))
    unknown = {
        "eligible_tenants": set(program.eligible_tenants) - set(h.tenants()),
        "eligible_owners": set(program.eligible_owners) - set(owners),
        "eligible_nodes": set(program.eligible_nodes) - set(nodes),
    }
    faults.update((IA, f"program.{field}") for field, names in unknown.items() if names)
    if program.currency in CURRENCIES and not any(unknown.values()):
        suppliers = set(program.eligible_owners) | {nodes[n].owner for n in program.eligible_nodes}
        if program.currency not in {owners[o][1] for o in suppliers or owners}:
            faults.add((IA, "program.currency"))  # no supplier of its bills in it
    old = h.programs().get(program.id)
    if old is not None:
        if program.currency in CURRENCIES and program.currency != old.currency:
            faults.add((IA, "program.currency"))
        if program.sponsor != old.sponsor:
            faults.add((IA, "program.sponsor"))
    if 0 <= program.budget < h.spent(program.id):
        faults.add((IA, "program.budget"))  # a cut into what is paid or reserved
    return frozenset(faults)


@settings(MALFORMED, max_examples=500)
@given(data=st.data(), who=WHO, faults=st.sampled_from([True, True, True, False]))
def test_putting_a_random_program_is_answered_as_documented_and_a_refusal_changes_nothing(
    harness: Harness, data: st.DataObject, who: str, faults: bool
) -> None:
    program = data.draw(program_messages(harness, faults))
    request = pb.PutProgramRequest(program=program)
    if faults and data.draw(RARELY):
        request.ClearField("program")
    old = harness.programs().get(program.id)
    spent = harness.spent(program.id)
    expected = operators_only(who)
    if expected is None:
        expected = (
            program_faults(harness, program) if request.HasField("program") else {(IA, "program")}
        )
        assert faults or not expected, sorted(expected)
    before, mark = harness.snapshot(), last_audit_seq(harness)

    got = answer(harness.admins[who].PutProgram, request)

    check_answer(got, frozenset(expected), request)
    unchanged_unless_ok(harness, before, got)
    if got.code is OK:
        reply = got.reply.program
        assert got.reply.created == (old is None)
        assert (reply.id, reply.name) == (program.id, program.name or program.id)
        assert (reply.sponsor, reply.currency) == (program.sponsor, program.currency)
        assert (reply.budget, reply.valid_from, reply.valid_until) == (
            program.budget,
            program.valid_from,
            program.valid_until,
        )
        assert reply.rates == program.rates
        assert reply.cap_period_s == (program.cap_period_s or YEAR_S)
        assert reply.HasField("tenant_cap") == program.HasField("tenant_cap")
        assert reply.tenant_cap == program.tenant_cap
        for field in ("eligible_tenants", "eligible_owners", "eligible_nodes", "eligible_flags"):
            assert set(getattr(reply, field)) == set(getattr(program, field)), field
        listed = ok(harness.operator.ListPrograms, pb.ListProgramsRequest()).programs
        assert reply in listed
        reports = ok(harness.operator.GetUsageReport, pb.GetUsageReportRequest()).programs
        [report] = [r for r in reports if r.program == program.id]
        assert (report.budget, report.reserved + report.paid) == (program.budget, spent)
        assert report.remaining == program.budget - spent
        if old != reply:
            audited(harness, "program.put", program.id, mark)


# ---------------------------------------------------------------------------- PutApproval


@st.composite
def approval_messages(draw: st.DrawFn, h: Harness, faults: bool) -> common_pb2.Approval:
    def known() -> list[str]:
        return list(h.world.coordinator.pool.approvals)

    from_zone, to_zone = draw(st.permutations(sorted(ZONES)))[:2]
    approval = common_pb2.Approval(
        id=draw(either(st.one_of(pick(known), new_id("ap")), any_id(known, "ap"), faults)),
        tenant=draw(either(pick(h.tenants), ODD_TEXT, faults)),
        from_zone=draw(either(st.just(from_zone), unknown_enum(ZONES), faults)),
        to_zone=draw(either(st.just(to_zone), unknown_enum(ZONES) | st.just(from_zone), faults)),
        expires_at=draw(int64()),  # any time: an expired approval is still an approval
    )
    return approval


def approval_faults(h: Harness, approval: common_pb2.Approval) -> Expected:
    faults: set[tuple[Code, str]] = set()
    if not is_identifier(approval.id):
        faults.add((IA, "approval.id"))
    if approval.tenant not in h.tenants():
        faults.add((IA, "approval.tenant"))
    for field in ("from_zone", "to_zone"):
        if getattr(approval, field) not in ZONES:
            faults.add((IA, f"approval.{field}"))
    if approval.from_zone == approval.to_zone:
        faults.add((IA, "approval.to_zone"))
    return frozenset(faults)


@settings(MALFORMED, max_examples=300)
@given(data=st.data(), who=WHO, faults=st.sampled_from([True, True, True, False]))
def test_putting_a_random_approval_is_answered_as_documented_and_a_refusal_changes_nothing(
    harness: Harness, data: st.DataObject, who: str, faults: bool
) -> None:
    approval = data.draw(approval_messages(harness, faults))
    request = pb.PutApprovalRequest(approval=approval)
    if faults and data.draw(RARELY):
        request.ClearField("approval")
    known = approval.id in harness.world.coordinator.pool.approvals
    expected = operators_only(who)
    if expected is None:
        expected = (
            approval_faults(harness, approval)
            if request.HasField("approval")
            else {(IA, "approval")}
        )
        assert faults or not expected, sorted(expected)
    before, mark = harness.snapshot(), last_audit_seq(harness)

    got = answer(harness.admins[who].PutApproval, request)

    check_answer(got, frozenset(expected), request)
    unchanged_unless_ok(harness, before, got)
    if got.code is OK:
        assert got.reply.created == (not known)
        assert got.reply.approval == approval
        listed = ok(
            harness.operator.ListApprovals, pb.ListApprovalsRequest(include_expired=True)
        ).approvals
        assert approval in listed
        if harness.snapshot() != before:
            audited(harness, "approval.put", approval.id, mark)


# ---------------------------------------------------------------------------- RemoveNode


def node_ids(h: Harness) -> st.SearchStrategy[str]:
    def known() -> list[str]:
        return list(h.nodes())

    return st.one_of(
        ODD_TEXT,
        new_id("n"),
        pick(known),
        pick(known),
        pick(known),
        st.just(h.busy),
        pick(known).map(str.upper),
        pick(known).map(lambda i: i + " "),
        pick(known).map(lambda i: i[:-1]),
    )


@settings(MALFORMED, max_examples=250)
@given(data=st.data(), who=WHO)
def test_removing_a_random_node_is_answered_as_documented_and_a_refusal_changes_nothing(
    harness: Harness, data: st.DataObject, who: str
) -> None:
    node_id = data.draw(node_ids(harness))
    request = pb.RemoveNodeRequest(node_id=node_id)
    nodes = harness.nodes()
    expected = operators_only(who)
    if expected is None:
        if not node_id:
            expected = frozenset({(IA, "node_id")})
        elif node_id not in nodes:
            expected = frozenset({(NF, "node_id")})
        elif node_id in harness.held() or len(nodes) == 1:
            expected = frozenset({(FP, "node_id")})  # it holds work, or it is the last node
        else:
            expected = frozenset()
    before, mark = harness.snapshot(), last_audit_seq(harness)

    got = answer(harness.admins[who].RemoveNode, request)

    check_answer(got, expected, request)
    unchanged_unless_ok(harness, before, got)
    if got.code is OK:
        assert got.reply.node == nodes[node_id]
        listed = ok(harness.operator.ListNodes, pb.ListNodesRequest(page_size=1000)).nodes
        assert node_id not in {n.id for n in listed}
        assert node_id not in harness.nodes()
        ok(harness.operator.GetCapacity, pb.GetCapacityRequest())
        audited(harness, "node.remove", node_id, mark)
        # Gone for good, but an operator may register it again: it is new.
        again = ok(harness.operator.RegisterNode, pb.RegisterNodeRequest(node=got.reply.node))
        assert again.created and again.node == nodes[node_id]


# ---------------------------------------------------------------------------- ExportEvidence


def export(stub: Any, request: pb.ExportEvidenceRequest) -> Answer:
    rows = []
    try:
        for row in stub.ExportEvidence(request, timeout=CALL_S):
            rows.append(row)
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return Answer(error.code(), error.details() or "", rows)
    return Answer(OK, "", rows)


@settings(MALFORMED, max_examples=250)
@given(
    data=st.data(),
    who=WHO,
    after=st.one_of(int64(0), int64(high=-1), st.integers(0, 40)),
)
def test_an_evidence_export_with_random_filters_is_answered_as_documented(
    harness: Harness, data: st.DataObject, who: str, after: int
) -> None:
    [row] = harness.evidence
    request = pb.ExportEvidenceRequest(
        after_posting=after,
        program=data.draw(st.one_of(st.just(""), pick(harness.programs), ODD_TEXT)),
        tenant=data.draw(st.one_of(st.sampled_from(["", "", *TENANTS]), ODD_TEXT)),
        supplier=data.draw(st.one_of(st.sampled_from(["", "", *harness.owners()]), ODD_TEXT)),
    )
    expected = operators_only(who)
    if expected is None:
        expected = frozenset({(IA, "after_posting")} if after < 0 else ())
    before = harness.snapshot()

    got = export(harness.admins[who], request)

    check_answer(got, expected, request)
    assert harness.snapshot() == before
    if got.code is OK:
        wanted = (
            row.posting > after
            and request.program in ("", *(s.program for s in row.shares))
            and request.tenant in ("", row.tenant)
            and request.supplier in ("", row.supplier)
        )
        assert got.reply == ([row] if wanted else [])
    else:
        assert got.reply == []


# ---------------------------------------------------------------------------- the last node


def test_the_pools_last_node_stays_and_the_refusal_changes_nothing(
    tmp_path: Path,
) -> None:
    """An idle node that is the pool's last one is not removed (FAILED_PRECONDITION naming
    `node_id`): the property above keeps a node busy, so it meets the last node only busy."""
    pool = a_pool().nodes(1, ASCEND, owner="sz-gov").tenant(a_tenant("t1")).build()
    world = a_world(pool, store=SqliteStore(tmp_path / "last.db"))
    api = Served(world.coordinator, a_token_book("t1"))
    try:
        [node_id] = world.coordinator.pool.nodes
        harness = Harness(api, world, {"operator": api.admin}, busy="", evidence=[])
        request = pb.RemoveNodeRequest(node_id=node_id)
        before = harness.snapshot()

        got = answer(api.admin.RemoveNode, request)

        check_answer(got, frozenset({(FP, "node_id")}), request)
        assert harness.snapshot() == before
    finally:
        api.close()
        world.coordinator.close()
        world.store.close()
