"""Benchmark of durable submissions: the coordinator service into SQLite, beside bare sqlite3.

    python -m benchmarks.store --jobs 2000 --batched-jobs 10000 --batch 100 --clients 8 --json

Every run writes to a new database in a fresh temporary directory (`--dir`, default the system's)
with the same durability: WAL and `synchronous=FULL`, so every commit is one fsync of the log.

- service_single: `Coordinator.open` on a new `SqliteStore` (FULL) with the sample pool, the
  fake executor on the system clock, `start()`ed (the tick loop runs as in production: a
  submission wakes the loop, whose tick takes the inbox, runs a cycle over the backlog and
  commits its admissions); one client submits `--jobs` jobs, one per
  `submit([request])` call, each with its own client key; timed from the first call to the
  last acknowledgement.
- service_batched: the same with `--batched-jobs` jobs in calls of `--batch` requests.
- service_concurrent: `--clients` threads submit `--jobs` jobs in all, in single-job calls; the
  group commit writes whatever queued meanwhile in one transaction. `jobs_per_commit` = jobs ÷
  group-commit writes (`Coordinator.submit_transactions`).
- write_path_single / write_path_batched (diagnostic; `--no-write-path` skips them): the same
  submissions to a coordinator that is opened but not started: `submit` validates and writes
  on the caller's thread, one transaction per call, and no tick runs. The gap between these
  and service_* is what the tick loop (a cycle over the whole backlog, on the same GIL) costs
  the submitters; the gap between these and sqlite_* is the write path's own work
  (`write_path_ratio_*` = write_path_* ÷ sqlite_* of the same round).
- sqlite_single / sqlite_batched: bare sqlite3, same pragmas, `BEGIN IMMEDIATE … COMMIT`, a
  table shaped like a job row (id primary key, tenant, client_key, spec) holding the same jobs'
  specs as the store encodes them (`codec.dumps(encode_job(job))`, encoded before timing): one
  INSERT per transaction, or `executemany` of `--batch` rows per transaction.
- ratio_single = service_single ÷ sqlite_single and ratio_batched = service_batched ÷
  sqlite_single: the service against the bare durable insert loop (one row made durable per
  transaction, as every acknowledged submission is), each from one round's side-by-side runs;
  `ratio_vs_sqlite` = the smaller. Batching and group commit can take it above 1.
- ratio_batched_same_batch = service_batched ÷ sqlite_batched: the harder like-for-like figure,
  both sides writing `--batch` rows per transaction, so only the per-row work differs
  (validation, the job's JSON spec, four indexes, an event row per job, the tick loop).
  With `--rounds` > 1 every pair is run again (odd rounds run the service first) and the
  headline figures are medians over the rounds; each round is in the JSON.

After each service run the database is opened again with plain sqlite3 and must hold exactly the
submitted jobs (one row and one `submitted` event per client key): a run that lost work raises.
Jobs are `synthetic_jobs(pool, n, seed, "mixed", fitting=True)` turned back into `JobRequest`s:
the sample pool's tenants, models they have quota for, zones that have them, classes they may
use, and no gang larger than the pool's nodes of its models could hold (the coordinator would
refuse it).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from scheduler.cli.paths import default_pool_path
from scheduler.config.pool_toml import load_pool
from scheduler.domain.clock import SystemClock
from scheduler.domain.pool import Pool
from scheduler.domain.requests import JobRequest, to_job
from scheduler.executor.fake import FakeExecutor
from scheduler.policy.registry import resolve_policy
from scheduler.service.coordinator import Coordinator, TickReport
from scheduler.sim.workload import synthetic_jobs
from scheduler.store.codec import dumps, encode_job
from scheduler.store.records import SUBMITTED, SubmitOutcome
from scheduler.store.sqlite import SqliteStore

Figures = dict[str, object]

BARE_TABLE = (
    "CREATE TABLE jobs (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, client_key TEXT,"
    " spec TEXT NOT NULL)"
)
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}  # PRAGMA synchronous's numbers


class LostWork(RuntimeError):
    """A service run acknowledged jobs that the database does not hold (or holds twice)."""


class _Observed(Coordinator):
    """The coordinator, timing its ticks: the tick loop shares the process, the GIL and the
    store with the submissions, and its share of the run is part of what is measured."""

    ticks: int = 0
    tick_seconds: float = 0.0
    cycle_seconds: float = 0.0
    last_report: TickReport | None = None

    def tick(self) -> TickReport:
        start = time.perf_counter()
        report = super().tick()
        self.tick_seconds += time.perf_counter() - start
        self.ticks += 1
        self.cycle_seconds += report.cycle_ms / 1000
        self.last_report = report
        return report


def requests_for(pool: Pool, count: int, seed: int) -> list[JobRequest]:
    """`count` requests shaped like the simulator's jobs, each with its own client key."""
    return [
        JobRequest(
            tenant=job.tenant,
            workers=job.gang.workers,
            per_worker=job.gang.per_worker,
            walltime_s=job.walltime_s,
            data_origin=job.data_origin,
            models=tuple(sorted(job.models)),
            priority_class=job.priority_class,
            preemptible=job.preemptible,
            client_key=f"bench-{i}",
        )
        for i, job in enumerate(synthetic_jobs(pool, count, seed, "mixed", fitting=True))
    ]


