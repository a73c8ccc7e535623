"""Thousands of malformed requests against one real gRPC server on loopback (a coordinator on a
SQLite file, a manual clock that never ticks): random and out-of-range values for every field of
a submission (zero, negative and huge integers, unknown enum numbers, empty, very long, NUL and
non-ASCII strings, unknown tenants, models, priority classes and approvals), batches with one bad
job among good ones, random job ids, listing filters, pages and tokens, watches from a negative
sequence number, node ids and states, audit pages; as a tenant, an operator, or no one.

Every answer is the one the API documents for what was sent: an oracle here reads the request
(and, for ids, the store) and says which (status, field path) pairs may answer it, never INTERNAL
or UNKNOWN; a refusal's details start with `<path>: `, a path that names a field of the request;
a request valid by construction succeeds. And a refused call changes nothing: the store's jobs,
its last event seq, the audit trail and the ledger are the same before and after (a call that
legitimately succeeded re-baselines them)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.api.v1 import admin_pb2, common_pb2
from scheduler.api.v1 import scheduler_pb2 as pb
from scheduler.domain.jobs import JobState
from scheduler.store.sqlite import SqliteStore
from tests.api_builders import OPERATOR_TOKEN, Served, a_token_book, tenant_token
from tests.builders import ASCEND, CATALOGUE, a_pool, a_tenant, an_approval
from tests.service_builders import T0, World, a_world

Code = grpc.StatusCode
OK = Code.OK
IA, NF, PD, FP = (
    Code.INVALID_ARGUMENT,
    Code.NOT_FOUND,
    Code.PERMISSION_DENIED,
    Code.FAILED_PRECONDITION,
)
UNAUTH = Code.UNAUTHENTICATED
Expected = frozenset[tuple[Code, str]]  # the (status, field path) pairs that may answer

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
LONG_ASCII, LONG_ANY = 4_000, 400  # characters; see ODD_TEXT
CALL_S = 10
WATCH_S = 5  # a refused watch answers at once; a watch that streams instead ends here

# Stable in CI: the same examples every run, nothing written to disk, no wall-clock deadline.
MALFORMED = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------------------- the served pool

NODE = "sz-gov-huawei-ascend-910b-000"
TENANTS = ("t1", "t2")
CLASSES = ("low", "standard", "high")
DEFAULT_CLASS = "standard"
ALLOWED_CLASSES = {"t1": set(CLASSES), "t2": {"low"}}
APPROVALS = {"ap-t1": "t1", "ap-t2": "t2"}  # approval id -> the tenant that holds it
MODELS = {model.id: model.tflops_fp16 for model in CATALOGUE.values()}
TOKENS: dict[str, str | None] = {
    "t1": tenant_token("t1"),
    "t2": tenant_token("t2"),
    "operator": OPERATOR_TOKEN,
    "none": None,
    "garbage": "not-a-token-anyone-was-given",
}
ANONYMOUS = ("none", "garbage")


def enum_numbers(enum: Any) -> frozenset[int]:
    """The numbers of an enum's values, `_UNSPECIFIED` (0) excluded."""
    return frozenset(v.number for v in enum.DESCRIPTOR.values if v.number != 0)


ZONES = enum_numbers(common_pb2.Jurisdiction)
JOB_STATES = enum_numbers(common_pb2.JobState)
NODE_STATES = enum_numbers(common_pb2.NodeState)


