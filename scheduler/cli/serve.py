"""`gbasched serve`: the coordinator on SQLite with the gRPC API, until SIGTERM or Ctrl-C.

With no flags it runs the sample GBA pool and programs from `deploy/`, a `gbasched.db` SQLite
file in the current directory and the Ray executor on a local Ray it starts on loopback (or the
Ray cluster at `RAY_ADDRESS`); `--executor fake` runs nothing (attempts "run" for
`--fake-runtime-s` seconds by the wall clock). A restart on the same database recovers every
acknowledged job.

Every Scheduler call must carry a bearer token of the `--tokens` file (by default the public
demo tokens of `deploy/auth/demo-tokens.toml`, with a warning). A bearer token must not cross a
network in clear text, so without TLS the server listens on loopback addresses only; with
`--tls-cert` and `--tls-key` (PEM files, both or neither) it speaks TLS only and may listen on
any address, but not with the public demo tokens on a non-loopback one.

Each tenant's calls are rate limited (`--rate-limit` calls a second on average, bursts of
`--rate-burst`; SubmitJobs costs one call per started 100 jobs); operators are not limited.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import math
import signal
import socket
import sys
from pathlib import Path

from scheduler.api.auth import TokenBook
from scheduler.api.metrics import GrpcMetrics, MetricsServer, metrics_registry, serve_metrics
from scheduler.api.ratelimit import DEFAULT_BURST, DEFAULT_CALLS_PER_S, RateLimit
from scheduler.api.server import Server, TlsFiles
from scheduler.cli.checkpoints import bind_checkpoints
from scheduler.cli.errors import CommandError
from scheduler.cli.paths import (
    default_pool_path,
    default_programs_path,
    default_tokens_path,
    is_demo_tokens,
)
from scheduler.cli.text import counted
from scheduler.cli.tls import read_certificate, read_private_key
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.clock import Clock, SystemClock
from scheduler.domain.errors import InvalidField
from scheduler.domain.jobs import Job, check_entrypoint
from scheduler.domain.pool import Pool
from scheduler.executor.base import Executor
from scheduler.executor.fake import FakeExecutor
from scheduler.policy.fairshare import DEFAULT_HALF_LIFE_S
from scheduler.policy.registry import DEFAULT_PLACEMENT, DEFAULT_QUEUE, resolve_policy
from scheduler.service.coordinator import Coordinator
from scheduler.service.settings import CoordinatorSettings
from scheduler.store.owner import owned
from scheduler.store.sqlite import SqliteStore

log = logging.getLogger("gbasched.serve")
DEFAULT_ENTRYPOINT = "scheduler.workloads.sample:train"
FAILED_STATUS = 1
USAGE_STATUS = 2
GC_YOUNG_THRESHOLD = 10_000
"""`serve`'s first garbage-collector threshold (Python's is 700). In the submit benchmark it cut
the collector's share of the server's CPU during bulk submissions from ~15 % to ~6 %; a young
generation of 10,000 objects is a few MiB at most."""


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
        help="API tokens TOML, read again on SIGHUP (default: the public demo tokens; never "
        "for a real pool)",
    )
    parser.add_argument("--db", type=Path, default=Path("gbasched.db"), help="SQLite file")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (loopback only without TLS; e.g. 0.0.0.0 with TLS)",
    )
    parser.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics over HTTP on this port (0 picks one; default: none)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address of the metrics endpoint (default: loopback; it has no authentication)",
    )
    parser.add_argument(
        "--executor",
        choices=("ray", "fake"),
        default="ray",
        help="where admitted jobs run: `ray` (gangs on Ray workers: a local Ray started here, "
        "or the cluster at RAY_ADDRESS; default) or `fake` (nothing runs: attempts last "
        "--fake-runtime-s by the wall clock)",
    )
    parser.add_argument(
        "--fake-runtime-s", type=int, default=60, help="how long a fake attempt runs (seconds)"
    )
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=None,
        metavar="DIR",
        help="Ray: the jobs' checkpoint directories go here, one per job (default: DB-checkpoints "
        "beside --db; on a cluster, a path every Ray node mounts)",
    )
    parser.add_argument(
        "--default-entrypoint",
        default=DEFAULT_ENTRYPOINT,
        metavar="MODULE:FUNCTION",
        help=f"Ray: what runs a job that names no entrypoint (default: {DEFAULT_ENTRYPOINT})",
    )
    parser.add_argument(
        "--ray-cpus",
        type=int,
        default=2,
        metavar="N",
        help="CPUs of the local Ray this command starts when RAY_ADDRESS is unset (default: 2)",
    )
    parser.add_argument("--policy", default=None, help="QUEUE:PLACEMENT (default: the pool's)")
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--tick-interval", type=float, default=1.0, help="seconds")
    parser.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        metavar="FILE",
        help="PEM certificate chain: serve TLS only (needs --tls-key)",
    )
    parser.add_argument(
        "--tls-key",
        type=Path,
        default=None,
        metavar="FILE",
        help="PEM private key of --tls-cert",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=DEFAULT_CALLS_PER_S,
        metavar="CALLS_PER_S",
        help=(
            "each tenant's Scheduler calls per second on average (fractions allowed; SubmitJobs "
            "costs one per started 100 jobs; operators are not limited); beyond it a call is "
            "RESOURCE_EXHAUSTED with the trailing metadata retry-after-ms; 0: unlimited "
            f"(default: {DEFAULT_CALLS_PER_S}, ample for CI loops and watchers of a production "
            "pool, small enough that one tenant cannot starve the others)"
        ),
    )
    parser.add_argument(
        "--rate-burst",
        type=int,
        default=DEFAULT_BURST,
        metavar="N",
        help=(
            "how many calls a tenant may make at once after a quiet spell (its bucket's size; "
            f"e.g. a client reconnecting); default: {DEFAULT_BURST}, at least 1"
        ),
    )
    parser.set_defaults(handler=run)


def is_loopback_host(host: str) -> bool:
    """Whether `host` (an IP address or a name) is surely a loopback one; a name other than
    `localhost` is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_of(args: argparse.Namespace) -> TlsFiles | None:
    """The files of `--tls-cert` and `--tls-key` (both or neither), read."""
    if args.tls_cert is None and args.tls_key is None:
        return None
    if args.tls_key is None:
        raise InvalidField("--tls-cert", "needs --tls-key too (pass both or neither)")
    if args.tls_cert is None:
        raise InvalidField("--tls-key", "needs --tls-cert too (pass both or neither)")
    return TlsFiles(
        cert_chain_pem=read_certificate(args.tls_cert, "--tls-cert"),
        private_key_pem=read_private_key(args.tls_key, "--tls-key"),
    )