def bare_rows(pool: Pool, requests: Sequence[JobRequest]) -> list[tuple[str, str, str, str]]:
    """The rows the bare loop writes: each job's spec as the store encodes it."""
    now = int(time.time())
    rows = []
    for i, request in enumerate(requests):
        job = to_job(request, pool, f"job-{i}", i, now)
        rows.append((job.id, job.tenant, request.client_key or "", dumps(encode_job(job))))
    return rows


# ---------------------------------------------------------------------- bare sqlite3


def sqlite_run(
    parent: str | None, rows: Sequence[tuple[str, str, str, str]], batch: int
) -> Figures:
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=parent) as tmp:
        db = sqlite3.connect(Path(tmp) / "bare.db", isolation_level=None)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"sqlite3 refused WAL mode (journal_mode={mode})")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(BARE_TABLE)
            insert = "INSERT INTO jobs (id, tenant, client_key, spec) VALUES (?, ?, ?, ?)"
            start = time.perf_counter()
            for i in range(0, len(rows), batch):
                db.execute("BEGIN IMMEDIATE")
                if batch == 1:
                    db.execute(insert, rows[i])
                else:
                    db.executemany(insert, rows[i : i + batch])
                db.execute("COMMIT")
            elapsed = time.perf_counter() - start
            [(stored,)] = db.execute("SELECT count(*) FROM jobs").fetchall()
        finally:
            db.close()
    if stored != len(rows):
        raise LostWork(f"bare sqlite3: {stored} rows stored of {len(rows)} inserted")
    return _rate(len(rows), batch, elapsed, commits=-(-len(rows) // batch))


# ---------------------------------------------------------------------- the service


def service_run(
    parent: str | None,
    pool: Pool,
    requests: Sequence[JobRequest],
    batch: int,
    clients: int = 1,
    *,
    started: bool = True,
) -> Figures:
    """One service run on a new store. `started=False` is the write path alone: the coordinator
    is opened but not started, so `submit` writes on the caller's thread (one transaction per
    call) and no tick runs."""
    policy = resolve_policy(
        pool.policy or "priority-fairshare:binpack", pool.fair_share_half_life_s or 86_400
    )
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=parent) as tmp:
        path = Path(tmp) / "scheduler.db"
        store = SqliteStore(path, synchronous="FULL")
        try:
            # Nothing ends during a run: the pool fills, then the backlog grows.
            executor = FakeExecutor(clock, lambda job: job.walltime_s)
            coordinator = _Observed.open(store, executor, pool, policy, clock)
            assert isinstance(coordinator, _Observed)
            if started:
                coordinator.start()
            try:
                if clients == 1:
                    outcomes, elapsed = _one_client(coordinator, requests, batch)
                else:
                    outcomes, elapsed = _many_clients(coordinator, requests, clients)
            finally:
                coordinator.close()
            commits = coordinator.submit_transactions
            last, ticks = coordinator.last_report, coordinator.ticks
            tick_s, cycle_s = coordinator.tick_seconds, coordinator.cycle_seconds
            settings = store.settings()
            if settings["synchronous"] != 2 or str(settings["journal_mode"]).lower() != "wal":
                raise RuntimeError(f"the store does not run with WAL and FULL: {settings}")
        finally:
            store.close()
        _check_stored(path, requests, outcomes)
    figures = _rate(len(requests), batch, elapsed, commits=commits)
    figures["jobs_per_commit"] = round(len(requests) / commits, 1) if commits else None
    figures["clients"] = clients
    figures["started"] = started
    figures["ticks"] = ticks
    figures["tick_s"] = round(tick_s, 3)  # time spent in ticks, while the clients submitted
    figures["cycle_s"] = round(cycle_s, 3)  # of which in run_cycle
    figures["pending_at_last_tick"] = last.pending if last else None
    figures["running_at_last_tick"] = last.running if last else None
    figures["journal_mode"] = settings["journal_mode"]
    figures["synchronous"] = SYNCHRONOUS.get(settings["synchronous"], settings["synchronous"])
    return figures


def _one_client(
    coordinator: Coordinator, requests: Sequence[JobRequest], batch: int
) -> tuple[list[SubmitOutcome], float]:
    outcomes: list[SubmitOutcome] = []
    start = time.perf_counter()
    for i in range(0, len(requests), batch):
        outcomes.extend(coordinator.submit(requests[i : i + batch]))
    return outcomes, time.perf_counter() - start


def _many_clients(
    coordinator: Coordinator, requests: Sequence[JobRequest], clients: int
) -> tuple[list[SubmitOutcome], float]:
    shares = [list(requests[c::clients]) for c in range(clients)]
    results: list[list[SubmitOutcome]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    ready = threading.Barrier(clients + 1)

    def client(c: int) -> None:
        ready.wait()
        try:
            for request in shares[c]:
                results[c].extend(coordinator.submit([request]))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=client, args=(c,), name=f"client-{c}") for c in range(clients)
    ]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return [o for r in results for o in r], elapsed


