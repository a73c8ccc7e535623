"""Benchmark of the gRPC submission path: the real durable `SubmitJob` beside a bare gRPC echo.

    python -m benchmarks.submit --calls 20000 --in-flight 256 --batch 500 --batch-calls 100 --json

Arrangement. Every server runs in a child process (this module started again with `--serve
echo|submit`), the load generator in this process: a grpc.aio client on one channel to
127.0.0.1 keeping `--in-flight` calls outstanding. Client and server then hold separate GILs
and, on the 2-core machine, roughly a core each, as in FEASIBILITY.md §2 (whose aio echo ran
server and client as separate processes: ~6,400 calls/s at 256 in flight). Both arms are
driven by the same client code, with the same messages, metadata and concurrency; only the
server differs. A fresh child (and, for `submit`, a fresh database) serves every arm.

- echo_rps: a bare grpc.aio server with one generic unary handler (`/bench.Echo/Echo`) that
  returns the request bytes as they came (no deserialisation, no thread pool). The client sends
  the very `SubmitJobRequest`s of the submit arm (serialised by the same protobuf serialiser,
  same sizes, each with its own client key) with the same `authorization: Bearer` metadata.
- submit_rps: `Server.start` around a coordinator built as `gbasched serve` builds it: a
  `SqliteStore` file in a temporary directory (`--dir`) in WAL mode with `synchronous=FULL`
  (checked), the sample pool and programs of deploy/, the fake executor (attempts run
  min(walltime, 60 s) by the wall clock, serve's default), the public demo tokens, the pool's
  policy, serve's settings (`serve_settings`: tick interval 1 s, min tick gap 0.05 s, cycles
  for new jobs alone at most once a clock second) and its tick loop
  `start()`ed. Every call is `SubmitJob` with the bearer token of one tenant
  (`--tenant`, default `sz-gov-data`, which has no quota: its jobs fill the pool, then queue)
  and its own idempotency key; jobs are `synthetic_jobs(pool, n, seed, "mixed", fitting=True)`
  of that tenant (no gang larger than the pool could hold: the server refuses those). A call
  counts when its acknowledgement (the job id, `created` true) arrives.
- ratio = submit_rps / echo_rps within a round (target ≥ 0.5); p50_ms / p99_ms are the
  latencies of the timed calls, client side, for each arm.
- batch_jobs_per_s: `SubmitJobs` of `--batch` jobs per call (default 500) to a fresh submit
  server, `--batch-in-flight` calls outstanding (default 4: enough that while one group commit
  writes, the next calls' jobs are validated and queue for the next commit, while 4 × 500 stays
  under the coordinator's 5,000-job `max_batch`, so each commit can take several calls), for
  `--batch-calls` calls (target ≥ 50,000 jobs/s).

- metrics_overhead: a pair of single-call submit servers alive side by side, one as above
  (`submit` in the pair's figures) and one built as `gbasched serve --metrics-port 0` builds
  it: the same coordinator with its metrics registry served over HTTP on loopback and the gRPC
  interceptor counting every call (`submit_metrics`). The timed calls are cut into
  `--overhead-segments` segments (default 8); each segment goes to both servers in turn, in the
  order A B, B A, A B, ..., so that the shared machine's drift over the minutes of a round
  weighs on both alike (arms run one after the other moved by up to a fifth). A thread of the
  load generator scrapes `/metrics` every `--scrape-interval` seconds (default 1; Prometheus'
  default is 15) of the metrics server's segments, and pauses in the other's. Per round,
  overhead = 1 − submit_metrics rps ÷ the pair's submit rps, each server's rate being its calls
  over the time its own segments took; the headline is the median over rounds (target ≤ 0.03).
  `--no-metrics-arm` leaves the pair out.

Every arm first makes `--warmup` calls (batch arm: `--batch-warmup`), untimed, then the timed
calls; it stops early (counting what was done) after `--max-seconds`. With `--rounds` > 1 every
arm is run again, odd rounds in reverse order; headline figures are medians over the
rounds, each round is in the JSON. Three rounds by default: on this shared 2-core machine one
arm's rate moves by up to a fifth between rounds minutes apart, and the median of two rounds is
just their mean, moved by either; of three, one stray round does not set it.

Rate limiting is off: `gbasched serve` limits every tenant to 50 calls/s by default (burst
100), which would measure the limit, not the server; the submit child passes
`Server.start(rate_limit=None)`, as `gbasched serve --rate-limit 0` does. This is the one way
the submit server differs from a default `gbasched serve`; the JSON's `rate_limit` says it.

Durability check: after each submit server has stopped (server, coordinator and store closed),
the database is opened with plain sqlite3 and every acknowledged call, warm-up included, must be
there exactly once: a job row with that client key and the acknowledged id, and no key twice.
`lost` counts acknowledged submissions missing (or with another id), `duplicated` rows beyond
one per key; the command prints `lost: N` (on stderr with `--json`) and exits 1 when either is
non-zero or any call failed.

`--profile-server FILE` runs the submit and batch arms' servers under `py-spy record --format raw
--gil --nonblocking --threads --rate 100` (folded stacks of whichever thread holds the GIL, by
thread), one file per arm and round (`FILE-round1.txt`, `FILE-batch-round1.txt`, ...). It slows
the server; its figures are not the run's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import select
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from benchmarks.store import _Observed
from scheduler.api import convert
from scheduler.api.auth import TokenBook, bearer
from scheduler.api.metrics import GrpcMetrics, serve_metrics
from scheduler.api.server import Server
from scheduler.api.v1 import scheduler_pb2
from scheduler.cli.paths import default_pool_path, default_programs_path, default_tokens_path
from scheduler.cli.serve import serve_settings
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.clock import SystemClock
from scheduler.domain.jobs import Job
from scheduler.domain.pool import Pool
from scheduler.executor.fake import FakeExecutor
from scheduler.policy.fairshare import DEFAULT_HALF_LIFE_S
from scheduler.policy.registry import DEFAULT_PLACEMENT, DEFAULT_QUEUE, resolve_policy
from scheduler.sim.workload import synthetic_jobs
from scheduler.store.sqlite import SqliteStore

Figures = dict[str, Any]

ECHO_METHOD = "/bench.Echo/Echo"
SUBMIT_METHOD = "/gba.scheduler.v1.Scheduler/SubmitJob"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 120.0
CALL_TIMEOUT_S = 120.0
FAKE_RUNTIME_S = 60  # `gbasched serve --fake-runtime-s` default
REPO = Path(__file__).resolve().parents[1]
SYNCHRONOUS: dict[object, str] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


class LostWork(RuntimeError):
    """An acknowledged submission is not in the database exactly once."""


# ---------------------------------------------------------------------- the servers (children)


def _serve_echo() -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return request

    async def main() -> None:
        server = grpc.aio.server()
        handler = grpc.method_handlers_generic_handler(
            "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
        )
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        _say({"port": port, "pid": os.getpid()})
        await _until_told_to_stop()
        await server.stop(5)
        _say({"stopped": True})

    asyncio.run(main())


def _serve_submit(db: Path, metrics: bool = False) -> None:
    """The coordinator and its gRPC server as `gbasched serve` builds them (no flags but
    `--db` and `--port 0`; with `metrics`, also `--metrics-port 0`), on `db`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    pool = load_pool(default_pool_path())
    programs = load_programs(default_programs_path(), pool)
    tokens = TokenBook.load(default_tokens_path(), pool)
    half_life = pool.fair_share_half_life_s or DEFAULT_HALF_LIFE_S
    policy = resolve_policy(pool.policy or f"{DEFAULT_QUEUE}:{DEFAULT_PLACEMENT}", half_life)
    settings = serve_settings(max_retries=3, tick_interval_s=1.0)
    clock = SystemClock()

    def runtime(job: Job) -> int:
        return min(job.walltime_s, FAKE_RUNTIME_S)

    with (
        SqliteStore(db, synchronous="FULL") as store,
        FakeExecutor(clock, runtime) as executor,
    ):
        coordinator = _Observed.open(
            store, executor, pool, policy, clock, programs=programs, settings=settings
        )
        assert isinstance(coordinator, _Observed)
        try:
            coordinator.start()
            rate_limit = asyncio.run(_serve_coordinator(coordinator, tokens, metrics))
        finally:
            coordinator.close()
        stored = store.settings()
        last = coordinator.last_report
        _say(
            {
                "stopped": True,
                "rate_limit": rate_limit,
                "journal_mode": str(stored["journal_mode"]).lower(),
                "synchronous": SYNCHRONOUS.get(stored["synchronous"], stored["synchronous"]),
                "submit_transactions": coordinator.submit_transactions,
                "ticks": coordinator.ticks,
                "tick_s": round(coordinator.tick_seconds, 3),
                "cycle_s": round(coordinator.cycle_seconds, 3),
                "pending_at_last_tick": last.pending if last else None,
                "running_at_last_tick": last.running if last else None,
            }
        )