@dataclass
class Harness:
    api: Served
    world: World
    stubs: dict[str, Any]
    admins: dict[str, Any]
    rejected: str  # t1's job that ended REJECTED
    cancelled: str  # t1's job that was cancelled
    queued: str  # t1's job still queued

    def snapshot(self) -> tuple[int, ...]:
        """What a refused call must leave as it was."""
        coordinator = self.world.coordinator
        return (
            len(coordinator.jobs(limit=1_000_000)),
            coordinator.last_event_seq,
            self.world.store.last_event_seq(),
            len(coordinator.audit(0, limit=1_000_000)),
            len(coordinator.ledger),
            len(self.world.store.postings()),
        )

    def job_tenant(self, job_id: str) -> str | None:
        """The tenant of a stored job; None when there is no such job."""
        record = self.world.store.job(job_id)
        return None if record is None else record.job.tenant


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    pool = (
        a_pool()
        .nodes(1, ASCEND, owner="sz-gov")
        .tenant(a_tenant("t1"))
        .tenant(a_tenant("t2").priorities("low"))
        .approval(an_approval("ap-t1").held_by("t1").expires_at(T0 + 86_400))
        .approval(an_approval("ap-t2").held_by("t2").expires_at(T0 + 86_400))
        .build()
    )
    path: Path = tmp_path_factory.mktemp("malformed") / "api.db"
    # Oversize gangs are not refused at submission here (as in a trace replay): the harness
    # needs a job that its cycle rejected.
    world = a_world(pool, store=SqliteStore(path), refuse_oversize=False)
    rejected = world.submit("t1", workers=64)  # more than the pool holds: rejected at intake
    world.run()
    cancelled = world.submit("t1", client_key="seed-cancelled")
    world.coordinator.cancel(cancelled, actor="seed")
    queued = world.submit("t1", client_key="seed-queued")  # no tick after this: it stays queued
    assert world.state(rejected) is JobState.REJECTED
    assert world.state(cancelled) is JobState.CANCELLED
    assert world.state(queued) is JobState.QUEUED
    assert NODE in world.coordinator.pool.nodes
    api = Served(world.coordinator, a_token_book(*TENANTS))
    stubs = {who: api.as_(token) for who, token in TOKENS.items()}
    admins = {who: api.admin_as(token) for who, token in TOKENS.items()}
    yield Harness(api, world, stubs, admins, rejected, cancelled, queued)
    api.close()
    world.coordinator.close()
    world.store.close()


# ---------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    code: Code
    details: str
    reply: Any = None


def answer(call: Callable[..., Any], request: Message) -> Answer:
    try:
        reply = call(request, timeout=CALL_S)
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return Answer(error.code(), error.details() or "")
    return Answer(OK, "", reply)


def watch(stub: Any, request: pb.WatchEventsRequest) -> Answer:
    events = []
    try:
        for event in stub.WatchEvents(request, timeout=WATCH_S):
            events.append(event)
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return Answer(error.code(), error.details() or "", events)
    return Answer(OK, "", events)


_PATH = re.compile(r"([A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): ")
_STEP = re.compile(r"([A-Za-z_]\w*)(?:\[(\d+)\])?")


def field_path(details: str) -> str | None:
    """The `<path>` of details that start with `<path>: `."""
    match = _PATH.match(details)
    return match[1] if match else None


def names_a_field(request: Message, path: str) -> bool:
    """Whether `path` (`jobs[1].spec.models[0]`) leads through fields of `request` (an index
    only into a repeated field, and within it)."""
    at: Any = request
    for step in path.split("."):
        match = _STEP.fullmatch(step)
        if match is None or not isinstance(at, Message):
            return False
        name, index = match[1], match[2]
        field = at.DESCRIPTOR.fields_by_name.get(name)
        if field is None:
            return False
        value = getattr(at, name)
        if index is not None:
            if not field.is_repeated or int(index) >= len(value):
                return False
            value = value[int(index)]
        at = value
    return True


def check_answer(got: Answer, expected: Expected, request: Message, *, ok: bool = False) -> None:
    """`got` is one of the `expected` (status, path) refusals (or OK, if `ok`); its details start
    with `<path>: `, a path through fields of `request`, unless the path expected is "" (no token,
    an Admin call's operators-only refusal that names the RPC, a job that already ended)."""
    assert got.code not in (Code.INTERNAL, Code.UNKNOWN), (got.code, got.details)
    if got.code is OK:
        assert ok, f"accepted, but expected one of {sorted(expected)}"
        return
    if (got.code, "") in expected:  # a refusal that need not name a field
        return
    path = field_path(got.details)
    assert path is not None, f"{got.code.name} without a field path: {got.details[:200]!r}"
    assert names_a_field(request, path), f"{path!r} names no field of the request"
    assert (got.code, path) in expected, (got.code, got.details[:200], sorted(expected))


# ---------------------------------------------------------------------------- strategies

PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126).filter(lambda c: c != "%")
ODD_TEXT = st.one_of(
    st.just(""),
    st.text(max_size=12),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "数据中心",
            "ünïcödé",
            "\u202egnp",
            "🚀",
            " ",
            "\t\n",
            "'; DROP TABLE jobs; --",
            "%s%n",
            "../../etc/passwd",
        ]
    ),
    # Long, but short enough that an error repeating it fits the client's 8 KiB metadata limit
    # (grpc-message is percent-encoded: a non-ASCII character takes up to 12 bytes there);
    # longer ones are refused with RESOURCE_EXHAUSTED instead (test_a_long_value_...).
    st.builds(operator.mul, PRINTABLE, st.integers(500, LONG_ASCII)),
    st.builds(operator.mul, st.characters(codec="utf-8"), st.integers(100, LONG_ANY)),
)
WHO = st.sampled_from(["t1", "t1", "t1", "operator", "operator", "operator", "t2", *ANONYMOUS])
SEEN_AS = st.sampled_from(["t1", "t1", "operator", "operator", "t2", *ANONYMOUS])


# module:function, at most 200 characters (the documented form); ENTRYPOINTS only good ones.
ENTRYPOINT = re.compile(r"(?=.{1,200}\Z)[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
ENTRYPOINTS = st.one_of(
    st.just(""),
    st.sampled_from(["scheduler.workloads.sample:train", "a:b"]),
    st.from_regex(r"\A[a-z_][a-z0-9_]{0,6}(\.[a-z_][a-z0-9_]{0,6}){0,2}:[a-z_][a-z0-9_]{0,6}\Z"),
)


def int32(low: int = INT32[0], high: int = INT32[1]) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, high), st.sampled_from([low, high]))


def int64(low: int = INT64[0], high: int = INT64[1]) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, high), st.sampled_from([low, high]))


def unknown_enum(known: frozenset[int]) -> st.SearchStrategy[int]:
    """0 (unspecified), a number just past the known ones, or any other int32."""
    return st.one_of(
        st.just(0),
        st.sampled_from([max(known) + 1, -1, 99]),
        st.integers(*INT32).filter(lambda n: n not in known),
    )


def either(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], faults: bool) -> Any:
    """Mostly good, sometimes bad (never bad unless `faults`)."""
    return st.one_of(good, good, good, bad) if faults else good


@st.composite
def models_and_speed(draw: st.DrawFn, faults: bool) -> tuple[list[str], int | None]:
    known = st.lists(st.sampled_from(sorted(MODELS)), min_size=1, max_size=4)
    good = st.one_of(
        st.tuples(known, st.none()),
        st.tuples(st.just([]), st.integers(1, max(MODELS.values()))),
    )
    unknown = ODD_TEXT.filter(lambda s: s not in MODELS)
    bad = st.one_of(
        st.tuples(st.just([]), st.none()),  # neither models nor a speed
        st.tuples(  # an unknown model among known ones
            st.lists(st.one_of(st.sampled_from(sorted(MODELS)), unknown), max_size=4).map(
                lambda models: [*models, "tpu-v5"]
            ),
            st.one_of(st.none(), int32()),
        ),
        st.tuples(st.one_of(st.just([]), known), int32(high=0)),  # not a positive speed
        st.tuples(st.one_of(st.just([]), known), int32(low=max(MODELS.values()) + 1)),
    )
    models, speed = draw(either(good, bad, faults))
    return draw(st.permutations(models)) if models else [], speed