def rate_limit_of(args: argparse.Namespace) -> RateLimit | None:
    """The rate limit of `--rate-limit` and `--rate-burst`; None when `--rate-limit` is 0."""
    calls_per_s: float = args.rate_limit
    if not (math.isfinite(calls_per_s) and calls_per_s >= 0):
        raise InvalidField("--rate-limit", "must be a number of calls per second, 0: unlimited")
    if args.rate_burst < 1:
        raise InvalidField("--rate-burst", "must be at least 1 (--rate-limit 0 turns limits off)")
    if calls_per_s == 0:
        return None
    return RateLimit(calls_per_s, args.rate_burst)


def serve_settings(max_retries: int, tick_interval_s: float) -> CoordinatorSettings:
    """The coordinator's settings under `serve`: ticks at least every `tick_interval_s`,
    cycles for new jobs alone at most once a clock second, and the garbage collector tuned for
    a long-lived process holding many jobs (see `Coordinator.start`)."""
    return CoordinatorSettings(
        max_retries=max_retries,
        tick_interval_s=tick_interval_s,
        min_tick_gap_s=min(0.05, tick_interval_s),
        arrival_cycle_interval_s=1,
        gc_young_threshold=GC_YOUNG_THRESHOLD,
        gc_freeze=True,
    )


