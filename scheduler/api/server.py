"""The gRPC server around a coordinator: the Scheduler and Admin services, health checking,
reflection; in plain text (loopback only, see `scheduler.cli.serve`) or with TLS."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from scheduler.api.admin import AdminServicer
from scheduler.api.auth import TokenBook
from scheduler.api.metrics import GrpcMetrics
from scheduler.api.ratelimit import RateLimit
from scheduler.api.servicers import SchedulerServicer
from scheduler.api.v1 import admin_pb2, admin_pb2_grpc, scheduler_pb2, scheduler_pb2_grpc
from scheduler.service.coordinator import Coordinator

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
SCHEDULER_DESCRIPTOR = scheduler_pb2.DESCRIPTOR.services_by_name["Scheduler"]
ADMIN_DESCRIPTOR = admin_pb2.DESCRIPTOR.services_by_name["Admin"]
SCHEDULER_SERVICE = SCHEDULER_DESCRIPTOR.full_name
ADMIN_SERVICE = ADMIN_DESCRIPTOR.full_name


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The server's certificate chain and its private key, both PEM."""

    cert_chain_pem: bytes
    private_key_pem: bytes

    def __repr__(self) -> str:  # never show the key
        return f"TlsFiles(cert_chain_pem=<{len(self.cert_chain_pem)} bytes>, private_key_pem=...)"


class Server:
    """`await Server.start(coordinator, "127.0.0.1:0", tokens)`; `port` is the one bound. Every
    Scheduler and Admin call must present a token of `tokens` (an operator's for Admin); health
    checking and reflection are open. With `tls` the port speaks TLS only (no client
    certificates: callers authenticate with their bearer tokens), else plain text. With
    `rate_limit` every tenant's Scheduler calls are limited by it (operators' are not, nor is
    the Admin service, which is theirs); None: unlimited. With `metrics` every Scheduler and
    Admin call is counted and timed (`GrpcMetrics`). `blocking` is the thread pool the calls'
    blocking work runs on (`workers` threads)."""

    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        blocking: ThreadPoolExecutor,
        scheduler: SchedulerServicer,
    ) -> None:
        self.server = server
        self.port = port
        self.blocking = blocking
        self._scheduler = scheduler

    @classmethod
    async def start(
        cls,
        coordinator: Coordinator,
        address: str,
        tokens: TokenBook,
        workers: int = 64,
        tls: TlsFiles | None = None,
        rate_limit: RateLimit | None = None,
        metrics: GrpcMetrics | None = None,
    ) -> Server:
        # Submissions block until their group commit is durable: a pool wide enough that many
        # wait together is what lets group commit batch them.
        blocking = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc")
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # gRPC sets SO_REUSEPORT by default: a second server on a port in use would
                # bind it too and take a share of its connections (another coordinator's,
                # on another store). Without it, binding a port in use fails.
                ("grpc.so_reuseport", 0),
            ],
        )
        servicer = scheduler = SchedulerServicer(coordinator, blocking, tokens, rate_limit)
        admin = AdminServicer(coordinator, blocking, tokens)
        if metrics is not None:
            scheduler = metrics.instrument(scheduler, SCHEDULER_DESCRIPTOR)
            admin = metrics.instrument(admin, ADMIN_DESCRIPTOR)
        scheduler_pb2_grpc.add_SchedulerServicer_to_server(scheduler, server)
        admin_pb2_grpc.add_AdminServicer_to_server(admin, server)
        checker = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(checker, server)
        services = (
            SCHEDULER_SERVICE,
            ADMIN_SERVICE,
            health.SERVICE_NAME,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(services, server)
        try:
            if tls is None:
                port = server.add_insecure_port(address)
            else:
                pair = [(tls.private_key_pem, tls.cert_chain_pem)]
                port = server.add_secure_port(address, grpc.ssl_server_credentials(pair))
        except RuntimeError:  # the address is taken, or (TLS) the key does not fit the chain
            blocking.shutdown(wait=False)
            raise
        await server.start()
        for name in ("", SCHEDULER_SERVICE, ADMIN_SERVICE):
            await checker.set(name, health_pb2.HealthCheckResponse.SERVING)
        return cls(server, port, blocking, servicer)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Refuse new calls, end the watches (they never end by themselves: each would hold the
        stop for the whole grace period; their callers resume where they were), give the other
        calls `grace_s` to finish."""
        self._scheduler.closing = True
        await self.server.stop(grace_s)
        self.blocking.shutdown(wait=True)