@st.composite
def submissions(draw: st.DrawFn, who: str, faults: bool = True) -> pb.SubmitJobRequest:
    """A submission made by `who`: every field good (`faults` False) or, field by field, mostly
    good and sometimes not."""
    own = who if who in TENANTS else None
    if own is not None:
        tenant = draw(
            either(st.sampled_from(["", own]), ODD_TEXT.filter(lambda s: s != own), faults)
        )
    else:
        tenant = draw(either(st.sampled_from(TENANTS), ODD_TEXT, faults))
    as_ = own or tenant
    classes = sorted(ALLOWED_CLASSES.get(as_, set())) + (
        [""] if DEFAULT_CLASS in ALLOWED_CLASSES.get(as_, set()) else []
    )
    approvals = [a for a, holder in APPROVALS.items() if holder == as_]
    models, speed = draw(models_and_speed(faults))
    spec = pb.JobSpec(
        workers=draw(either(int32(1), int32(high=0), faults)),
        per_worker=draw(either(int32(1), int32(high=0), faults)),
        models=models,
        priority_class=draw(
            either(
                st.sampled_from(classes or [""]),
                st.one_of(st.sampled_from(CLASSES), ODD_TEXT),
                faults or not classes,
            )
        ),
        walltime_s=draw(either(int64(1), int64(high=0), faults)),
        data_origin=draw(either(st.sampled_from(sorted(ZONES)), unknown_enum(ZONES), faults)),
        checkpoint_interval_s=draw(either(int64(0), int64(high=-1), faults)),
        approvals=draw(
            either(
                st.lists(st.sampled_from(approvals or [""]), max_size=2 if approvals else 0),
                st.lists(st.one_of(st.sampled_from(sorted(APPROVALS)), ODD_TEXT), min_size=1),
                faults,
            )
        ),
        entrypoint=draw(either(ENTRYPOINTS, ODD_TEXT, faults)),
        # The harness's pool runs no subsidy program: any program named is unknown.
        programs=draw(either(st.just([]), st.lists(ODD_TEXT, min_size=1, max_size=3), faults)),
    )
    if speed is not None:
        spec.min_tflops_fp16 = speed
    preemptible = draw(st.none() | st.booleans())
    if preemptible is not None:
        spec.preemptible = preemptible
    request = pb.SubmitJobRequest(tenant=tenant, client_key=draw(ODD_TEXT), spec=spec)
    if faults and draw(st.integers(0, 15)) == 0:
        request.ClearField("spec")
    return request


def submission_faults(one: pb.SubmitJobRequest, who: str, prefix: str = "") -> Expected:
    """Every (status, field path) the API may refuse `one` with, as documented; empty: valid."""
    faults: set[tuple[Code, str]] = set()
    if who in ANONYMOUS:
        return frozenset({(UNAUTH, "")})
    if who in TENANTS:
        if one.tenant not in ("", who):
            faults.add((PD, "tenant"))
        tenant = who
    else:
        if one.tenant not in TENANTS:  # an operator must name a tenant that exists
            faults.add((IA, "tenant"))
        tenant = one.tenant
    if not one.HasField("spec"):
        faults.add((IA, "spec"))
        return frozenset((code, prefix + path) for code, path in faults)
    spec = one.spec
    if spec.data_origin not in ZONES:
        faults.add((IA, "spec.data_origin"))
    klass = spec.priority_class or DEFAULT_CLASS
    if klass not in CLASSES:
        faults.add((IA, "spec.priority_class"))
    elif klass not in ALLOWED_CLASSES.get(tenant, set(CLASSES)):
        faults.add((PD, "spec.priority_class"))
    for i, approval in enumerate(spec.approvals):
        if APPROVALS.get(approval) != tenant:
            faults.add((IA, f"spec.approvals[{i}]"))
    speed = spec.min_tflops_fp16 if spec.HasField("min_tflops_fp16") else None
    if not spec.models and speed is None:
        faults.add((IA, "spec.models"))
    unknown = [i for i, model in enumerate(spec.models) if model not in MODELS]
    faults.update((IA, f"spec.models[{i}]") for i in unknown)
    if speed is not None and not unknown:
        named = spec.models or list(MODELS)
        if speed <= 0 or not any(MODELS[m] >= speed for m in named):
            faults.add((IA, "spec.min_tflops_fp16"))
    for name in ("workers", "per_worker", "walltime_s"):
        if getattr(spec, name) <= 0:
            faults.add((IA, f"spec.{name}"))
    if spec.checkpoint_interval_s < 0:
        faults.add((IA, "spec.checkpoint_interval_s"))
    if spec.entrypoint and not ENTRYPOINT.fullmatch(spec.entrypoint):
        faults.add((IA, "spec.entrypoint"))
    faults.update((IA, f"spec.programs[{j}]") for j in range(len(spec.programs)))
    return frozenset((code, prefix + path) for code, path in faults)


def after_refusal_or_success(h: Harness, before: tuple[int, ...], got: Answer) -> None:
    """A refused call changed nothing."""
    if got.code is not OK:
        assert h.snapshot() == before, f"{got.code.name} ({got.details[:120]!r}) changed the store"


# ---------------------------------------------------------------------------- submissions


