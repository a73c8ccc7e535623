"""A real gRPC server on loopback around a coordinator, run on its own event-loop thread, so a
test talks to it with ordinary blocking stubs while it drives the coordinator's clock.

`Served.scheduler` calls as an operator; `Served.as_(token)` gives a stub that presents any
token (None: none), e.g. `served.as_(tenant_token("t1"))`. `Served.admin` and
`Served.admin_as(token)` are the same for the Admin service. `Served(..., tls=TlsFiles(...))`
serves TLS only, and its stubs trust the (self-signed) certificate of `tls`; `rate_limit` and
`workers` go to `Server.start`."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import grpc

from scheduler.api.auth import AUTHORIZATION, TokenBook
from scheduler.api.metrics import GrpcMetrics
from scheduler.api.ratelimit import RateLimit
from scheduler.api.server import Server, TlsFiles
from scheduler.api.v1 import admin_pb2_grpc, scheduler_pb2_grpc
from scheduler.domain.pool import Pool
from scheduler.domain.principals import Principal
from scheduler.service.coordinator import Coordinator
from scheduler.store.sqlite import SqliteStore
from tests.builders import ASCEND, a_pool, a_tenant
from tests.service_builders import World, a_world

START_TIMEOUT_S = 30
READY_TIMEOUT_S = 30  # a `gbasched serve` child process imports, opens and recovers first
OPERATOR_TOKEN = "operator-token"
# The demo tokens of deploy/auth/demo-tokens.toml, for tests of `gbasched serve` on the sample.
DEMO_OPERATOR = "demo-operator"


def demo_token(tenant: str) -> str:
    return f"demo-{tenant}"


def tenant_token(tenant: str) -> str:
    return f"token-of-{tenant}"


def a_token_book(*tenants: str) -> TokenBook:
    """An operator (`OPERATOR_TOKEN`) and one principal per tenant (`tenant_token(t)`)."""
    tokens = {OPERATOR_TOKEN: Principal("ops", None, operator=True)}
    tokens.update({tenant_token(t): Principal(f"{t}-ci", t, operator=False) for t in tenants})
    return TokenBook.of(tokens)


def with_bearer(metadata: Iterable[tuple[str, str]] | None, token: str) -> list[tuple[str, str]]:
    return [*(metadata or ()), (AUTHORIZATION, f"Bearer {token}")]


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call of a channel."""

    def __init__(self, token: str) -> None:
        self.token = token

    def _details(self, details: Any) -> _Details:
        return _Details(
            details.method,
            details.timeout,
            with_bearer(details.metadata, self.token),
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, proceed: Callable[..., Any], details: Any, request: Any) -> Any:
        return proceed(self._details(details), request)

    def intercept_unary_stream(
        self, proceed: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return proceed(self._details(details), request)


def free_port() -> int:
    """A loopback port free right now (for a child process that needs a fixed one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(
        self,
        coordinator: Coordinator,
        tokens: TokenBook,
        *,
        tls: TlsFiles | None = None,
        rate_limit: RateLimit | None = None,
        workers: int = 64,
        metrics: GrpcMetrics | None = None,
        address: str = "127.0.0.1:0",
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="grpc-loop", daemon=True)
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(
            Server.start(
                coordinator,
                address,
                tokens,
                workers=workers,
                tls=tls,
                rate_limit=rate_limit,
                metrics=metrics,
            ),
            self.loop,
        )
        self.server = started.result(START_TIMEOUT_S)
        self.address = f"127.0.0.1:{self.server.port}"
        self.tls = tls
        if tls is None:
            self.channel = grpc.insecure_channel(self.address)
        else:
            trusted = grpc.ssl_channel_credentials(root_certificates=tls.cert_chain_pem)
            self.channel = grpc.secure_channel(self.address, trusted)
        self.scheduler = self.as_(OPERATOR_TOKEN)
        self.admin = self.admin_as(OPERATOR_TOKEN)

    def as_(self, token: str | None) -> scheduler_pb2_grpc.SchedulerStub:
        """A stub whose calls present `token` (None: no credentials at all)."""
        if token is None:
            return scheduler_pb2_grpc.SchedulerStub(self.channel)
        channel = grpc.intercept_channel(self.channel, _Bearer(token))
        return scheduler_pb2_grpc.SchedulerStub(channel)

    def admin_as(self, token: str | None) -> admin_pb2_grpc.AdminStub:
        """An Admin stub whose calls present `token` (None: no credentials at all)."""
        if token is None:
            return admin_pb2_grpc.AdminStub(self.channel)
        return admin_pb2_grpc.AdminStub(grpc.intercept_channel(self.channel, _Bearer(token)))

    def close(self) -> None:
        self.channel.close()
        stopped = asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop)
        stopped.result(START_TIMEOUT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT_S)
        self.loop.close()


def two_tenants() -> Pool:
    """One Shenzhen node of 8 Ascend; tenant t1 may use every priority class, t2 only `low`."""
    return (
        a_pool()
        .nodes(1, ASCEND, owner="sz-gov")
        .tenant(a_tenant("t1"))
        .tenant(a_tenant("t2").priorities("low"))
        .build()
    )


def world_on_sqlite(path: Path, pool: Pool | None = None, **options: Any) -> Iterator[World]:
    """A world (`a_world`) on a SQLite file, closed afterwards: a fixture `yield from`s it."""
    world = a_world(pool or two_tenants(), store=SqliteStore(path), **options)
    yield world
    world.coordinator.close()
    world.store.close()


def serving(world: World, tokens: TokenBook, **options: Any) -> Iterator[Served]:
    """`Served` around the world's coordinator, closed afterwards (`yield from` it)."""
    served = Served(world.coordinator, tokens, **options)
    yield served
    served.close()