def _check_stored(
    path: Path, requests: Sequence[JobRequest], outcomes: Sequence[SubmitOutcome]
) -> None:
    """The acknowledgements and the file must both account for every request exactly once."""
    n = len(requests)
    ids = {o.job_id for o in outcomes}
    if len(outcomes) != n or len(ids) != n or not all(o.created for o in outcomes):
        raise LostWork(
            f"{n} requests, {len(outcomes)} acknowledgements, {len(ids)} distinct job ids,"
            f" {sum(o.created for o in outcomes)} created"
        )
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        [(rows, keys)] = db.execute("SELECT count(*), count(DISTINCT client_key) FROM jobs")
        [(events,)] = db.execute("SELECT count(*) FROM events WHERE kind = ?", (SUBMITTED,))
        stored = {row[0] for row in db.execute("SELECT id FROM jobs")}
    finally:
        db.close()
    if rows != n or keys != n or events != n or stored != ids:
        raise LostWork(
            f"{path}: {n} jobs acknowledged, the file holds {rows} jobs ({keys} client keys,"
            f" {events} submitted events, {len(ids - stored)} acknowledged ids missing)"
        )


def _rate(jobs: int, batch: int, elapsed: float, *, commits: int) -> Figures:
    return {
        "jobs": jobs,
        "batch": batch,
        "seconds": round(elapsed, 3),
        "per_s": round(jobs / elapsed, 1),
        "commits": commits,
    }


# ---------------------------------------------------------------------- rounds


def one_round(
    index: int,
    parent: str | None,
    pool: Pool,
    requests: Sequence[JobRequest],
    rows: Sequence[tuple[str, str, str, str]],
    args: argparse.Namespace,
) -> dict[str, Figures]:
    single_requests, single_rows = requests[: args.jobs], rows[: args.jobs]
    batched_requests, batched_rows = requests[: args.batched_jobs], rows[: args.batched_jobs]
    pairs: list[tuple[str, Callable[[], Figures], str, Callable[[], Figures]]] = [
        (
            "sqlite_single",
            lambda: sqlite_run(parent, single_rows, 1),
            "service_single",
            lambda: service_run(parent, pool, single_requests, 1),
        ),
        (
            "sqlite_batched",
            lambda: sqlite_run(parent, batched_rows, args.batch),
            "service_batched",
            lambda: service_run(parent, pool, batched_requests, args.batch),
        ),
    ]
    out: dict[str, Figures] = {}
    for bare_name, bare, service_name, service in pairs:
        order = [(bare_name, bare), (service_name, service)]
        if index % 2:
            order.reverse()
        for name, run in order:
            out[name] = run()
    if args.clients > 1:
        out["service_concurrent"] = service_run(parent, pool, single_requests, 1, args.clients)
    if args.write_path:
        out["write_path_single"] = service_run(parent, pool, single_requests, 1, started=False)
        out["write_path_batched"] = service_run(
            parent, pool, batched_requests, args.batch, started=False
        )
    return out