async def _serve_coordinator(coordinator: _Observed, tokens: TokenBook, metrics: bool) -> str:
    # No per-tenant rate limit (serve's default is 50 calls/s a tenant): what is measured is
    # how fast the server can take submissions, not the limit.
    endpoint = serve_metrics(coordinator, "127.0.0.1", 0) if metrics else None
    interceptor = GrpcMetrics(endpoint.registry) if endpoint is not None else None
    server = await Server.start(
        coordinator, "127.0.0.1:0", tokens, rate_limit=None, metrics=interceptor
    )
    ready: Figures = {"port": server.port, "pid": os.getpid()}
    if endpoint is not None:
        ready["metrics_port"] = endpoint.port
    _say(ready)
    await _until_told_to_stop()
    await server.stop(5)
    if endpoint is not None:
        endpoint.stop()
    return "off (Server.start(rate_limit=None), as `gbasched serve --rate-limit 0`)"


async def _until_told_to_stop() -> None:
    """Until the parent writes a line (or closes our stdin)."""
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def _say(message: Figures) -> None:
    print(json.dumps(message), flush=True)


# ---------------------------------------------------------------------- a child, from the parent


class Child:
    """A server child process: started, asked for its port, told to stop, its last word read."""

    def __init__(self, kind: str, workdir: Path, db: Path | None, profile: Path | None) -> None:
        command = command_of(kind, db)
        if profile is not None:
            spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            command = [spy, "record", "--format", "raw", "--threads", "--gil", "--nonblocking"]
            command += ["--rate", "100"]
            command += ["-o", str(profile), "--", *command_of(kind, db)]
        self.log = workdir / f"{kind}-server.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
        )
        ready = self._read(START_TIMEOUT_S)
        self.port = int(ready["port"])
        self.metrics_port: int | None = ready.get("metrics_port")
        self.pid = int(ready["pid"])  # the server's Python process (py-spy's child, if profiled)
        self.address = f"127.0.0.1:{self.port}"

    def _read(self, timeout_s: float) -> Figures:
        out = self.process.stdout
        assert out is not None
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([out], [], [], max(0.0, left))
            if not readable:
                self.kill()
                raise RuntimeError(f"the server child said nothing in {timeout_s} s ({self.log})")
            line = out.readline()
            if not line:
                self.kill()
                raise RuntimeError(f"the server child ended early: {self._tail()}")
            if line.startswith("{"):
                message: Figures = json.loads(line)
                return message

    def stop(self) -> Figures:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write("stop\n")
        stdin.flush()
        last = self._read(STOP_TIMEOUT_S)
        stdin.close()
        status = self.process.wait(STOP_TIMEOUT_S)
        self._log_file.close()
        if status != 0:  # `_tail` reads the log file again: it was flushed when closed
            raise RuntimeError(f"the server child exited with {status}: {self._tail()}")
        return last

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log_file.close()

    def _tail(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text()[-2000:]


def command_of(kind: str, db: Path | None) -> list[str]:
    command = [sys.executable, "-m", "benchmarks.submit", "--serve", kind]
    return command + (["--db", str(db)] if db is not None else [])


# ---------------------------------------------------------------------- the load generator


@dataclass
class Driven:
    """What one run of calls did: acknowledgements by request index, latencies, failures."""

    replies: dict[int, Any] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    stopped_early: bool = False
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds during the calls


async def drive(
    call: Callable[..., Awaitable[Any]],
    requests: Sequence[Any],
    in_flight: int,
    metadata: tuple[tuple[str, str], ...],
    max_seconds: float,
) -> Driven:
    """Make one call per request, `in_flight` at a time, until done or `max_seconds` passed."""
    out = Driven()
    next_index = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(requests):
            if time.perf_counter() > deadline:
                out.stopped_early = True
                return
            i = next_index
            next_index += 1
            began = time.perf_counter()
            try:
                reply = await call(requests[i], metadata=metadata, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                out.errors[f"{exc.code().name}: {exc.details()}"[:200]] += 1
                continue
            out.latencies_s.append(time.perf_counter() - began)
            out.replies[i] = reply

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    out.elapsed_s = time.perf_counter() - start
    return out


def figures_of(driven: Driven, items_per_call: int = 1) -> Figures:
    lat = sorted(driven.latencies_s)
    calls = len(driven.replies)
    out: Figures = {
        "calls": calls,
        "seconds": round(driven.elapsed_s, 3),
        "rps": round(calls / driven.elapsed_s, 1) if driven.elapsed_s else 0.0,
        "p50_ms": round(_quantile(lat, 0.50) * 1000, 2) if lat else None,
        "p99_ms": round(_quantile(lat, 0.99) * 1000, 2) if lat else None,
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "failed_calls": sum(driven.errors.values()),
        "stopped_early": driven.stopped_early,
    }
    if driven.cpu_s and calls and driven.elapsed_s:
        # CPU per call (ms) and cores busy (CPU seconds per wall second) while the calls ran
        for side in ("server", "client"):
            if f"{side}_user" in driven.cpu_s:
                user, sys_ = driven.cpu_s[f"{side}_user"], driven.cpu_s[f"{side}_sys"]
                out[f"{side}_cpu_ms_per_call"] = round((user + sys_) * 1000 / calls, 3)
                out[f"{side}_cores"] = round((user + sys_) / driven.elapsed_s, 2)
                out[f"{side}_sys_share"] = round(sys_ / (user + sys_), 2) if user + sys_ else 0
    if items_per_call > 1:
        jobs = calls * items_per_call
        out["jobs"] = jobs
        out["jobs_per_s"] = round(jobs / driven.elapsed_s, 1) if driven.elapsed_s else 0.0
    if driven.errors:
        out["errors"] = dict(driven.errors.most_common(5))
    return out


def _quantile(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q + 0.5) - 1))]


async def _drive_arm(
    address: str,
    method: str,
    response: Callable[[bytes], Any],
    warmup: Sequence[Any],
    timed: Sequence[Any],
    in_flight: int,
    metadata: tuple[tuple[str, str], ...],
    max_seconds: float,
    server_pid: int,
) -> tuple[Driven, Driven]:
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        call = await _ready_call(channel, method, response)
        warm = await drive(call, warmup, in_flight, metadata, max_seconds)
        run = await _timed(call, timed, in_flight, metadata, max_seconds, server_pid)
    return warm, run


async def _ready_call(
    channel: grpc.aio.Channel, method: str, response: Callable[[bytes], Any]
) -> Callable[..., Awaitable[Any]]:
    """`method` on `channel`, once the channel is ready."""
    await asyncio.wait_for(channel.channel_ready(), START_TIMEOUT_S)
    call: Callable[..., Awaitable[Any]] = channel.unary_unary(
        method, request_serializer=_serialize, response_deserializer=response
    )
    return call


async def _timed(
    call: Callable[..., Awaitable[Any]],
    requests: Sequence[Any],
    in_flight: int,
    metadata: tuple[tuple[str, str], ...],
    max_seconds: float,
    server_pid: int,
) -> Driven:
    """`drive`, with the CPU seconds the server and this process spent meanwhile (`cpu_s`)."""
    server0, client0 = process_cpu(server_pid), os.times()
    run = await drive(call, requests, in_flight, metadata, max_seconds)
    server1, client1 = process_cpu(server_pid), os.times()
    run.cpu_s = {
        "client_user": client1.user - client0.user,
        "client_sys": client1.system - client0.system,
    }
    if server0 is not None and server1 is not None:
        run.cpu_s["server_user"] = server1[0] - server0[0]
        run.cpu_s["server_sys"] = server1[1] - server0[1]
    return run