@settings(MALFORMED, max_examples=600)
@given(data=st.data(), who=WHO)
def test_a_submission_is_answered_as_documented_and_a_refused_one_changes_nothing(
    harness: Harness, data: st.DataObject, who: str
) -> None:
    request = data.draw(submissions(who if who not in ANONYMOUS else "t1"))
    faults = submission_faults(request, who)
    before = harness.snapshot()

    got = answer(harness.stubs[who].SubmitJob, request)

    check_answer(got, faults, request, ok=not faults)
    after_refusal_or_success(harness, before, got)
    if got.code is OK:
        record = harness.world.store.job(got.reply.job_id)
        assert record is not None
        assert record.job.tenant == (who if who in TENANTS else request.tenant)
        if not got.reply.created:  # the client key was seen before: nothing new
            assert request.client_key
            assert harness.snapshot() == before


@st.composite
def batches(draw: st.DrawFn, who: str) -> tuple[pb.SubmitJobsRequest, int]:
    """Good submissions around one bad one, at index `bad`."""
    as_ = who if who not in ANONYMOUS else "t1"
    good = st.lists(submissions(as_, faults=False), max_size=3)
    before, after = draw(good), draw(good)
    if who not in ANONYMOUS:
        assert not any(submission_faults(one, who) for one in (*before, *after))
    wrong = draw(submissions(as_).filter(lambda one: bool(submission_faults(one, as_))))
    return pb.SubmitJobsRequest(jobs=[*before, wrong, *after]), len(before)


@settings(MALFORMED, max_examples=400)
@given(data=st.data(), who=WHO)
def test_one_bad_job_refuses_its_batch_naming_it_and_nothing_is_created(
    harness: Harness, data: st.DataObject, who: str
) -> None:
    request, bad = data.draw(batches(who))
    faults = submission_faults(request.jobs[bad], who, prefix=f"jobs[{bad}].")
    before = harness.snapshot()

    got = answer(harness.stubs[who].SubmitJobs, request)

    check_answer(got, faults, request)
    after_refusal_or_success(harness, before, got)


# ---------------------------------------------------------------------------- reading jobs


def job_ids(h: Harness) -> st.SearchStrategy[str]:
    return st.one_of(
        ODD_TEXT,
        st.integers(10**6, 10**18).map(lambda n: f"job-{n}"),
        st.sampled_from([h.rejected, h.cancelled, h.queued]),
        st.sampled_from([h.rejected, h.queued]).map(lambda i: i + " "),
        st.sampled_from([h.rejected, h.queued]).map(str.upper),
    )


@settings(MALFORMED, max_examples=500)
@given(data=st.data(), who=SEEN_AS, rpc=st.sampled_from(["GetJob", "CancelJob"]))
def test_a_job_by_a_random_id_is_not_found_unless_the_caller_may_see_it(
    harness: Harness, data: st.DataObject, who: str, rpc: str
) -> None:
    job_id = data.draw(job_ids(harness))
    owner = harness.job_tenant(job_id)
    visible = owner is not None and who in ("operator", owner)
    if rpc == "CancelJob" and visible and job_id == harness.queued:
        job_id = harness.cancelled  # the queued job stays queued: tenant t2 cannot see it
    state = harness.world.state(job_id) if visible else None
    request: Message = (
        pb.GetJobRequest(job_id=job_id) if rpc == "GetJob" else pb.CancelJobRequest(job_id=job_id)
    )
    if who in ANONYMOUS:
        expected, ok = frozenset({(UNAUTH, "")}), False
    elif not job_id:
        expected, ok = frozenset({(IA, "job_id")}), False
    elif not visible:
        expected, ok = frozenset({(NF, "job_id")}), False
    elif rpc == "CancelJob" and state is not JobState.CANCELLED:
        assert state is not None and state.terminal
        expected, ok = frozenset({(FP, "")}), False
    else:
        expected, ok = frozenset(), True
    before = harness.snapshot()

    got = answer(getattr(harness.stubs[who], rpc), request)

    check_answer(got, expected, request, ok=ok)
    assert harness.snapshot() == before  # reading, or cancelling a cancelled job, changes nothing


