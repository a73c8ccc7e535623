"""Thin servicers: convert, call the coordinator, convert back. Nothing else happens here.

The coordinator's calls block (a submission waits for its group commit to be durable), so they
run on a thread pool, never on the event loop. Errors rise from the domain and are answered by
`errors.status_of`.

Every call is authenticated first (a bearer token, see `auth.TokenBook`), then checked against
what its principal may do (`Principal`: a tenant submits, reads and cancels only its own jobs, an
operator every tenant's), then made. Another tenant's job is answered exactly as an unknown one
(NOT_FOUND), so a tenant cannot learn that it exists.

A tenant's call then takes a token of its tenant's rate limit (`ratelimit.RateLimit`; SubmitJobs
one per started 100 jobs; operators are not limited) or is refused RESOURCE_EXHAUSTED with the
trailing metadata `retry-after-ms`, having done nothing. A call whose deadline has passed when its
work would begin is answered DEADLINE_EXCEEDED without doing it; a watch ends at its deadline.

The operators' `Admin` service is in `scheduler.api.admin`. Without TLS the server listens on
loopback only (see `scheduler.cli.serve`). Status details are cut to `errors.MAX_DETAILS_BYTES`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import grpc

from scheduler.api import convert
from scheduler.api.auth import TokenBook
from scheduler.api.errors import DeadlinePassed, details_of, status_of
from scheduler.api.handoff import Handoff
from scheduler.api.ratelimit import RETRY_AFTER_MS, RateLimit, RateLimited, submit_cost
from scheduler.api.v1 import scheduler_pb2, scheduler_pb2_grpc
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import JobState
from scheduler.domain.principals import PermissionDenied, Principal
from scheduler.domain.requests import JobRequest
from scheduler.service.coordinator import Coordinator
from scheduler.service.errors import unknown_job_message
from scheduler.service.job_money import MoneySoFar
from scheduler.store.errors import UnknownJob
from scheduler.store.records import Event, JobRecord, SubmitOutcome

log = logging.getLogger(__name__)

T = TypeVar("T")
WATCH_PAGE = 500
WATCH_POLL_S = 0.05
WATCH_DEADLINE_MARGIN_S = 0.05
"""A watch ends this long before its deadline (see `WatchEvents`)."""
Context = grpc.aio.ServicerContext[Any, Any]
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_SUBMIT_JOBS = 1000
"""The most jobs one SubmitJobs call may carry (at the default `CoordinatorSettings.max_batch`
one call fits in one group commit); more is INVALID_ARGUMENT naming `jobs`."""


class Calls:
    """What every servicer does around a call: authenticate it (and, with a `rate_limit`, charge
    a tenant's call to its tenant), run its blocking work on the thread pool unless its deadline
    has passed, answer an error with its status."""

    def __init__(
        self,
        coordinator: Coordinator,
        blocking: ThreadPoolExecutor,
        tokens: TokenBook,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self._coordinator = coordinator
        self._blocking = blocking
        self._tokens = tokens
        self._rate_limit = rate_limit
        self._handoff: Handoff | None = None  # made on the event loop, at the first submission

    async def _principal(self, context: Context, cost: int = 1) -> Principal:
        """The caller, or the call ends UNAUTHENTICATED; a tenant's call then takes `cost`
        tokens of its tenant's rate limit, or ends RESOURCE_EXHAUSTED."""
        try:
            principal = self._tokens.authenticate(context.invocation_metadata())
            if self._rate_limit is not None and principal.tenant is not None:
                self._rate_limit.take(principal.tenant, cost)
            return principal
        except Exception as exc:
            await self._abort(context, exc)
            raise

    async def _call(self, context: Context, work: Callable[[], T]) -> T:
        """`work()` on the thread pool; not begun once the call's deadline has passed (the
        pool may be busy, and grpc cancels a waiting call only when the event loop is free)."""
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining

        def guarded() -> T:
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlinePassed("the call's deadline passed before its work began")
            return work()

        try:
            return await asyncio.get_running_loop().run_in_executor(self._blocking, guarded)
        except Exception as exc:
            await self._abort(context, exc)
            raise  # abort raises; this line is for the type checker

    async def _durably(
        self, context: Context, submit: Callable[[], Future[list[SubmitOutcome]]]
    ) -> list[SubmitOutcome]:
        """Validate and queue a submission on the event loop (`submit`: pure Python, no I/O),
        then wait, without holding a thread, until its group commit is durable. Not begun once
        the call's deadline has passed."""
        try:
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise DeadlinePassed("the call's deadline passed before its work began")
            if self._handoff is None:
                self._handoff = Handoff(asyncio.get_running_loop())
            return await self._handoff.wait(submit())
        except Exception as exc:
            await self._abort(context, exc)
            raise  # abort raises; this line is for the type checker

    async def _abort(self, context: Context, exc: Exception) -> None:
        code = status_of(exc)
        if code is grpc.StatusCode.INTERNAL:
            log.error("internal error", exc_info=exc)
        trailing = (
            ((RETRY_AFTER_MS, str(exc.retry_after_ms)),) if isinstance(exc, RateLimited) else ()
        )
        await context.abort(code, details_of(exc), trailing)


class SchedulerServicer(Calls, scheduler_pb2_grpc.SchedulerServicer):
    closing = False
    """Set by `Server.stop`: watches end (UNAVAILABLE, saying where to resume)."""

    async def SubmitJob(
        self, request: scheduler_pb2.SubmitJobRequest, context: Context
    ) -> scheduler_pb2.SubmitJobResponse:
        principal = await self._principal(context)

        def submit() -> Future[list[SubmitOutcome]]:
            tenant = principal.tenant_to_submit_as(request.tenant, "tenant")
            job_request = convert.job_request(request, "", tenant)
            try:
                return self._coordinator.submit_later([job_request])
            except InvalidField as exc:
                raise type(exc)(wire_path(exc.field, ""), exc.message) from None

        [outcome] = await self._durably(context, submit)
        return scheduler_pb2.SubmitJobResponse(job_id=outcome.job_id, created=outcome.created)

    async def SubmitJobs(
        self, request: scheduler_pb2.SubmitJobsRequest, context: Context
    ) -> scheduler_pb2.SubmitJobsResponse:
        principal = await self._principal(context, submit_cost(len(request.jobs)))

        def submit() -> Future[list[SubmitOutcome]]:
            if len(request.jobs) > MAX_SUBMIT_JOBS:
                raise InvalidField(
                    "jobs",
                    f"at most {MAX_SUBMIT_JOBS} jobs per call, got {len(request.jobs)}: "
                    "split the requests into several calls",
                )
            # Field paths are made only for an error: two f-strings a job were ~1 % of a bulk
            # call's time.
            requests: list[JobRequest] = []
            try:
                for one in request.jobs:
                    tenant = principal.tenant_to_submit_as(one.tenant, "tenant")
                    requests.append(convert.job_request(one, "", tenant))
            except (InvalidField, PermissionDenied) as exc:  # about the job after those taken
                raise type(exc)(f"jobs[{len(requests)}].{exc.field}", exc.message) from None
            try:
                return self._coordinator.submit_later(requests)
            except InvalidField as exc:
                index = exc.field.removeprefix("requests[").partition("]")[0]
                raise type(exc)(wire_path(exc.field, f"jobs[{index}]."), exc.message) from None

        outcomes = await self._durably(context, submit)
        # Filled in place: a result message made apart and copied in costs 3 × as much a job.
        response = scheduler_pb2.SubmitJobsResponse()
        add = response.results.add
        for outcome in outcomes:
            result = add()
            result.job_id = outcome.job_id
            result.created = outcome.created
        return response

    async def GetJob(
        self, request: scheduler_pb2.GetJobRequest, context: Context
    ) -> scheduler_pb2.Job:
        principal = await self._principal(context)
        return await self._call(context, lambda: self._job(self._own(principal, request.job_id)))

    async def ListJobs(
        self, request: scheduler_pb2.ListJobsRequest, context: Context
    ) -> scheduler_pb2.ListJobsResponse:
        principal = await self._principal(context)

        def work() -> scheduler_pb2.ListJobsResponse:
            tenant = principal.tenant_to_read(request.tenant, "tenant")
            size = request.page_size or DEFAULT_PAGE
            if not 0 < size <= MAX_PAGE:
                raise InvalidField("page_size", f"must be between 1 and {MAX_PAGE}")
            states: list[JobState] | None = (
                convert.job_states(request.states, "states") if request.states else None
            )
            try:
                if request.page_token:  # another tenant's job id is no token for this caller
                    self._own(principal, request.page_token)
                records = self._coordinator.jobs(
                    tenant=tenant,
                    states=states,
                    after_id=request.page_token or None,
                    limit=size + 1,
                    newest_first=request.newest_first,
                )
            except UnknownJob:
                raise InvalidField("page_token", "not a token this server gave out") from None
            page = records[:size]
            more = len(records) > size
            return scheduler_pb2.ListJobsResponse(
                jobs=[self._job(r) for r in page],
                next_page_token=page[-1].id if more else "",
            )

        return await self._call(context, work)

    async def CancelJob(
        self, request: scheduler_pb2.CancelJobRequest, context: Context
    ) -> scheduler_pb2.CancelJobResponse:
        principal = await self._principal(context)

        def work() -> scheduler_pb2.CancelJobResponse:
            self._own(principal, request.job_id)
            record = self._coordinator.cancel(request.job_id, actor=principal.name)
            return scheduler_pb2.CancelJobResponse(job=self._job(record))

        return await self._call(context, work)

    async def WatchEvents(
        self, request: scheduler_pb2.WatchEventsRequest, context: Context
    ) -> AsyncIterator[scheduler_pb2.JobEvent]:
        """The log from `after_seq` on, then new events as they are committed, until the
        caller hangs up or its deadline passes. It reads the store in pages and, once caught up,
        looks at the coordinator's newest event number every `WATCH_POLL_S` (no thread is held
        while it waits). A tenant sees only its own jobs' events; events about no job are an
        operator's."""
        principal = await self._principal(context)
        try:
            tenant = principal.tenant_to_read(request.tenant, "tenant")
        except Exception as exc:
            await context.abort(status_of(exc), details_of(exc))
            raise
        if request.after_seq < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "after_seq: must not be negative")
        after = request.after_seq
        job_id = request.job_id or None
        keys: dict[str, str | None] = {}  # job id -> client key, for the job-set filter

        def page(after_seq: int) -> list[tuple[Event, bool]]:
            events = self._coordinator.events(after_seq, job_id=job_id, limit=WATCH_PAGE)
            return [(event, self._wanted(event, tenant, request, keys)) for event in events]

        while True:
            events = await self._call(context, functools.partial(page, after))
            for event, wanted in events:
                after = event.seq
                if wanted:
                    yield convert.event_message(event)
            if len(events) == WATCH_PAGE:
                continue
            while self._coordinator.last_event_seq <= after:
                if self._coordinator.stopped is not None:
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE, "the coordinator stopped; resume elsewhere"
                    )
                if self.closing:
                    await context.abort(
                        grpc.StatusCode.UNAVAILABLE,
                        f"the server is shutting down; resume after seq {after}",
                    )
                # Ended a moment before the deadline: once it has passed, gRPC may have closed
                # the call before this handler sends the status, and the send then fails with
                # an ExecuteBatchError that grpc.aio logs as an error with a traceback.
                remaining = context.time_remaining()
                if remaining is not None and remaining <= WATCH_DEADLINE_MARGIN_S:
                    await context.abort(
                        grpc.StatusCode.DEADLINE_EXCEEDED, "the watch's deadline passed"
                    )
                await asyncio.sleep(
                    WATCH_POLL_S
                    if remaining is None
                    else min(remaining - WATCH_DEADLINE_MARGIN_S, WATCH_POLL_S)
                )

    def _wanted(
        self,
        event: Event,
        tenant: str | None,
        request: scheduler_pb2.WatchEventsRequest,
        keys: dict[str, str | None],
    ) -> bool:
        if tenant is not None and event.tenant != tenant:
            return False
        prefix = request.client_key_prefix
        if not prefix:
            return True
        if event.job_id is None:
            return False
        if event.job_id not in keys:
            keys[event.job_id] = self._coordinator.job(event.job_id).client_key
        key = keys[event.job_id]
        return key is not None and key.startswith(prefix)

    def _own(self, principal: Principal, job_id: str) -> JobRecord:
        """The job, if the caller may see it; another tenant's job is `UnknownJob` with the
        message an unknown id gets, so that a tenant cannot tell the two apart."""
        if not job_id:
            raise InvalidField("job_id", "required")
        record = self._coordinator.job(job_id)
        if not principal.sees(record.job.tenant):
            raise UnknownJob(unknown_job_message(job_id))
        return record

    def _job(self, record: JobRecord) -> scheduler_pb2.Job:
        """The job's message with its pending reason, its money so far and its progress. The
        money is read a moment after `record` (`Coordinator.job_money`): the ledger decides what
        is settled, so a record a tick moved on meanwhile never counts an attempt twice. The
        progress is read from the store together with the record it belongs to
        (`Coordinator.progress`)."""
        reason = None
        if record.state is JobState.QUEUED:
            pending = self._coordinator.pending_reason(record.id)
            if pending is not None:
                reason = (str(pending.code), pending.message)
        money: tuple[MoneySoFar, ...] = self._coordinator.job_money(record.id)
        progress = self._coordinator.progress(record.id)
        return convert.job_message(record, reason, money, progress)


# Where the domain names a request's value by the object that checks it, the wire names it by
# the message field that carried it.
_WIRE_FIELDS = {
    "gang.workers": "spec.workers",
    "gang.per_worker": "spec.per_worker",
    "job.walltime_s": "spec.walltime_s",
    "job.checkpoint_interval_s": "spec.checkpoint_interval_s",
    "job.entrypoint": "spec.entrypoint",
    "job.models": "spec.models",
    "tenant": "tenant",
    "client_key": "client_key",
}


def wire_path(field: str, prefix: str) -> str:
    """`requests[3].gang.workers` (the coordinator's path) -> `<prefix>spec.workers`."""
    rest = field.partition("].")[2] if field.startswith("requests[") else field
    for domain, wire in _WIRE_FIELDS.items():
        if rest == domain or rest.startswith((domain + ".", domain + "[")):
            return prefix + wire + rest[len(domain) :]
    return f"{prefix}spec.{rest}"