def process_cpu(pid: int) -> tuple[float, float] | None:
    """User and system CPU seconds of a process so far (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


# ---------------------------------------------------------------------- the workload


@dataclass(frozen=True)
class Workload:
    tenant: str
    token: str
    singles: list[scheduler_pb2.SubmitJobRequest]  # warm-up first, then the timed ones
    warmup: int
    batches: list[scheduler_pb2.SubmitJobsRequest]  # warm-up first, then the timed ones
    batch_warmup: int


def requests_of(pool: Pool, tenant: str, count: int, seed: int, prefix: str) -> list[Any]:
    """`count` SubmitJobRequests of `tenant`, each with its own client key."""
    jobs = synthetic_jobs(pool, count, seed, "mixed", tenants=[tenant], fitting=True)
    return [
        scheduler_pb2.SubmitJobRequest(
            client_key=f"{prefix}-{i}",
            spec=convert.spec_message(
                convert.JobSpec(
                    workers=job.gang.workers,
                    per_worker=job.gang.per_worker,
                    walltime_s=job.walltime_s,
                    data_origin=job.data_origin,
                    models=tuple(sorted(job.models)),
                    priority_class=job.priority_class,
                    preemptible=job.preemptible,
                )
            ),
        )
        for i, job in enumerate(jobs)
    ]


def workload_of(pool: Pool, args: argparse.Namespace) -> Workload:
    singles = requests_of(pool, args.tenant, args.warmup + args.calls, args.seed, "one")
    batch_calls = args.batch_warmup + args.batch_calls
    jobs = requests_of(pool, args.tenant, batch_calls * args.batch, args.seed + 1, "many")
    batches = [
        scheduler_pb2.SubmitJobsRequest(jobs=jobs[i * args.batch : (i + 1) * args.batch])
        for i in range(batch_calls)
    ]
    return Workload(
        args.tenant, f"demo-{args.tenant}", singles, args.warmup, batches, args.batch_warmup
    )


# ---------------------------------------------------------------------- the arms


def echo_arm(workdir: Path, work: Workload, args: argparse.Namespace) -> Figures:
    child = Child("echo", workdir, None, None)
    try:
        warm, run = asyncio.run(
            _drive_arm(
                child.address,
                ECHO_METHOD,
                scheduler_pb2.SubmitJobRequest.FromString,
                work.singles[: work.warmup],
                work.singles[work.warmup :],
                args.in_flight,
                bearer(work.token),
                args.max_seconds,
                child.pid,
            )
        )
    except BaseException:
        child.kill()
        raise
    child.stop()
    out = figures_of(run)
    out["failed_calls"] += sum(warm.errors.values())
    return out


def submit_arm(
    workdir: Path,
    work: Workload,
    args: argparse.Namespace,
    *,
    batched: bool,
    profile: Path | None,
) -> Figures:
    name = "batch" if batched else "submit"
    requests, warmup, in_flight, method, response = _calls_of(work, args, batched)
    child, db = _submit_child(workdir, name, metrics=False, profile=profile)
    try:
        warm, run = asyncio.run(
            _drive_arm(
                child.address,
                method,
                response,
                requests[:warmup],
                requests[warmup:],
                in_flight,
                bearer(work.token),
                args.max_seconds,
                child.pid,
            )
        )
    except BaseException:
        child.kill()
        raise
    return _finish(child, db, work, args, requests, warmup, warm, run, batched=batched)


def paired_arms(workdir: Path, work: Workload, args: argparse.Namespace) -> Figures:
    """`metrics_overhead`, measured on two submit servers alive side by side, one without
    metrics and one with: the timed calls are cut into `--overhead-segments` segments, and each
    segment is sent to both servers in turn, in the order A B, B A, A B, ... . Whatever the
    shared machine does over the minutes of a round then weighs on both alike. Each server's
    rate is its calls over the time its own segments took; the scraper reads `/metrics` every
    `--scrape-interval` seconds of the metrics server's segments (it pauses in the others', so
    that its scrapes do not load the machine while the plain server is measured)."""
    requests, warmup, in_flight, _, _ = _calls_of(work, args, batched=False)
    plain, plain_db = _submit_child(workdir, "submit-paired", metrics=False, profile=None)
    try:
        metered, metered_db = _submit_child(workdir, "submit-metrics", metrics=True, profile=None)
    except BaseException:
        plain.kill()
        raise
    assert metered.metrics_port is not None
    scraper = Scraper(
        f"http://127.0.0.1:{metered.metrics_port}/metrics", args.scrape_interval, active=False
    )
    try:
        driven, rates = asyncio.run(
            _drive_paired((plain, metered), scraper, requests, warmup, in_flight, work.token, args)
        )
    except BaseException:
        scraper.stop()
        plain.kill()
        metered.kill()
        raise
    scrapes = scraper.stop()
    (plain_warm, plain_run), (metered_warm, metered_run) = driven
    out: Figures = {
        "submit": _finish(plain, plain_db, work, args, requests, warmup, plain_warm, plain_run),
        "submit_metrics": _finish(
            metered, metered_db, work, args, requests, warmup, metered_warm, metered_run
        ),
        "segments": args.overhead_segments,
    }
    out["submit_metrics"]["scrapes"] = scrapes
    out["submit"]["segment_rps"], out["submit_metrics"]["segment_rps"] = rates
    if scrapes["failed"]:
        raise RuntimeError(f"scraping the submit server's metrics failed: {scrapes}")
    out["overhead"] = round(1 - out["submit_metrics"]["rps"] / out["submit"]["rps"], 3)
    return out


async def _drive_paired(
    children: tuple[Child, Child],
    scraper: Scraper,
    requests: Sequence[Any],
    warmup: int,
    in_flight: int,
    token: str,
    args: argparse.Namespace,
) -> tuple[list[tuple[Driven, Driven]], tuple[list[float], list[float]]]:
    """Both servers' (warm-up, timed) calls, and each timed segment's rate, by server."""
    metadata = bearer(token)
    timed = requests[warmup:]
    size = -(-len(timed) // args.overhead_segments)
    runs = [Driven(), Driven()]
    rates: tuple[list[float], list[float]] = ([], [])  # each segment's calls/s, by server
    warms: list[Driven] = []
    async with contextlib.AsyncExitStack() as stack:
        calls = []
        for child in children:
            channel = await stack.enter_async_context(
                grpc.aio.insecure_channel(child.address, options=CHANNEL_OPTIONS)
            )
            calls.append(
                await _ready_call(
                    channel, SUBMIT_METHOD, scheduler_pb2.SubmitJobResponse.FromString
                )
            )
        for side, call in enumerate(calls):
            if side == 1:
                scraper.resume()
            warms.append(
                await drive(call, requests[:warmup], in_flight, metadata, args.max_seconds)
            )
            scraper.pause()
        for segment, start in enumerate(range(0, len(timed), size)):
            order = (0, 1) if segment % 2 == 0 else (1, 0)
            for side in order:
                if side == 1:
                    scraper.resume()
                part = await _timed(
                    calls[side],
                    timed[start : start + size],
                    in_flight,
                    metadata,
                    args.max_seconds,
                    children[side].pid,
                )
                scraper.pause()
                _add(runs[side], part, start)
                rates[side].append(round(len(part.replies) / part.elapsed_s, 1))
    return [(warms[0], runs[0]), (warms[1], runs[1])], rates


def _add(total: Driven, part: Driven, offset: int) -> None:
    """Fold one segment's calls (request indices from `offset`) and CPU into an arm's total."""
    for i, reply in part.replies.items():
        total.replies[offset + i] = reply
    total.latencies_s.extend(part.latencies_s)
    total.errors.update(part.errors)
    total.elapsed_s += part.elapsed_s
    for what, seconds in part.cpu_s.items():
        total.cpu_s[what] = total.cpu_s.get(what, 0.0) + seconds


def _calls_of(
    work: Workload, args: argparse.Namespace, batched: bool
) -> tuple[Sequence[Any], int, int, str, Callable[[bytes], Any]]:
    """The requests (warm-up first), warm-up count, calls in flight, method and reply parser."""
    if batched:
        return (
            work.batches,
            work.batch_warmup,
            args.batch_in_flight,
            "/gba.scheduler.v1.Scheduler/SubmitJobs",
            scheduler_pb2.SubmitJobsResponse.FromString,
        )
    return (
        work.singles,
        work.warmup,
        args.in_flight,
        SUBMIT_METHOD,
        scheduler_pb2.SubmitJobResponse.FromString,
    )


def _submit_child(
    workdir: Path, name: str, *, metrics: bool, profile: Path | None
) -> tuple[Child, Path]:
    """A submit server child on a new database `<name>.db` in `workdir`."""
    db = workdir / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return Child("submit-metrics" if metrics else "submit", workdir, db, profile), db


def _finish(
    child: Child,
    db: Path,
    work: Workload,
    args: argparse.Namespace,
    requests: Sequence[Any],
    warmup: int,
    warm: Driven,
    run: Driven,
    *,
    batched: bool = False,
) -> Figures:
    """Stop the child, check that every acknowledged job is in its database exactly once, and
    give the arm's figures (`requests[:warmup]` were `warm`'s, the rest `run`'s)."""
    server = child.stop()
    if server.get("synchronous") != "FULL" or server.get("journal_mode") != "wal":
        raise RuntimeError(f"the store did not run with WAL and FULL: {server}")
    acknowledged: dict[str, str] = {}
    failed = sum(warm.errors.values()) + sum(run.errors.values())
    for offset, driven in ((0, warm), (warmup, run)):
        for i, reply in driven.replies.items():
            request = requests[offset + i]
            if batched:
                for one, result in zip(request.jobs, reply.results, strict=True):
                    acknowledged[one.client_key] = result.job_id
                    failed += not result.created
            else:
                acknowledged[request.client_key] = reply.job_id
                failed += not reply.created
    check = check_stored(db, work.tenant, acknowledged)
    out = figures_of(run, args.batch if batched else 1)
    out["failed_calls"] = failed
    out.update(check)
    out["server"] = {k: v for k, v in server.items() if k != "stopped"}
    if batched:
        out["batch"] = args.batch
        out["in_flight"] = args.batch_in_flight
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    return out