@settings(MALFORMED, max_examples=500)
@given(
    data=st.data(),
    who=SEEN_AS,
    tenant=st.one_of(st.sampled_from(["", "", *TENANTS]), ODD_TEXT),
    states=st.lists(st.one_of(st.sampled_from(sorted(JOB_STATES)), unknown_enum(JOB_STATES))),
    page_size=st.one_of(st.just(0), int32(1, 1000), int32(1001), int32(high=-1)),
)
def test_a_listing_with_random_filters_and_pages_is_answered_as_documented(
    harness: Harness,
    data: st.DataObject,
    who: str,
    tenant: str,
    states: list[int],
    page_size: int,
) -> None:
    token = data.draw(st.one_of(st.just(""), job_ids(harness)))
    request = pb.ListJobsRequest(
        tenant=tenant, states=states, page_size=page_size, page_token=token
    )
    owner = harness.job_tenant(token) if token else None
    bad_state = next((i for i, s in enumerate(states) if s not in JOB_STATES), None)
    expected: Expected = frozenset()
    if who in ANONYMOUS:
        expected = frozenset({(UNAUTH, "")})
    elif who in TENANTS and tenant not in ("", who):
        expected = frozenset({(PD, "tenant")})
    elif not 0 < (page_size or 100) <= 1000:
        expected = frozenset({(IA, "page_size")})
    elif bad_state is not None:
        expected = frozenset({(IA, f"states[{bad_state}]")})
    elif token and (owner is None or who not in ("operator", owner)):
        expected = frozenset({(IA, "page_token")})
    before = harness.snapshot()

    got = answer(harness.stubs[who].ListJobs, request)

    check_answer(got, expected, request, ok=not expected)
    assert harness.snapshot() == before
    if got.code is OK:
        jobs = got.reply.jobs
        assert len(jobs) <= (page_size or 100)
        shown = who if who in TENANTS else tenant or None
        assert all(shown is None or job.tenant == shown for job in jobs)
        assert all(not states or job.state in states for job in jobs)


@settings(MALFORMED, max_examples=300)
@given(
    who=SEEN_AS,
    after_seq=int64(high=-1),
    job_id=ODD_TEXT,
    prefix=ODD_TEXT,
    tenant=st.one_of(st.sampled_from(["", "", *TENANTS]), ODD_TEXT),
)
def test_a_watch_from_a_negative_seq_is_refused_at_once(
    harness: Harness, who: str, after_seq: int, job_id: str, prefix: str, tenant: str
) -> None:
    request = pb.WatchEventsRequest(
        after_seq=after_seq, job_id=job_id, client_key_prefix=prefix, tenant=tenant
    )
    if who in ANONYMOUS:
        expected = frozenset({(UNAUTH, "")})
    elif who in TENANTS and tenant not in ("", who):
        expected = frozenset({(PD, "tenant")})
    else:
        expected = frozenset({(IA, "after_seq")})
    before = harness.snapshot()

    got = watch(harness.stubs[who], request)

    check_answer(got, expected, request)
    assert got.reply == []
    assert harness.snapshot() == before


# ---------------------------------------------------------------------------- the Admin service


def operators_only(who: str) -> Expected | None:
    """How an Admin call by `who` is refused before its request is looked at; None: it is not."""
    if who in ANONYMOUS:
        return frozenset({(UNAUTH, "")})
    if who in TENANTS:
        return frozenset({(PD, "")})
    return None


@settings(MALFORMED, max_examples=400)
@given(
    who=SEEN_AS,
    node_id=st.one_of(
        ODD_TEXT,
        st.sampled_from([NODE, NODE.upper(), NODE + " ", " " + NODE, NODE[:-1], NODE + "\x00"]),
    ),
    state=st.one_of(unknown_enum(NODE_STATES), st.sampled_from(sorted(NODE_STATES))),
)
def test_setting_a_random_node_state_is_answered_as_documented(
    harness: Harness, who: str, node_id: str, state: int
) -> None:
    request = admin_pb2.SetNodeStateRequest(node_id=node_id, state=state)  # type: ignore[arg-type]
    expected = operators_only(who)
    if expected is None:
        if not node_id:  # checked first, in field order, as RemoveNode's
            expected = frozenset({(IA, "node_id")})
        elif state not in NODE_STATES:
            expected = frozenset({(IA, "state")})
        elif node_id != NODE:
            expected = frozenset({(NF, "node_id")})
        else:
            expected = frozenset()
    before = harness.snapshot()

    got = answer(harness.admins[who].SetNodeState, request)

    check_answer(got, expected, request, ok=not expected)
    after_refusal_or_success(harness, before, got)
    if got.code is OK:
        assert got.reply.node.id == NODE
        assert got.reply.node.state == state


