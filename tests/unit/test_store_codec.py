"""The store's JSON codecs: every value comes back equal through JSON text, and anything that is
not exactly what was written is refused naming the field (a lenient codec corrupts money)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.jobs import Gang, Job, Placement
from scheduler.domain.money import Money
from scheduler.domain.nodes import MAX_NODE_ACCELERATORS, Node, NodeState, OwnerClass
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import FlavorQuota, Tenant, TenantFlag
from scheduler.ledger.book import Account, AccountKind, Posting, PostingKey, PostingKind
from scheduler.ledger.programs import BASIS_POINTS, Program, Rates
from scheduler.ledger.usage import Usage
from scheduler.store.codec import (
    JsonObject,
    decode_approval,
    decode_job,
    decode_node,
    decode_placement,
    decode_posting,
    decode_program,
    decode_tenant,
    dumps,
    encode_approval,
    encode_job,
    encode_node,
    encode_placement,
    encode_posting,
    encode_program,
    encode_tenant,
    job_spec_text,
    json_value,
    loads,
)
from scheduler.store.errors import CorruptStore
from tests.builders import a_job

V = TypeVar("V")

names = st.text(max_size=12)
ids = st.text(min_size=1, max_size=12)
any_int = st.integers()  # unbounded: JSON integers keep every digit
natural = st.integers(min_value=0)
positive = st.integers(min_value=1)
name_sets = st.frozensets(names, max_size=4)


def through_text(encode: Callable[[V], JsonObject], decode: Callable[[object, str], V], v: V) -> V:
    return decode(loads(dumps(encode(v)), "test"), "test")


gangs = st.builds(Gang, positive, positive)
placements = st.builds(
    Placement,
    names,
    st.sampled_from(Jurisdiction),
    st.lists(st.tuples(names, any_int), max_size=4).map(tuple),
    st.none() | names,
)
jobs = st.builds(
    Job,
    id=ids,
    tenant=names,
    gang=gangs,
    models=st.frozensets(names, min_size=1, max_size=4),
    priority_class=names,
    priority=any_int,
    walltime_s=positive,
    data_origin=st.sampled_from(Jurisdiction),
    submitted_at=any_int,
    seq=any_int,
    preemptible=st.booleans(),
    checkpoint_interval_s=natural,
    approvals=st.lists(names, max_size=3).map(tuple),
    entrypoint=st.one_of(
        st.just(""),
        st.from_regex(
            r"\A[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8}){0,2}:[a-z_][a-z0-9_]{0,8}\Z"
        ),
    ),
    programs=st.lists(names, max_size=3).map(tuple),
    client_key=st.none() | names,
    min_tflops_fp16=st.none() | any_int,
)
nodes = st.builds(
    Node,
    ids,
    names,
    st.sampled_from(OwnerClass),
    st.sampled_from(City),
    names,
    st.integers(1, MAX_NODE_ACCELERATORS),
    st.builds(Money, st.sampled_from(Currency), natural),
    st.sampled_from(NodeState),
    st.lists(st.tuples(names, names), max_size=3).map(tuple),
)


@st.composite
def quotas(draw: st.DrawFn) -> FlavorQuota:
    nominal = draw(natural)
    lending = draw(st.none() | st.integers(min_value=0, max_value=nominal))
    return FlavorQuota(draw(names), nominal, draw(st.none() | natural), lending)


tenants = st.builds(
    Tenant,
    id=ids,
    name=names,
    weight=positive,
    owner=st.none() | names,
    priority_classes=name_sets,
    flags=st.frozensets(st.sampled_from(TenantFlag)),
    cohort=st.none() | names,
    quotas=st.none() | st.lists(quotas(), max_size=3, unique_by=lambda q: q.model).map(tuple),
)
basis_points = st.integers(min_value=0, max_value=BASIS_POINTS)


@st.composite
def programs(draw: st.DrawFn) -> Program:
    valid_from = draw(any_int)
    return Program(
        id=draw(ids),
        name=draw(names),
        sponsor=draw(names),
        currency=draw(st.sampled_from(Currency)),
        budget=draw(natural),
        valid_from=valid_from,
        valid_until=valid_from + draw(positive),
        rates=draw(
            st.builds(
                Rates,
                basis_points,
                basis_points,
                st.none() | basis_points,
                st.none() | basis_points,
            )
        ),
        eligible_tenants=draw(name_sets),
        eligible_flags=draw(st.frozensets(st.sampled_from(TenantFlag))),
        eligible_owners=draw(name_sets),
        eligible_nodes=draw(name_sets),
        tenant_cap=draw(st.none() | natural),
        cap_period_s=draw(positive),
        stacking_group=draw(st.none() | names),
    )


@st.composite
def approvals(draw: st.DrawFn) -> Approval:
    from_zone, to_zone = draw(st.permutations(list(Jurisdiction)))[:2]
    return Approval(draw(ids), draw(names), from_zone, to_zone, draw(any_int))


usages = st.builds(
    Usage,
    ids,
    ids,
    st.lists(names, max_size=3).map(tuple),
    ids,
    st.booleans(),
    natural,
    natural,
    st.sampled_from(Currency),
)
accounts = st.builds(Account, st.sampled_from(AccountKind), names, st.sampled_from(Currency))
postings = st.builds(
    Posting,
    any_int,
    st.builds(PostingKey, st.sampled_from(PostingKind), names, any_int, names),
    any_int,
    st.lists(st.tuples(accounts, any_int), max_size=6).map(tuple),
    st.none() | st.sampled_from(Currency),
    st.none() | names,
    st.none() | usages,
)


@given(jobs)
def test_a_job_round_trips(job: Job) -> None:
    assert through_text(encode_job, decode_job, job) == job


@given(jobs)
def test_a_jobs_spec_text_is_its_canonical_json_however_it_is_made(job: Job) -> None:
    assert job_spec_text(job) == dumps(encode_job(job))
    # A second job of the same shape is made from the cached pieces.
    other = dataclasses.replace(job, id=job.id + "-2", seq=job.seq + 1, client_key='k"2')
    assert job_spec_text(other) == dumps(encode_job(other))


def test_a_name_holding_a_sentinel_does_not_confuse_the_spec_text() -> None:
    job = a_job("job-1").build()
    for name in ("client_key", "id", "seq"):
        tricky = dataclasses.replace(
            job, priority_class=f"\x00{name}\x00", approvals=(f"\x00{name}\x00",)
        )
        assert job_spec_text(tricky) == dumps(encode_job(tricky))
        assert decode_job(json.loads(job_spec_text(tricky))) == tricky


@given(placements)
def test_a_placement_round_trips(placement: Placement) -> None:
    assert through_text(encode_placement, decode_placement, placement) == placement


@given(nodes)
def test_a_node_round_trips(node: Node) -> None:
    assert through_text(encode_node, decode_node, node) == node


@given(tenants)
def test_a_tenant_round_trips(tenant: Tenant) -> None:
    assert through_text(encode_tenant, decode_tenant, tenant) == tenant


@given(programs())
def test_a_program_round_trips(program: Program) -> None:
    assert through_text(encode_program, decode_program, program) == program


@given(approvals())
def test_an_approval_round_trips(approval: Approval) -> None:
    assert through_text(encode_approval, decode_approval, approval) == approval


@given(postings)
def test_a_posting_round_trips_with_its_entries_key_and_usage(posting: Posting) -> None:
    back = through_text(encode_posting, decode_posting, posting)
    assert back == posting
    assert all(type(amount) is int for _, amount in back.entries)


@given(tenants)
def test_one_value_has_one_encoding(tenant: Tenant) -> None:
    """Sets are written sorted: equal values store equal text (and compare equal as rows)."""
    shuffled = Tenant(
        tenant.id,
        tenant.name,
        tenant.weight,
        tenant.owner,
        frozenset(sorted(tenant.priority_classes, reverse=True)),
        tenant.flags,
        tenant.cohort,
        tenant.quotas,
    )
    assert dumps(encode_tenant(shuffled)) == dumps(encode_tenant(tenant))


# ---------------------------------------------------------------------- strictness


def stored_job(**changes: object) -> JsonObject:
    value = encode_job(a_job("j1").build())
    value.update(changes)
    return value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"walltime_s": 3600.0}, "job.walltime_s: expected an integer, found float"),
        ({"priority": True}, "job.priority: expected an integer, found bool"),
        ({"seq": "7"}, "job.seq: expected an integer, found str"),
        ({"data_origin": "taiwan"}, "job.data_origin: 'taiwan' is not a Jurisdiction"),
        ({"models": "ascend"}, "job.models: expected a list, found str"),
        ({"gang": {"workers": 2}}, "job.gang: missing per_worker"),
        ({"colour": "red"}, "job: unknown colour"),
        ({"walltime_s": 0}, "job: job.walltime_s: must be a positive number of seconds"),
    ],
)
def test_a_stored_job_that_is_not_exact_is_refused_naming_the_field(
    changes: JsonObject, field: str
) -> None:
    with pytest.raises(CorruptStore) as refused:
        decode_job(stored_job(**changes))
    assert field in str(refused.value)


def test_a_missing_field_is_refused() -> None:
    value = stored_job()
    del value["entrypoint"]
    with pytest.raises(CorruptStore, match="job: missing entrypoint"):
        decode_job(value)


def test_a_posting_amount_that_is_not_an_integer_is_refused() -> None:
    posting = Posting(
        1,
        PostingKey(PostingKind.TOP_UP, "lab", ref="p1"),
        0,
        (
            (Account(AccountKind.TENANT_DEPOSITS, "lab", Currency.CNY), -100),
            (Account(AccountKind.TENANT_BALANCE, "lab", Currency.CNY), 100),
        ),
    )
    text = dumps(encode_posting(posting)).replace(",100]", ",100.0]")
    with pytest.raises(CorruptStore, match=r"posting.entries\[1\]\[3\]: expected an integer"):
        decode_posting(loads(text, "posting"))


def test_text_that_is_not_json_is_refused_naming_where() -> None:
    with pytest.raises(CorruptStore, match="jobs row 'j1'"):
        loads('{"id": ', "jobs row 'j1'")


def test_json_values_are_plain_json_or_refused() -> None:
    assert json_value({"a": (1, [2.5, None]), "b": {"c": True}}, "data") == {
        "a": [1, [2.5, None]],
        "b": {"c": True},
    }
    for bad, where in [
        ({"x": math.nan}, "data.x"),
        ({"x": {1, 2}}, "data.x"),
        ({1: "one"}, "data"),
        ({"x": [object()]}, r"data.x\[0\]"),
    ]:
        with pytest.raises(InvalidField, match=where):
            json_value(bad, "data")


def test_canonical_text_is_compact_sorted_and_ascii() -> None:
    assert dumps({"b": 1, "a": "深圳"}) == '{"a":"\\u6df1\\u5733","b":1}'
    assert json.loads(dumps({"n": 2**80})) == {"n": 2**80}