class Scraper:
    """Reads a metrics endpoint every `interval_s` on its own thread, as Prometheus would (its
    default interval is 15 s). Time counts toward the next scrape only while it is active
    (`resume` ... `pause`); `active=False` starts it paused."""

    _POLL_S = 0.01

    def __init__(self, url: str, interval_s: float, *, active: bool = True) -> None:
        self._url = url
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._active = threading.Event()
        if active:
            self._active.set()
        self._figures: Figures = {"ok": 0, "failed": 0, "bytes": 0, "seconds": 0.0}
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)
        self._thread.start()

    def resume(self) -> None:
        self._active.set()

    def pause(self) -> None:
        self._active.clear()

    def _run(self) -> None:
        figures = self._figures
        waited, last = 0.0, time.monotonic()
        while not self._stopping.wait(self._POLL_S):
            now = time.monotonic()
            if self._active.is_set():
                waited += now - last
            last = now
            if waited < self._interval_s:
                continue
            waited = 0.0
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self._url, timeout=10) as reply:
                    figures["bytes"] = len(reply.read())
                figures["ok"] += 1
            except OSError as exc:
                figures["failed"] += 1
                figures["error"] = str(exc)
            figures["seconds"] += time.perf_counter() - started
            last = time.monotonic()

    def stop(self) -> Figures:
        self._stopping.set()
        self._thread.join()
        figures = dict(self._figures)
        figures["seconds"] = round(figures["seconds"], 3)
        return figures