def run(args: argparse.Namespace) -> int:
    host: str = args.host.removeprefix("[").removesuffix("]")
    if not host:
        raise InvalidField("--host", "must not be empty")
    tls = tls_of(args)
    loopback = is_loopback_host(host)
    if tls is None and not loopback:
        raise InvalidField(
            "--host",
            "must be a loopback address without TLS (bearer tokens must not cross a network "
            "in clear text); pass --tls-cert and --tls-key to listen on other addresses",
        )
    tokens_path: Path = args.tokens or default_tokens_path()
    if not loopback and is_demo_tokens(tokens_path):
        raise InvalidField(
            "--tokens",
            f"the demo tokens of {tokens_path} are public and must not guard a non-loopback "
            f"address ({host}): make real ones with `gbasched token new` and pass --tokens FILE",
        )
    if not 0 <= args.port <= 65535:
        raise InvalidField("--port", "must be between 0 and 65535")
    if args.metrics_port is not None and not 0 <= args.metrics_port <= 65535:
        raise InvalidField("--metrics-port", "must be between 0 and 65535")
    if args.fake_runtime_s < 1:
        raise InvalidField("--fake-runtime-s", "must be at least 1")
    rate_limit = rate_limit_of(args)
    pool = load_pool(args.config or default_pool_path())
    programs_path = args.programs or (default_programs_path() if args.config is None else None)
    programs = load_programs(programs_path, pool) if programs_path is not None else None
    tokens = TokenBook.load(tokens_path, pool)
    half_life = pool.fair_share_half_life_s or DEFAULT_HALF_LIFE_S
    spec = args.policy or pool.policy or f"{DEFAULT_QUEUE}:{DEFAULT_PLACEMENT}"
    policy = resolve_policy(spec, half_life, field="--policy" if args.policy else "pool.policy")
    try:
        settings = serve_settings(args.max_retries, args.tick_interval)
    except InvalidField as exc:  # named as the settings name it: say the flag instead
        flags = {"max_retries": "--max-retries", "tick_interval_s": "--tick-interval"}
        raise InvalidField(flags.get(exc.field, exc.field), exc.message) from None
    _check_free(host, args.port, "--port")
    if args.metrics_port is not None:
        _check_free(args.metrics_host, args.metrics_port, "--metrics-port")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    clock = SystemClock()
    # The store is checked (ours, not newer) before its lock is taken, Ray started after it:
    # a second serve on the same file is refused before it starts anything.
    with (
        SqliteStore(args.db) as store,
        owned(args.db),
        _executor(args, pool, clock, store) as executor,
    ):
        coordinator = Coordinator.open(
            store, executor, pool, policy, clock, programs=programs, settings=settings
        )
        metrics = None
        grpc_metrics = None
        try:
            coordinator.start()
            if args.metrics_port is not None:
                metrics = _metrics(coordinator, args.metrics_host, args.metrics_port)
                grpc_metrics = GrpcMetrics(metrics.registry)
            if is_demo_tokens(tokens_path):
                print(
                    f"gbasched: warning: using the demo tokens of {tokens_path}: they are "
                    "public; never use them for a real pool (make real ones with "
                    "`gbasched token new` and pass --tokens)",
                    file=sys.stderr,
                    flush=True,
                )
            shown = f"[{host}]" if ":" in host else host  # an IPv6 address
            return asyncio.run(
                _serve(
                    coordinator,
                    shown,
                    args.port,
                    tokens,
                    tokens_path,
                    args.db,
                    tls,
                    rate_limit,
                    grpc_metrics,
                )
            )
        finally:
            if metrics is not None:
                metrics.stop()
            coordinator.close()


