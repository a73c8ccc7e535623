"""A real gRPC server on loopback around a coordinator, run on its own event-loop thread, so a
test talks to it with ordinary blocking stubs while it drives the coordinator's clock."""

from __future__ import annotations

import asyncio
import socket
import threading

import grpc

from scheduler.api.server import Server
from scheduler.api.v1 import scheduler_pb2_grpc
from scheduler.service.coordinator import Coordinator

START_TIMEOUT_S = 30
READY_TIMEOUT_S = 30  # a `gbasched serve` child process imports, opens and recovers first


def free_port() -> int:
    """A loopback port free right now (for a child process that needs a fixed one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, coordinator: Coordinator) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="grpc-loop", daemon=True)
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(
            Server.start(coordinator, "127.0.0.1:0"), self.loop
        )
        self.server = started.result(START_TIMEOUT_S)
        self.address = f"127.0.0.1:{self.server.port}"
        self.channel = grpc.insecure_channel(self.address)
        self.scheduler = scheduler_pb2_grpc.SchedulerStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        stopped = asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop)
        stopped.result(START_TIMEOUT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT_S)
        self.loop.close()
