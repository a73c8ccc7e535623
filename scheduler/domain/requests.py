"""What a tenant asks for, checked against the pool and turned into a `Job`.

Every error names the field it is about and nothing is created, so the coordinator can answer
a bad submission with INVALID_ARGUMENT (or NOT_FOUND / PERMISSION_DENIED) and change nothing.
A gang larger than the whole pool could ever hold is such an error too (`oversize`). Whether a
job can fit in finer terms (the zones its data may go to, one supplier at one price, quota
ceilings) is the engine's intake to judge; it answers with a structured reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.errors import InvalidField, UnknownReference
from scheduler.domain.frozen import quick_init
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Gang, Job
from scheduler.domain.pool import Pool


class PriorityNotAllowed(InvalidField):
    """The tenant may not use the priority class it asked for."""


@quick_init
@dataclass(frozen=True, slots=True)
class JobRequest:
    """A submission. Accelerators are named by model (`models`), or by a minimum dense fp16
    throughput per device (`min_tflops_fp16`), or both (then a model must satisfy both)."""

    tenant: str
    workers: int
    per_worker: int
    walltime_s: int
    data_origin: Jurisdiction
    models: tuple[str, ...] = ()
    min_tflops_fp16: int | None = None
    priority_class: str = ""
    preemptible: bool = True
    checkpoint_interval_s: int = 0
    approvals: tuple[str, ...] = ()
    entrypoint: str = ""
    programs: tuple[str, ...] = ()
    client_key: str | None = None


def accepted_models(
    pool: Pool, models: tuple[str, ...], min_tflops_fp16: int | None
) -> frozenset[str]:
    """The models a request accepts, or an error naming `models[i]` or `min_tflops_fp16`."""
    if not models and min_tflops_fp16 is None:
        raise InvalidField("models", "name at least one accelerator model or set min_tflops_fp16")
    for i, model in enumerate(models):
        pool.catalogue.require(model, f"models[{i}]")
    if min_tflops_fp16 is None:
        return frozenset(models)
    if min_tflops_fp16 <= 0:
        raise InvalidField("min_tflops_fp16", "must be a positive integer")
    fast_enough = pool.catalogue.at_least(min_tflops_fp16)
    chosen = fast_enough & frozenset(models) if models else fast_enough
    if not chosen:
        best = max(m.tflops_fp16 for m in pool.catalogue.values())
        raise InvalidField(
            "min_tflops_fp16",
            f"no {'named ' if models else ''}accelerator model reaches {min_tflops_fp16} TFLOPS"
            f" fp16 (the fastest in the catalogue has {best})",
        )
    return chosen


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a request's shape (`shape_of`) resolves to against one pool: the same for every
    request of that shape, so a bulk submission resolves each shape once."""

    tenant: str
    priority_class: str
    priority: int
    models: frozenset[str]


def resolve(request: JobRequest, pool: Pool) -> Resolved:
    """Check the request's tenant, priority class, approvals and accelerators against the pool;
    raise naming the bad field."""
    tenant = pool.tenants.get(request.tenant)
    if tenant is None:
        raise UnknownReference("tenant", f"unknown tenant {request.tenant!r}")
    priority_class = request.priority_class or pool.default_priority_class
    if not priority_class:
        raise InvalidField("priority_class", "required: the pool has no default priority class")
    klass = pool.priority_classes.get(priority_class)
    if klass is None:
        known = ", ".join(sorted(pool.priority_classes))
        raise UnknownReference(
            "priority_class", f"unknown class {priority_class!r}; known: {known}"
        )
    if not tenant.may_use_priority(priority_class):
        allowed = ", ".join(sorted(tenant.priority_classes))
        raise PriorityNotAllowed(
            "priority_class",
            f"tenant {tenant.id} may not use {priority_class!r} (allowed: {allowed})",
        )
    for i, approval_id in enumerate(request.approvals):
        approval = pool.approvals.get(approval_id)
        if approval is None or approval.tenant != tenant.id:
            raise UnknownReference(
                f"approvals[{i}]", f"tenant {tenant.id} holds no approval {approval_id!r}"
            )
    models = accepted_models(pool, request.models, request.min_tflops_fp16)
    return Resolved(tenant.id, priority_class, klass.value, models)


def resolved_job(
    request: JobRequest,
    resolved: Resolved,
    job_id: str,
    seq: int,
    now: int,
    gangs: dict[tuple[int, int], Gang] | None = None,
) -> Job:
    """The job of a request whose shape resolved to `resolved`; the job's own checks (gang,
    walltime, checkpoint interval) raise naming the field. `gangs`, when given, holds the gangs
    already made (a `Gang` is immutable, so jobs of one size share one): the caller keeps it
    bounded."""
    size = (request.workers, request.per_worker)
    gang = gangs.get(size) if gangs is not None else None
    if gang is None:
        gang = Gang(*size)
        if gangs is not None:
            gangs[size] = gang
    # Positional, in field order (each commented with its field): on the bulk path keyword
    # arguments cost ~0.5 µs a job.
    return Job(
        job_id,  # id
        resolved.tenant,  # tenant
        gang,  # gang
        resolved.models,  # models
        resolved.priority_class,  # priority_class
        resolved.priority,  # priority
        request.walltime_s,  # walltime_s
        request.data_origin,  # data_origin
        now,  # submitted_at
        seq,  # seq
        request.preemptible,  # preemptible
        request.checkpoint_interval_s,  # checkpoint_interval_s
        request.approvals,  # approvals
        request.entrypoint,  # entrypoint
        request.programs,  # programs
        request.client_key,  # client_key
        request.min_tflops_fp16,  # min_tflops_fp16
    )


def to_job(request: JobRequest, pool: Pool, job_id: str, seq: int, now: int) -> Job:
    """Check `request` against the pool and build the job; raise naming the bad field."""
    return resolved_job(request, resolve(request, pool), job_id, seq, now)


def oversize(
    pool: Pool, models: frozenset[str], workers: int, per_worker: int
) -> InvalidField | None:
    """Why a gang of `workers` × `per_worker` accelerators of `models` cannot fit the pool as it
    is configured, whatever runs and whatever zone: no node of those models, a worker larger
    than every such node, or more workers than all of them hold at once (naming `models`,
    `per_worker` or `workers`); None when it could."""
    sizes = [node.accelerators for node in pool.nodes.values() if node.model in models]
    named = ", ".join(sorted(models))
    if not sizes:
        return InvalidField("models", f"the pool has no node of {named}")
    largest = max(sizes)
    if per_worker > largest:
        return InvalidField(
            "per_worker",
            f"{per_worker} accelerators a worker, but the largest node of {named} has {largest}",
        )
    room = sum(size // per_worker for size in sizes)
    if workers > room:
        nodes = f"node of {named} holds" if len(sizes) == 1 else f"nodes of {named} hold"
        return InvalidField(
            "workers",
            f"{workers} workers of {per_worker} accelerators, but the pool's {len(sizes)} "
            f"{nodes} at most {room} such worker{'' if room == 1 else 's'} at once",
        )
    return None