def _check_free(host: str, port: int, option: str) -> None:
    """Refuse a port another process listens on before anything starts (recovery, Ray): the
    bind itself comes later and fails too (without SO_REUSEPORT), but only after all that."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # the server's own bind reports what is wrong with the address
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # as the servers bind: a port whose last connections linger in TIME_WAIT is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise CommandError(
                f"{option}: cannot listen on {host}:{port} ({exc.strerror}): is another"
                " gbasched serve running there?",
                USAGE_STATUS,
            ) from None


def _executor(args: argparse.Namespace, pool: Pool, clock: Clock, store: SqliteStore) -> Executor:
    """The executor `--executor` names; for Ray, after binding the checkpoint directory to the
    store (see `checkpoints.bind_checkpoints`) and connecting this process to Ray (starting a
    local one on loopback, declaring every pool node, unless RAY_ADDRESS names a cluster)."""
    if args.executor == "fake":
        runtime_s: int = args.fake_runtime_s

        def runtime(job: Job) -> int:
            return min(job.walltime_s, runtime_s)

        return FakeExecutor(clock, runtime)
    # Ray is imported only here: it takes a second or two, which the other commands need not pay.
    from scheduler.executor.ray import RayExecutor
    from scheduler.executor.ray_cluster import RayUnavailable, connect, namespace_of

    default = args.default_entrypoint
    check_entrypoint(default, "--default-entrypoint")
    if args.ray_cpus < 1:
        raise InvalidField("--ray-cpus", "must be at least 1")
    checkpoints: Path = args.checkpoints or args.db.with_name(f"{args.db.name}-checkpoints")
    try:
        checkpoints.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(
            f"cannot make {checkpoints}: {exc.strerror or exc}", USAGE_STATUS
        ) from None
    bind_checkpoints(
        checkpoints, store.identity, lambda job_id: store.job(job_id) is not None, USAGE_STATUS
    )
    print("gbasched: connecting to Ray ...", file=sys.stderr, flush=True)
    try:
        namespace = namespace_of(store.identity)
        started = connect(
            {node.id: node.accelerators for node in pool.nodes.values()},
            num_cpus=args.ray_cpus,
            namespace=namespace,
        )
    except RayUnavailable as exc:
        raise CommandError(f"Ray: {exc}", FAILED_STATUS) from None
    where = "a local Ray on 127.0.0.1" if started else "the Ray cluster at RAY_ADDRESS"
    print(
        f"gbasched: jobs run on {where} (Ray namespace {namespace}); checkpoints in {checkpoints}",
        file=sys.stderr,
        flush=True,
    )
    return RayExecutor(clock, checkpoints, entrypoint_for=lambda job: job.entrypoint or default)


def _metrics(coordinator: Coordinator, host: str, port: int) -> MetricsServer:
    try:
        metrics = serve_metrics(coordinator, host, port, registry=metrics_registry(coordinator))
    except OSError as exc:
        raise CommandError(
            f"cannot serve metrics on {host}:{port} (is the port in use?): {exc}", USAGE_STATUS
        ) from None
    print(f"gbasched: metrics on http://{host}:{metrics.port}/metrics", flush=True)
    return metrics


async def _serve(
    coordinator: Coordinator,
    host: str,
    port: int,
    tokens: TokenBook,
    tokens_path: Path,
    db: Path,
    tls: TlsFiles | None,
    rate_limit: RateLimit | None,
    grpc_metrics: GrpcMetrics | None,
) -> int:
    try:
        server = await Server.start(
            coordinator,
            f"{host}:{port}",
            tokens,
            tls=tls,
            rate_limit=rate_limit,
            metrics=grpc_metrics,
        )
    except RuntimeError as exc:
        hint = "is the port in use?"
        if tls is not None:
            hint += " is --tls-key the private key of --tls-cert?"
        raise CommandError(f"cannot serve on {host}:{port} ({hint}): {exc}", USAGE_STATUS) from None
    how = "with TLS" if tls is not None else "in plain text, loopback only"
    limit = (
        "no rate limit"
        if rate_limit is None
        else f"{rate_limit.calls_per_s:g} calls/s, burst {rate_limit.burst} per tenant"
    )
    print(f"gbasched: serving on {host}:{server.port} {how} (store {db}; {limit})", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    loop.add_signal_handler(signal.SIGHUP, _reload_tokens, tokens, tokens_path, coordinator)
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


def _reload_tokens(tokens: TokenBook, path: Path, coordinator: Coordinator) -> None:
    """SIGHUP: read the tokens file again, against the pool as it is now (so a tenant put while
    the pool runs can be given a token), and use it for every later call. A file that does not
    load changes nothing: the tokens loaded before still hold."""
    try:
        fresh = TokenBook.load(path, coordinator.pool)
    except InvalidField as exc:  # a ConfigError names the file and the key
        print(
            f"gbasched: error: tokens not reloaded, the earlier ones still hold: {exc}",
            file=sys.stderr,
            flush=True,
        )
        return
    tokens.take(fresh)
    print(
        f"gbasched: reloaded {counted(len(fresh), 'token')} from {path}",
        file=sys.stderr,
        flush=True,
    )
