"""Exact JSON codecs for the values a store persists.

`decode_x(encode_x(v)) == v` for every value: integers stay integers (JSON integers have no
size limit in Python), enums are stored by value, sets as sorted lists (so one value has one
encoding), tuples are restored. Decoding is strict, because a value that decodes "nearly" right
would silently corrupt money: every key must be present, no unknown key is accepted, an integer
field refuses floats and booleans, and the value objects' own checks run again. Whatever does
not decode raises CorruptStore naming where it was found.

Adding a field to a value object therefore needs a migration that rewrites the stored rows.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from scheduler.domain.errors import DomainError, InvalidField
from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.jobs import Gang, Job, Placement
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState, OwnerClass
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import FlavorQuota, Tenant, TenantFlag
from scheduler.ledger.book import Account, AccountKind, Entry, Posting, PostingKey, PostingKind
from scheduler.ledger.programs import Program, Rates
from scheduler.ledger.usage import Usage
from scheduler.store.errors import CorruptStore

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)
JsonObject = dict[str, object]


# ---------------------------------------------------------------------- text


# One encoder for every call: `json.dumps` with options builds a new one each time, which costs
# more than encoding a job.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


def dumps(value: object) -> str:
    """Canonical JSON text: sorted keys, no spaces, ASCII only (any string survives SQLite's
    UTF-8), NaN and infinities refused."""
    return _ENCODER.encode(value)


def loads(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise CorruptStore(f"{where}: not valid JSON ({exc})") from None


def json_value(value: object, where: str) -> object:
    """`value` as plain JSON (tuples become lists), or InvalidField naming the path of the first
    part JSON cannot hold exactly (non-string keys, NaN, sets, objects)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidField(where, "must be a finite number")
        return value
    if isinstance(value, list | tuple):
        return [json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out: JsonObject = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidField(where, f"key {key!r} is not a string")
            out[key] = json_value(item, f"{where}.{key}")
        return out
    raise InvalidField(where, f"{type(value).__name__} is not a JSON value")


# ---------------------------------------------------------------------- strict reading


class _Fields:
    """One JSON object being decoded; every accessor checks the type and names the field."""

    __slots__ = ("_value", "where")

    def __init__(self, value: object, where: str, keys: Iterable[str]) -> None:
        if not isinstance(value, dict):
            raise CorruptStore(f"{where}: expected an object, found {_kind(value)}")
        expected = set(keys)
        missing = sorted(expected - value.keys())
        unknown = sorted(value.keys() - expected)
        if missing:
            raise CorruptStore(f"{where}: missing {', '.join(missing)}")
        if unknown:
            raise CorruptStore(f"{where}: unknown {', '.join(map(str, unknown))}")
        self._value: JsonObject = value
        self.where = where

    def raw(self, name: str) -> object:
        return self._value[name]

    def integer(self, name: str) -> int:
        return _int(self._value[name], f"{self.where}.{name}")

    def opt_integer(self, name: str) -> int | None:
        value = self._value[name]
        return None if value is None else _int(value, f"{self.where}.{name}")

    def text(self, name: str) -> str:
        return _str(self._value[name], f"{self.where}.{name}")

    def opt_text(self, name: str) -> str | None:
        value = self._value[name]
        return None if value is None else _str(value, f"{self.where}.{name}")

    def boolean(self, name: str) -> bool:
        value = self._value[name]
        if not isinstance(value, bool):
            raise CorruptStore(f"{self.where}.{name}: expected a boolean, found {_kind(value)}")
        return value

    def enum(self, kind: type[E], name: str) -> E:
        return _enum(kind, self._value[name], f"{self.where}.{name}")

    def opt_enum(self, kind: type[E], name: str) -> E | None:
        value = self._value[name]
        return None if value is None else _enum(kind, value, f"{self.where}.{name}")

    def items(self, name: str) -> list[object]:
        return _list(self._value[name], f"{self.where}.{name}")

    def texts(self, name: str) -> list[str]:
        where = f"{self.where}.{name}"
        return [_str(item, f"{where}[{i}]") for i, item in enumerate(_list(self.raw(name), where))]


def read_int(value: object, where: str) -> int:
    """A stored integer column, checked like a decoded field (a column may hold any type)."""
    return _int(value, where)


def read_opt_int(value: object, where: str) -> int | None:
    return None if value is None else _int(value, where)


def read_str(value: object, where: str) -> str:
    return _str(value, where)


def read_opt_str(value: object, where: str) -> str | None:
    return None if value is None else _str(value, where)


def read_enum(kind: type[E], value: object, where: str) -> E:
    return _enum(kind, value, where)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _int(value: object, where: str) -> int:
    if type(value) is not int:  # bool is an int subclass; a float is never exact money
        raise CorruptStore(f"{where}: expected an integer, found {_kind(value)}")
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise CorruptStore(f"{where}: expected a string, found {_kind(value)}")
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise CorruptStore(f"{where}: expected a list, found {_kind(value)}")
    return value


def _enum(kind: type[E], value: object, where: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise CorruptStore(f"{where}: {value!r} is not a {kind.__name__}") from None


def _pair(value: object, where: str) -> tuple[object, object]:
    items = _list(value, where)
    if len(items) != 2:
        raise CorruptStore(f"{where}: expected a pair, found {len(items)} items")
    return items[0], items[1]


def _checked(where: str, build: Callable[[], T]) -> T:
    """Run a value object's constructor; its own refusal means the stored value is corrupt."""
    try:
        return build()
    except CorruptStore:
        raise
    except (DomainError, ValueError, TypeError) as exc:
        raise CorruptStore(f"{where}: {exc}") from None


def _sorted_values(items: Iterable[enum.Enum]) -> list[object]:
    return sorted(item.value for item in items)


# ---------------------------------------------------------------------- jobs

_JOB_KEYS = (
    "id",
    "tenant",
    "gang",
    "models",
    "priority_class",
    "priority",
    "walltime_s",
    "data_origin",
    "submitted_at",
    "seq",
    "preemptible",
    "checkpoint_interval_s",
    "approvals",
    "entrypoint",
    "programs",
    "client_key",
    "min_tflops_fp16",
)


def encode_job(job: Job) -> JsonObject:
    return {
        "id": job.id,
        "tenant": job.tenant,
        "gang": {"workers": job.gang.workers, "per_worker": job.gang.per_worker},
        "models": sorted(job.models),
        "priority_class": job.priority_class,
        "priority": job.priority,
        "walltime_s": job.walltime_s,
        "data_origin": job.data_origin.value,
        "submitted_at": job.submitted_at,
        "seq": job.seq,
        "preemptible": job.preemptible,
        "checkpoint_interval_s": job.checkpoint_interval_s,
        "approvals": list(job.approvals),
        "entrypoint": job.entrypoint,
        "programs": list(job.programs),
        "client_key": job.client_key,
        "min_tflops_fp16": job.min_tflops_fp16,
    }


# The fields that differ between jobs of one shape; the rest of a job's text is kept per shape.
_PER_JOB = ("client_key", "id", "seq", "submitted_at", "walltime_s")
_SPEC_SHAPES_MAX = 4096
_spec_shapes: dict[tuple[object, ...], tuple[str, ...]] = {}


def job_spec_text(job: Job) -> str:
    """`dumps(encode_job(job))`, character for character, at a fraction of its cost.

    Jobs arrive in bulk with few distinct shapes (tenant, models, priority, origin...), so the
    canonical text of a shape is made once by `dumps` itself, with sentinels where the per-job
    fields go, and cut there; a job's text is its shape's pieces joined with its own values. A
    bulk submission spends most of its storing time on JSON otherwise."""
    gang = job.gang
    shape = (
        job.tenant,
        job.models,
        job.priority_class,
        job.priority,
        job.data_origin,
        job.preemptible,
        job.checkpoint_interval_s,
        job.approvals,
        job.entrypoint,
        job.programs,
        job.min_tflops_fp16,
        gang.workers,
        gang.per_worker,
    )
    pieces = _spec_shapes.get(shape)
    if pieces is None:
        pieces = _spec_pieces(job)
        if pieces is None:  # a field of the shape holds a sentinel: no template for it
            return dumps(encode_job(job))
        if len(_spec_shapes) >= _SPEC_SHAPES_MAX:
            _spec_shapes.clear()
        _spec_shapes[shape] = pieces
    key = job.client_key
    return "".join(
        (
            pieces[0],
            "null" if key is None else _encode_string(key),
            pieces[1],
            _encode_string(job.id),
            pieces[2],
            str(job.seq),
            pieces[3],
            str(job.submitted_at),
            pieces[4],
            str(job.walltime_s),
            pieces[5],
        )
    )


def _spec_pieces(job: Job) -> tuple[str, ...] | None:
    """The canonical text of `job` cut where the `_PER_JOB` values go (in sorted key order), or
    None when a sentinel also occurs elsewhere in the text (a name holding one)."""
    encoded = encode_job(job)
    marks = [_encode_string(f"\x00{name}\x00") for name in _PER_JOB]
    encoded.update({name: f"\x00{name}\x00" for name in _PER_JOB})
    text = dumps(encoded)
    if any(text.count(mark) != 1 for mark in marks):
        return None
    pieces: list[str] = []
    for mark in marks:  # in sorted order, as `dumps` orders the keys
        before, _, text = text.partition(mark)
        pieces.append(before)
    pieces.append(text)
    return tuple(pieces)


def _encode_string(text: str) -> str:
    return json.encoder.encode_basestring_ascii(text)  # what `dumps` makes of a str


def decode_job(value: object, where: str = "job") -> Job:
    f = _Fields(value, where, _JOB_KEYS)
    gang = _Fields(f.raw("gang"), f"{where}.gang", ("workers", "per_worker"))
    return _checked(
        where,
        lambda: Job(
            id=f.text("id"),
            tenant=f.text("tenant"),
            gang=Gang(gang.integer("workers"), gang.integer("per_worker")),
            models=frozenset(f.texts("models")),
            priority_class=f.text("priority_class"),
            priority=f.integer("priority"),
            walltime_s=f.integer("walltime_s"),
            data_origin=f.enum(Jurisdiction, "data_origin"),
            submitted_at=f.integer("submitted_at"),
            seq=f.integer("seq"),
            preemptible=f.boolean("preemptible"),
            checkpoint_interval_s=f.integer("checkpoint_interval_s"),
            approvals=tuple(f.texts("approvals")),
            entrypoint=f.text("entrypoint"),
            programs=tuple(f.texts("programs")),
            client_key=f.opt_text("client_key"),
            min_tflops_fp16=f.opt_integer("min_tflops_fp16"),
        ),
    )


def encode_placement(placement: Placement) -> JsonObject:
    return {
        "model": placement.model,
        "zone": placement.zone.value,
        "workers": [[node, count] for node, count in placement.workers],
        "approval": placement.approval,
    }


def decode_placement(value: object, where: str = "placement") -> Placement:
    f = _Fields(value, where, ("model", "zone", "workers", "approval"))
    workers: list[tuple[str, int]] = []
    for i, item in enumerate(f.items("workers")):
        node, count = _pair(item, f"{where}.workers[{i}]")
        workers.append(
            (_str(node, f"{where}.workers[{i}][0]"), _int(count, f"{where}.workers[{i}][1]"))
        )
    return _checked(
        where,
        lambda: Placement(
            f.text("model"), f.enum(Jurisdiction, "zone"), tuple(workers), f.opt_text("approval")
        ),
    )


# ---------------------------------------------------------------------- pool


def encode_node(node: Node) -> JsonObject:
    return {
        "id": node.id,
        "owner": node.owner,
        "owner_class": node.owner_class.value,
        "city": node.city.value,
        "model": node.model,
        "accelerators": node.accelerators,
        "price": {"currency": node.price.currency.value, "minor": node.price.minor},
        "state": node.state.value,
        "labels": [[key, value] for key, value in node.labels],
    }


def decode_node(value: object, where: str = "node") -> Node:
    keys = ("id", "owner", "owner_class", "city", "model", "accelerators", "price", "state")
    f = _Fields(value, where, (*keys, "labels"))
    price = _Fields(f.raw("price"), f"{where}.price", ("currency", "minor"))
    labels: list[tuple[str, str]] = []
    for i, item in enumerate(f.items("labels")):
        key, label = _pair(item, f"{where}.labels[{i}]")
        labels.append(
            (_str(key, f"{where}.labels[{i}][0]"), _str(label, f"{where}.labels[{i}][1]"))
        )
    return _checked(
        where,
        lambda: Node(
            f.text("id"),
            f.text("owner"),
            f.enum(OwnerClass, "owner_class"),
            f.enum(City, "city"),
            f.text("model"),
            f.integer("accelerators"),
            Money(price.enum(Currency, "currency"), price.integer("minor")),
            f.enum(NodeState, "state"),
            tuple(labels),
        ),
    )


_QUOTA_KEYS = ("model", "nominal", "borrowing_limit", "lending_limit")
_TENANT_KEYS = ("id", "name", "weight", "owner", "priority_classes", "flags", "cohort", "quotas")


def encode_tenant(tenant: Tenant) -> JsonObject:
    quotas = None
    if tenant.quotas is not None:
        quotas = [
            {
                "model": q.model,
                "nominal": q.nominal,
                "borrowing_limit": q.borrowing_limit,
                "lending_limit": q.lending_limit,
            }
            for q in tenant.quotas
        ]
    return {
        "id": tenant.id,
        "name": tenant.name,
        "weight": tenant.weight,
        "owner": tenant.owner,
        "priority_classes": sorted(tenant.priority_classes),
        "flags": _sorted_values(tenant.flags),
        "cohort": tenant.cohort,
        "quotas": quotas,
    }


def decode_tenant(value: object, where: str = "tenant") -> Tenant:
    f = _Fields(value, where, _TENANT_KEYS)
    flags = f.items("flags")
    quotas: tuple[FlavorQuota, ...] | None = None
    if f.raw("quotas") is not None:
        quotas = tuple(
            _quota(item, f"{where}.quotas[{i}]") for i, item in enumerate(f.items("quotas"))
        )
    return _checked(
        where,
        lambda: Tenant(
            id=f.text("id"),
            name=f.text("name"),
            weight=f.integer("weight"),
            owner=f.opt_text("owner"),
            priority_classes=frozenset(f.texts("priority_classes")),
            flags=frozenset(
                _enum(TenantFlag, flag, f"{where}.flags[{i}]") for i, flag in enumerate(flags)
            ),
            cohort=f.opt_text("cohort"),
            quotas=quotas,
        ),
    )


def _quota(value: object, where: str) -> FlavorQuota:
    q = _Fields(value, where, _QUOTA_KEYS)
    return _checked(
        where,
        lambda: FlavorQuota(
            q.text("model"),
            q.integer("nominal"),
            q.opt_integer("borrowing_limit"),
            q.opt_integer("lending_limit"),
        ),
    )


def encode_approval(approval: Approval) -> JsonObject:
    return {
        "id": approval.id,
        "tenant": approval.tenant,
        "from_zone": approval.from_zone.value,
        "to_zone": approval.to_zone.value,
        "expires_at": approval.expires_at,
    }


def decode_approval(value: object, where: str = "approval") -> Approval:
    f = _Fields(value, where, ("id", "tenant", "from_zone", "to_zone", "expires_at"))
    return _checked(
        where,
        lambda: Approval(
            f.text("id"),
            f.text("tenant"),
            f.enum(Jurisdiction, "from_zone"),
            f.enum(Jurisdiction, "to_zone"),
            f.integer("expires_at"),
        ),
    )


# ---------------------------------------------------------------------- programs

_RATE_KEYS = ("domestic_bp", "other_bp", "startup_domestic_bp", "startup_other_bp")
_PROGRAM_KEYS = (
    "id",
    "name",
    "sponsor",
    "currency",
    "budget",
    "valid_from",
    "valid_until",
    "rates",
    "eligible_tenants",
    "eligible_flags",
    "eligible_owners",
    "eligible_nodes",
    "tenant_cap",
    "cap_period_s",
    "stacking_group",
)


def encode_program(program: Program) -> JsonObject:
    rates = program.rates
    return {
        "id": program.id,
        "name": program.name,
        "sponsor": program.sponsor,
        "currency": program.currency.value,
        "budget": program.budget,
        "valid_from": program.valid_from,
        "valid_until": program.valid_until,
        "rates": {
            "domestic_bp": rates.domestic_bp,
            "other_bp": rates.other_bp,
            "startup_domestic_bp": rates.startup_domestic_bp,
            "startup_other_bp": rates.startup_other_bp,
        },
        "eligible_tenants": sorted(program.eligible_tenants),
        "eligible_flags": _sorted_values(program.eligible_flags),
        "eligible_owners": sorted(program.eligible_owners),
        "eligible_nodes": sorted(program.eligible_nodes),
        "tenant_cap": program.tenant_cap,
        "cap_period_s": program.cap_period_s,
        "stacking_group": program.stacking_group,
    }


def decode_program(value: object, where: str = "program") -> Program:
    f = _Fields(value, where, _PROGRAM_KEYS)
    r = _Fields(f.raw("rates"), f"{where}.rates", _RATE_KEYS)
    flags = f.items("eligible_flags")
    rates = _checked(
        r.where,
        lambda: Rates(
            r.integer("domestic_bp"),
            r.integer("other_bp"),
            r.opt_integer("startup_domestic_bp"),
            r.opt_integer("startup_other_bp"),
        ),
    )
    return _checked(
        where,
        lambda: Program(
            id=f.text("id"),
            name=f.text("name"),
            sponsor=f.text("sponsor"),
            currency=f.enum(Currency, "currency"),
            budget=f.integer("budget"),
            valid_from=f.integer("valid_from"),
            valid_until=f.integer("valid_until"),
            rates=rates,
            eligible_tenants=frozenset(f.texts("eligible_tenants")),
            eligible_flags=frozenset(
                _enum(TenantFlag, flag, f"{where}.eligible_flags[{i}]")
                for i, flag in enumerate(flags)
            ),
            eligible_owners=frozenset(f.texts("eligible_owners")),
            eligible_nodes=frozenset(f.texts("eligible_nodes")),
            tenant_cap=f.opt_integer("tenant_cap"),
            cap_period_s=f.integer("cap_period_s"),
            stacking_group=f.opt_text("stacking_group"),
        ),
    )


# ---------------------------------------------------------------------- ledger

_USAGE_KEYS = (
    "tenant",
    "owner",
    "nodes",
    "model",
    "domestic",
    "accelerator_seconds",
    "price",
    "currency",
)


def encode_usage(usage: Usage) -> JsonObject:
    return {
        "tenant": usage.tenant,
        "owner": usage.owner,
        "nodes": list(usage.nodes),
        "model": usage.model,
        "domestic": usage.domestic,
        "accelerator_seconds": usage.accelerator_seconds,
        "price": usage.price,
        "currency": usage.currency.value,
    }


def decode_usage(value: object, where: str = "usage") -> Usage:
    f = _Fields(value, where, _USAGE_KEYS)
    return _checked(
        where,
        lambda: Usage(
            f.text("tenant"),
            f.text("owner"),
            tuple(f.texts("nodes")),
            f.text("model"),
            f.boolean("domestic"),
            f.integer("accelerator_seconds"),
            f.integer("price"),
            f.enum(Currency, "currency"),
        ),
    )


def encode_posting_key(key: PostingKey) -> JsonObject:
    return {"kind": key.kind.value, "subject": key.subject, "attempt": key.attempt, "ref": key.ref}


def decode_posting_key(value: object, where: str = "key") -> PostingKey:
    f = _Fields(value, where, ("kind", "subject", "attempt", "ref"))
    return PostingKey(
        f.enum(PostingKind, "kind"), f.text("subject"), f.integer("attempt"), f.text("ref")
    )


def encode_posting(posting: Posting) -> JsonObject:
    return {
        "seq": posting.seq,
        "key": encode_posting_key(posting.key),
        "at": posting.at,
        "entries": [
            [account.kind.value, account.holder, account.currency.value, amount]
            for account, amount in posting.entries
        ],
        "currency": None if posting.currency is None else posting.currency.value,
        "tenant": posting.tenant,
        "usage": None if posting.usage is None else encode_usage(posting.usage),
    }


def decode_posting(value: object, where: str = "posting") -> Posting:
    f = _Fields(value, where, ("seq", "key", "at", "entries", "currency", "tenant", "usage"))
    entries: list[Entry] = []
    for i, item in enumerate(f.items("entries")):
        at = f"{where}.entries[{i}]"
        parts = _list(item, at)
        if len(parts) != 4:
            raise CorruptStore(f"{at}: expected [kind, holder, currency, amount]")
        account = Account(
            _enum(AccountKind, parts[0], f"{at}[0]"),
            _str(parts[1], f"{at}[1]"),
            _enum(Currency, parts[2], f"{at}[2]"),
        )
        entries.append((account, _int(parts[3], f"{at}[3]")))
    usage = f.raw("usage")
    return Posting(
        f.integer("seq"),
        decode_posting_key(f.raw("key"), f"{where}.key"),
        f.integer("at"),
        tuple(entries),
        f.opt_enum(Currency, "currency"),
        f.opt_text("tenant"),
        None if usage is None else decode_usage(usage, f"{where}.usage"),
    )