@settings(MALFORMED, max_examples=400)
@given(
    who=SEEN_AS,
    after_seq=st.one_of(int64(0), int64(high=-1)),
    action=st.one_of(st.just(""), st.sampled_from(["node.put", "node.state"]), ODD_TEXT),
    subject=st.one_of(st.just(""), st.just(NODE), ODD_TEXT),
    page_size=st.one_of(st.just(0), int32(1, 1000), int32(1001), int32(high=-1)),
    page_token=st.one_of(
        st.just(""),
        ODD_TEXT,
        st.integers(0, 2**63 - 1).map(str),  # a seq the server could have given out
        # (past 2^63 - 1: test_an_audit_page_token_beyond_any_seq_is_no_internal_error)
        st.sampled_from(["-1", "+1", "1.5", "1e3", " 1", "١٢", "²", "0x10", "0" * 30 + "7"]),
    ),
)
def test_an_audit_page_with_random_tokens_is_answered_as_documented(
    harness: Harness,
    who: str,
    after_seq: int,
    action: str,
    subject: str,
    page_size: int,
    page_token: str,
) -> None:
    request = admin_pb2.ListAuditRequest(
        after_seq=after_seq,
        action=action,
        subject=subject,
        page_size=page_size,
        page_token=page_token,
    )
    expected = operators_only(who)
    ok = False
    if expected is None:
        if not 0 < (page_size or 100) <= 1000:
            expected = frozenset({(IA, "page_size")})
        elif after_seq < 0:
            expected = frozenset({(IA, "after_seq")})
        elif page_token and not (page_token.isascii() and page_token.isdecimal()):
            expected = frozenset({(IA, "page_token")})
        else:  # a decimal token past every record is an empty page, or not a token we gave out
            expected, ok = frozenset({(IA, "page_token")} if page_token else ()), True
    before = harness.snapshot()

    got = answer(harness.admins[who].ListAudit, request)

    check_answer(got, expected, request, ok=ok)
    assert harness.snapshot() == before
    if got.code is OK:
        assert len(got.reply.records) <= (page_size or 100)
        assert all(r.seq > after_seq for r in got.reply.records)


# ---------------------------------------------------------------------------- found so far


@pytest.mark.parametrize("page_token", [str(2**63), "9" * 5000])
def test_an_audit_page_token_beyond_any_seq_is_no_internal_error(
    harness: Harness, page_token: str
) -> None:
    """Found by the property above: `ListAudit` turns a decimal `page_token` into an int with
    no bound, and SQLite cannot bind one past 2^63 - 1 (nor Python parse one of 4301+ digits)."""
    got = answer(
        harness.admins["operator"].ListAudit, admin_pb2.ListAuditRequest(page_token=page_token)
    )

    assert got.code in (OK, IA), (got.code, got.details)


LONG_VALUE = "x" * 20_000  # past the 16 KiB hard limit: refused every time


@pytest.mark.parametrize(
    ("who", "rpc", "request_", "field"),
    [
        ("t1", "SubmitJob", pb.SubmitJobRequest(tenant=LONG_VALUE), "tenant"),
        ("operator", "GetJob", pb.GetJobRequest(job_id=LONG_VALUE), "job_id"),
    ],
    ids=["SubmitJob.tenant", "GetJob.job_id"],
)
def test_a_long_value_is_refused_naming_its_field(
    harness: Harness, who: str, rpc: str, request_: Message, field: str
) -> None:
    """Found by the properties: a refusal's details repeat the value refused, whole, and past
    the client's 8 KiB metadata limit the client gets RESOURCE_EXHAUSTED ("received metadata
    size exceeds soft limit") instead of the status and the field."""
    before = harness.snapshot()

    got = answer(getattr(harness.stubs[who], rpc), request_)

    assert got.code in (PD, NF), (got.code, got.details[:200])
    assert field_path(got.details) == field
    assert harness.snapshot() == before