def _number(figures: Figures, key: str = "per_s") -> float:
    value = figures[key]
    assert isinstance(value, int | float), (key, value)
    return float(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=2_000, help="single and concurrent runs")
    parser.add_argument("--batched-jobs", type=int, default=10_000, help="the batched runs")
    parser.add_argument("--batch", type=int, default=100, help="requests per call / per txn")
    parser.add_argument("--clients", type=int, default=8, help="threads of the concurrent run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pool", type=Path, default=None, help="pool TOML (default: the sample)")
    parser.add_argument("--dir", default=None, help="where the temporary databases go")
    parser.add_argument(
        "--no-write-path",
        dest="write_path",
        action="store_false",
        help="skip the write-path runs (coordinator not started: no tick loop)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    for name in ("jobs", "batched_jobs", "batch", "clients", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    t0 = time.perf_counter()
    pool_path = args.pool or default_pool_path()
    pool = load_pool(pool_path)
    requests = requests_for(pool, max(args.jobs, args.batched_jobs), args.seed)
    rows = bare_rows(pool, requests)
    spec_bytes = statistics.mean(len(row[3]) for row in rows)

    rounds = [one_round(i, args.dir, pool, requests, rows, args) for i in range(args.rounds)]
    ratios = []
    for r in rounds:
        loop = _number(r["sqlite_single"])
        ratio = {
            "ratio_single": _number(r["service_single"]) / loop,
            "ratio_batched": _number(r["service_batched"]) / loop,
            "ratio_batched_same_batch": _number(r["service_batched"])
            / _number(r["sqlite_batched"]),
        }
        if args.write_path:
            for kind in ("single", "batched"):
                ratio[f"write_path_ratio_{kind}"] = _number(r[f"write_path_{kind}"]) / _number(
                    r[f"sqlite_{kind}"]
                )
        ratios.append(ratio)

    def median(key: str) -> float:
        return round(statistics.median(_number(r[key]) for r in rounds), 1)

    ratio_single = statistics.median(r["ratio_single"] for r in ratios)
    ratio_batched = statistics.median(r["ratio_batched"] for r in ratios)
    same_batch = statistics.median(r["ratio_batched_same_batch"] for r in ratios)
    out: Figures = {
        "pool": str(pool_path),
        "nodes": len(pool.nodes),
        "accelerators": sum(n.accelerators for n in pool.nodes.values()),
        "jobs": args.jobs,
        "batched_jobs": args.batched_jobs,
        "batch": args.batch,
        "clients": args.clients,
        "rounds": args.rounds,
        "synchronous": "FULL",
        "journal_mode": "wal",
        "spec_bytes_mean": round(spec_bytes, 1),
        "service_single_per_s": median("service_single"),
        "sqlite_single_per_s": median("sqlite_single"),
        "service_batched_per_s": median("service_batched"),
        "sqlite_batched_per_s": median("sqlite_batched"),
        "ratio_single": round(ratio_single, 3),
        "ratio_batched": round(ratio_batched, 3),
        "ratio_vs_sqlite": round(min(ratio_single, ratio_batched), 3),
        "ratio_batched_same_batch": round(same_batch, 3),
    }
    if args.clients > 1:
        out["service_concurrent_per_s"] = median("service_concurrent")
        out["ratio_concurrent"] = round(
            statistics.median(
                _number(r["service_concurrent"]) / _number(r["sqlite_single"]) for r in rounds
            ),
            3,
        )
        out["concurrent_jobs_per_commit"] = statistics.median(
            _number(r["service_concurrent"], "jobs_per_commit") for r in rounds
        )
    if args.write_path:
        out["write_path_single_per_s"] = median("write_path_single")
        out["write_path_batched_per_s"] = median("write_path_batched")
        for kind in ("single", "batched"):
            key = f"write_path_ratio_{kind}"
            out[key] = round(statistics.median(r[key] for r in ratios), 3)
    out["round_ratios"] = [{k: round(v, 3) for k, v in r.items()} for r in ratios]
    out["round_figures"] = rounds
    out["total_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            if key == "round_figures":
                for i, r in enumerate(rounds):
                    for name, figures in r.items():
                        print(f"{f'round {i + 1} {name}':>28}: {figures}")
            else:
                print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