def check_stored(db: Path, tenant: str, acknowledged: dict[str, str]) -> Figures:
    """Every acknowledged (client key, job id) must be in the file exactly once."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT client_key, id FROM jobs WHERE tenant = ?", (tenant,)
        ).fetchall()
        [(events,)] = conn.execute("SELECT count(*) FROM events WHERE kind = 'submitted'")
    finally:
        conn.close()
    stored: dict[str, str] = {}
    duplicated = 0
    for key, job_id in rows:
        if key in stored:
            duplicated += 1
        stored[key] = job_id
    lost = sum(1 for key, job_id in acknowledged.items() if stored.get(key) != job_id)
    return {
        "acknowledged": len(acknowledged),
        "stored_jobs": len(rows),
        "submitted_events": events,
        "lost": lost,
        "duplicated": duplicated,
        "unacknowledged_stored": len(stored.keys() - acknowledged.keys()),
    }


# ---------------------------------------------------------------------- rounds


def one_round(index: int, workdir: Path, work: Workload, args: argparse.Namespace) -> Figures:
    profile = batch_profile = None
    if args.profile_server is not None:
        base = Path(args.profile_server)
        profile = base.with_name(f"{base.stem}-round{index + 1}{base.suffix or '.txt'}")
        batch_profile = base.with_name(f"{base.stem}-batch-round{index + 1}{base.suffix or '.txt'}")
    arms: list[tuple[str, Callable[[], Figures]]] = [
        ("echo", lambda: echo_arm(workdir, work, args)),
        ("submit", lambda: submit_arm(workdir, work, args, batched=False, profile=profile)),
    ]
    if args.metrics_arm:
        arms.append(("paired", lambda: paired_arms(workdir, work, args)))
    if index % 2:
        arms.reverse()
    out: Figures = {}
    for name, arm in arms:
        out[name] = arm()
    out["ratio"] = round(out["submit"]["rps"] / out["echo"]["rps"], 3)
    if args.metrics_arm:
        out["metrics_overhead"] = out["paired"]["overhead"]
    if args.batch_calls:
        out["batch"] = submit_arm(workdir, work, args, batched=True, profile=batch_profile)
    return out


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20_000, help="timed SubmitJob/echo calls")
    parser.add_argument("--warmup", type=int, default=1_000, help="untimed calls first")
    parser.add_argument("--in-flight", type=int, default=256, help="calls outstanding")
    parser.add_argument("--batch", type=int, default=500, help="jobs per SubmitJobs call")
    parser.add_argument("--batch-calls", type=int, default=100, help="timed SubmitJobs calls")
    parser.add_argument("--batch-warmup", type=int, default=4, help="untimed SubmitJobs calls")
    parser.add_argument("--batch-in-flight", type=int, default=4, help="SubmitJobs outstanding")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every arm, alternating (default 3)"
    )
    parser.add_argument("--max-seconds", type=float, default=120.0, help="per arm's timed calls")
    parser.add_argument("--tenant", default="sz-gov-data", help="the submitting tenant")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where the temporary databases go")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument(
        "--profile-server", default=None, metavar="FILE", help="py-spy the submit server"
    )
    parser.add_argument(
        "--no-metrics-arm",
        dest="metrics_arm",
        action="store_false",
        help="skip the submit arm with metrics on (metrics_overhead)",
    )
    parser.add_argument(
        "--scrape-interval", type=float, default=1.0, help="seconds between scrapes (metrics arm)"
    )
    parser.add_argument(
        "--overhead-segments",
        type=int,
        default=8,
        help="segments of the timed calls each server of the metrics pair takes in turn",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--serve", choices=("echo", "submit", "submit-metrics"), help=argparse.SUPPRESS
    )
    parser.add_argument("--db", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "echo":
        _serve_echo()
        return 0
    if args.serve in ("submit", "submit-metrics"):
        if args.db is None:
            parser.error(f"--serve {args.serve} needs --db")
        _serve_submit(args.db, metrics=args.serve == "submit-metrics")
        return 0
    if not args.scrape_interval > 0:
        parser.error("--scrape-interval must be positive")
    for name in ("calls", "in_flight", "batch", "batch_in_flight", "rounds", "overhead_segments"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("warmup", "batch_calls", "batch_warmup"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")

    t0 = time.perf_counter()
    load_start = os.getloadavg()
    pool = load_pool(default_pool_path())
    if args.tenant not in pool.tenants:
        parser.error(f"--tenant: the sample pool has no tenant {args.tenant!r}")
    work = workload_of(pool, args)
    sizes = [r.ByteSize() for r in work.singles]
    batch_sizes = [b.ByteSize() for b in work.batches]

    with contextlib.ExitStack() as stack:
        if args.keep:
            workdir = Path(tempfile.mkdtemp(prefix="bench-submit-", dir=args.dir))
        else:
            tmp = tempfile.TemporaryDirectory(prefix="bench-submit-", dir=args.dir)
            workdir = Path(stack.enter_context(tmp))
        rounds = [one_round(i, workdir, work, args) for i in range(args.rounds)]

    checked = [[r["echo"], r["submit"]] for r in rounds]  # every arm's figures, by round
    for r, of_round in zip(rounds, checked, strict=True):
        if args.metrics_arm:
            of_round += [r["paired"]["submit"], r["paired"]["submit_metrics"]]
        if args.batch_calls:
            of_round.append(r["batch"])
    lost = sum(arm.get("lost", 0) for of_round in checked for arm in of_round)
    duplicated = sum(arm.get("duplicated", 0) for of_round in checked for arm in of_round)
    failed = sum(arm["failed_calls"] for of_round in checked for arm in of_round)
    ratio = _median([r["ratio"] for r in rounds])
    out: Figures = {
        "in_flight": args.in_flight,
        "calls": args.calls,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "tenant": args.tenant,
        "arrangement": "server in a child process, grpc.aio client in the parent, loopback",
        "request_bytes_mean": round(statistics.mean(sizes), 1),
        "request_bytes_range": [min(sizes), max(sizes)],
        "echo_rps": _median([r["echo"]["rps"] for r in rounds]),
        "submit_rps": _median([r["submit"]["rps"] for r in rounds]),
        "ratio": ratio,
        "ratio_target": 0.5,
        "ratio_met": ratio is not None and ratio >= 0.5,
        "echo_p50_ms": _median([r["echo"]["p50_ms"] for r in rounds]),
        "echo_p99_ms": _median([r["echo"]["p99_ms"] for r in rounds]),
        "submit_p50_ms": _median([r["submit"]["p50_ms"] for r in rounds]),
        "submit_p99_ms": _median([r["submit"]["p99_ms"] for r in rounds]),
    }
    if args.metrics_arm:
        overhead = _median([r["metrics_overhead"] for r in rounds])
        out.update(
            {
                "paired_submit_rps": _median([r["paired"]["submit"]["rps"] for r in rounds]),
                "submit_metrics_rps": _median(
                    [r["paired"]["submit_metrics"]["rps"] for r in rounds]
                ),
                "metrics_overhead": overhead,
                "metrics_overhead_target": 0.03,
                "metrics_overhead_met": overhead is not None and overhead <= 0.03,
                "round_metrics_overheads": [r["metrics_overhead"] for r in rounds],
                "scrape_interval_s": args.scrape_interval,
                "overhead_segments": args.overhead_segments,
            }
        )
    if args.batch_calls:
        batch_rate = _median([r["batch"]["jobs_per_s"] for r in rounds])
        out.update(
            {
                "batch": args.batch,
                "batch_calls": args.batch_calls,
                "batch_in_flight": args.batch_in_flight,
                "batch_request_bytes_mean": round(statistics.mean(batch_sizes), 1),
                "batch_jobs_per_s": batch_rate,
                "batch_target": 50_000,
                "batch_met": batch_rate is not None and batch_rate >= 50_000,
                "batch_p50_ms": _median([r["batch"]["p50_ms"] for r in rounds]),
                "batch_p99_ms": _median([r["batch"]["p99_ms"] for r in rounds]),
            }
        )
    out["round_ratios"] = [r["ratio"] for r in rounds]
    out["rate_limit"] = rounds[0]["submit"]["server"].get("rate_limit")
    out["lost"] = lost
    out["duplicated"] = duplicated
    out["failed_calls"] = failed
    out["round_figures"] = rounds
    out["total_s"] = round(time.perf_counter() - t0, 1)
    # The machine is shared: its 1-minute load average at the start and at the end of the run.
    out["loadavg_1m"] = [round(load_start[0], 2), round(os.getloadavg()[0], 2)]
    if args.json:
        print(json.dumps(out))
        print(f"lost: {lost}", file=sys.stderr)
    else:
        for key, value in out.items():
            if key == "round_figures":
                for i, r in enumerate(rounds):
                    for name, figures in r.items():
                        print(f"{f'round {i + 1} {name}':>24}: {figures}")
            else:
                print(f"{key:>24}: {value}")
        print(f"lost: {lost}")
    if args.keep:
        print(f"kept: {workdir}", file=sys.stderr)
    return 1 if lost or duplicated or failed else 0


if __name__ == "__main__":
    sys.exit(main())
