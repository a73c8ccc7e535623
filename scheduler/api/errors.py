"""The domain's error tree (and the API's own refusals: a rate limit, a passed deadline) mapped
to gRPC status codes, in one table.

A servicer never builds a status itself: it lets the error rise and `status_of` answers. The
details name the field (`jobs[2].spec.models[0]: unknown accelerator ...`), so a client can
point at what to fix. Anything not in the tree is a bug here: INTERNAL, logged with its trace.
"""

from __future__ import annotations

import grpc

from scheduler.api.ratelimit import RateLimited
from scheduler.domain.errors import DomainError, InvalidField, UnknownReference
from scheduler.domain.principals import PermissionDenied, Unauthenticated
from scheduler.domain.requests import PriorityNotAllowed
from scheduler.service.errors import CoordinatorStopped, JobAlreadyEnded
from scheduler.store.errors import StoreError, UnknownJob, UnknownNode


class DeadlinePassed(Exception):
    """The call's deadline passed before its work began: the work was not done."""


# First match wins: subclasses before their bases.
STATUS: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (PriorityNotAllowed, grpc.StatusCode.PERMISSION_DENIED),
    (UnknownJob, grpc.StatusCode.NOT_FOUND),
    (UnknownNode, grpc.StatusCode.NOT_FOUND),
    (UnknownReference, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidField, grpc.StatusCode.INVALID_ARGUMENT),
    (JobAlreadyEnded, grpc.StatusCode.FAILED_PRECONDITION),
    # The coordinator must be restarted: the client retries against the next one.
    (CoordinatorStopped, grpc.StatusCode.UNAVAILABLE),
    (StoreError, grpc.StatusCode.UNAVAILABLE),
    (DomainError, grpc.StatusCode.FAILED_PRECONDITION),
    # The call's own limits, not the domain's: nothing was done.
    (RateLimited, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (DeadlinePassed, grpc.StatusCode.DEADLINE_EXCEEDED),
)


MAX_DETAILS_BYTES = 1024
"""Status details travel in a header the client caps (8 KiB by default) after percent-encoding
(up to 3 bytes per byte): a message that repeats a long rejected value would drown the status
itself, so details are cut to this many bytes of UTF-8."""


def details_of(error: BaseException) -> str:
    """The error's message, cut (on a character boundary) to `MAX_DETAILS_BYTES`."""
    text = str(error)
    encoded = text.encode()
    if len(encoded) <= MAX_DETAILS_BYTES:
        return text
    return encoded[: MAX_DETAILS_BYTES - 3].decode(errors="ignore") + "…"


def status_of(error: BaseException) -> grpc.StatusCode:
    for kind, code in STATUS:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL
