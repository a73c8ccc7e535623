"""`gbasched serve`: the coordinator on SQLite with the gRPC API, until SIGTERM or Ctrl-C.

With no flags it runs the sample GBA pool and programs from `deploy/`, a `gbasched.db` SQLite
file in the current directory and the fake executor (attempts "run" for `--fake-runtime-s`
seconds by the wall clock; the Ray executor comes in its own issue). A restart on the same
database recovers every acknowledged job.

Every Scheduler call must carry a bearer token of the `--tokens` file (by default the public
demo tokens of `deploy/auth/demo-tokens.toml`, with a warning). There is no TLS yet, and a
bearer token must not cross a network in clear text, so the server listens on loopback
addresses only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
from pathlib import Path

from scheduler.api.auth import TokenBook
from scheduler.api.server import Server
from scheduler.cli.errors import CommandError
from scheduler.cli.paths import (
    default_pool_path,
    default_programs_path,
    default_tokens_path,
    is_demo_tokens,
)
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.clock import SystemClock
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import Job
from scheduler.executor.fake import FakeExecutor
from scheduler.policy.fairshare import DEFAULT_HALF_LIFE_S
from scheduler.policy.registry import DEFAULT_PLACEMENT, DEFAULT_QUEUE, resolve_policy
from scheduler.service.coordinator import Coordinator
from scheduler.service.settings import CoordinatorSettings
from scheduler.store.sqlite import SqliteStore

log = logging.getLogger("gbasched.serve")
FAILED_STATUS = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="run the coordinator with its gRPC API")
    parser.add_argument("--config", type=Path, default=None, help="pool TOML (default: sample)")
    parser.add_argument(
        "--programs",
        type=Path,
        default=None,
        help="programs TOML (default: the sample's, when the pool is the sample)",
    )
    parser.add_argument(
        "--tokens",
        type=Path,
        default=None,
        help="API tokens TOML (default: the public demo tokens; never for a real pool)",
    )
    parser.add_argument("--db", type=Path, default=Path("gbasched.db"), help="SQLite file")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    parser.add_argument("--executor", choices=("fake",), default="fake")
    parser.add_argument(
        "--fake-runtime-s", type=int, default=60, help="how long a fake attempt runs (seconds)"
    )
    parser.add_argument("--policy", default=None, help="QUEUE:PLACEMENT (default: the pool's)")
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--tick-interval", type=float, default=1.0, help="seconds")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not ipaddress.ip_address(args.host).is_loopback:
        raise InvalidField(
            "--host",
            "must be a loopback address until TLS lands (bearer tokens must not cross a "
            "network in clear text)",
        )
    if not 0 <= args.port <= 65535:
        raise InvalidField("--port", "must be between 0 and 65535")
    if args.fake_runtime_s < 1:
        raise InvalidField("--fake-runtime-s", "must be at least 1")
    pool = load_pool(args.config or default_pool_path())
    programs_path = args.programs or (default_programs_path() if args.config is None else None)
    programs = load_programs(programs_path, pool) if programs_path is not None else None
    tokens_path: Path = args.tokens or default_tokens_path()
    tokens = TokenBook.load(tokens_path, pool)
    half_life = pool.fair_share_half_life_s or DEFAULT_HALF_LIFE_S
    spec = args.policy or pool.policy or f"{DEFAULT_QUEUE}:{DEFAULT_PLACEMENT}"
    policy = resolve_policy(spec, half_life, field="--policy" if args.policy else "pool.policy")
    settings = CoordinatorSettings(
        max_retries=args.max_retries,
        tick_interval_s=args.tick_interval,
        min_tick_gap_s=min(0.05, args.tick_interval),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    clock = SystemClock()
    runtime_s: int = args.fake_runtime_s

    def runtime(job: Job) -> int:
        return min(job.walltime_s, runtime_s)

    with SqliteStore(args.db) as store, FakeExecutor(clock, runtime) as executor:
        coordinator = Coordinator.open(
            store, executor, pool, policy, clock, programs=programs, settings=settings
        )
        try:
            coordinator.start()
            if is_demo_tokens(tokens_path):
                print(
                    f"gbasched: warning: using the demo tokens of {tokens_path}: they are "
                    "public; never use them for a real pool (make real ones with "
                    "`gbasched token new` and pass --tokens)",
                    file=sys.stderr,
                    flush=True,
                )
            address = f"{args.host}:{args.port}"
            return asyncio.run(_serve(coordinator, address, tokens, args.db))
        finally:
            coordinator.close()


async def _serve(coordinator: Coordinator, address: str, tokens: TokenBook, db: Path) -> int:
    server = await Server.start(coordinator, address, tokens)
    host = address.rpartition(":")[0]
    print(f"gbasched: serving on {host}:{server.port} (store {db})", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    try:
        while not done.is_set():
            if coordinator.stopped is not None:
                raise CommandError(
                    f"the coordinator stopped ({coordinator.stopped}); restart to recover",
                    FAILED_STATUS,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=0.2)
    finally:
        await server.stop()
    print("gbasched: stopped", file=sys.stderr, flush=True)
    return 0
