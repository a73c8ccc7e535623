"""Acknowledged work survives SIGKILL: a coordinator (`gbasched serve`) in a subprocess, clients
submitting thousands of jobs over gRPC with idempotency keys and retrying after errors, the
coordinator killed at random moments several times and restarted on the same database.

Afterwards, read straight from the SQLite file: every acknowledged job is there exactly once,
no key made two jobs, the ledger replays and balances, no program spent or promised more than
its budget, and every reservation still open belongs to an attempt the store holds as live.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import grpc
import pytest

from scheduler.api.auth import bearer
from scheduler.api.v1 import scheduler_pb2, scheduler_pb2_grpc
from scheduler.cli.paths import default_pool_path, default_programs_path
from scheduler.config.pool_toml import load_pool
from scheduler.config.programs_toml import load_programs
from scheduler.domain.jobs import Job, JobState
from scheduler.ledger.book import Account, AccountKind, Ledger
from scheduler.ledger.flows import open_attempts
from scheduler.sim.workload import synthetic_jobs
from scheduler.store.records import JobRecord
from scheduler.store.sqlite import SqliteStore
from tests.api_builders import DEMO_OPERATOR, READY_TIMEOUT_S, free_port

JOBS = 3_000
BATCH = 50
SINGLE_CLIENTS = 4  # threads submitting one job per call, beside the batch client
SINGLES = 600  # of JOBS, submitted one per call
KILLS = 4
# Submissions are paced to span the kills (about 8 s each client): unpaced, the server now
# acknowledges all 3,000 jobs before the first kill lands, and the test would prove nothing.
SINGLE_PACE_S = 0.05
BATCH_PACE_S = 0.15
SEED = 20_261_123
RPC_TIMEOUT_S = 10
OPERATOR = bearer(DEMO_OPERATOR)  # submits for every tenant of the sample pool


class Coordinator:
    """`gbasched serve` as a child process on a loopback port, its output in a log file."""

    def __init__(self, db: Path, port: int, log: Path) -> None:
        self.db, self.port, self.log = db, port, log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"---- start {self.starts}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scheduler.cli",
                    "serve",
                    "--executor",
                    "fake",
                    "--db",
                    str(self.db),
                    "--port",
                    str(self.port),
                    "--fake-runtime-s",
                    "1",
                    "--tick-interval",
                    "0.2",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=READY_TIMEOUT_S)
            except grpc.FutureTimeoutError:
                self.kill()
                pytest.fail(f"the coordinator did not start; its log:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def request_of(job: Job, key: str) -> scheduler_pb2.SubmitJobRequest:
    return scheduler_pb2.SubmitJobRequest(
        tenant=job.tenant,
        client_key=key,
        spec=scheduler_pb2.JobSpec(
            workers=job.gang.workers,
            per_worker=job.gang.per_worker,
            models=sorted(job.models),
            priority_class=job.priority_class,
            walltime_s=job.walltime_s,
            data_origin=f"JURISDICTION_{job.data_origin.name}",
            programs=list(job.programs),
        ),
    )


class Client:
    """Submits until every request is acknowledged, retrying the same keys after any error."""

    def __init__(self, port: int) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = scheduler_pb2_grpc.SchedulerStub(self.channel)
        self.acked: dict[str, str] = {}  # client key -> job id
        self.retries = 0
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()

    def submit_batches(self, requests: Sequence[scheduler_pb2.SubmitJobRequest]) -> None:
        for start in range(0, len(requests), BATCH):
            self._until_acked(list(requests[start : start + BATCH]))
            time.sleep(BATCH_PACE_S)

    def submit_singles(self, requests: Sequence[scheduler_pb2.SubmitJobRequest]) -> None:
        for request in requests:
            self._until_acked([request])
            time.sleep(SINGLE_PACE_S)

    def _until_acked(self, batch: list[scheduler_pb2.SubmitJobRequest]) -> None:
        """Send the batch (one job: SubmitJob) until it is answered, the same keys each time."""
        deadline = time.monotonic() + 300
        while True:
            try:
                if len(batch) == 1:
                    one = self.stub.SubmitJob(batch[0], timeout=RPC_TIMEOUT_S, metadata=OPERATOR)
                    results = [one]
                else:
                    many = scheduler_pb2.SubmitJobsRequest(jobs=batch)
                    reply = self.stub.SubmitJobs(many, timeout=RPC_TIMEOUT_S, metadata=OPERATOR)
                    results = list(reply.results)
                break
            except grpc.RpcError as exc:
                assert isinstance(exc, grpc.Call)
                code = exc.code()
                assert code in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.CANCELLED,
                ), f"a valid submission was refused: {code} {exc.details()}"
                with self.lock:
                    self.retries += 1
                    self.errors[str(code)] += 1
                assert time.monotonic() < deadline, "no coordinator answered for 300 s"
                time.sleep(0.05)
        for request, result in zip(batch, results, strict=True):
            self._ack(request.client_key, result.job_id)

    def _ack(self, key: str, job_id: str) -> None:
        with self.lock:
            first = self.acked.setdefault(key, job_id)
        assert first == job_id, f"key {key} was acknowledged as {first}, later as {job_id}"


@pytest.fixture
def requests_to_send() -> list[scheduler_pb2.SubmitJobRequest]:
    pool = load_pool(default_pool_path())
    programs = load_programs(default_programs_path(), pool)
    jobs = synthetic_jobs(pool, JOBS, seed=SEED, programs=programs.programs, fitting=True)
    return [request_of(job, f"crash/{i:05d}") for i, job in enumerate(jobs)]


def all_jobs(store: SqliteStore) -> Iterator[JobRecord]:
    after: str | None = None
    while page := store.jobs(after_id=after, limit=1000):
        yield from page
        after = page[-1].id


def test_acknowledged_jobs_survive_sigkill_exactly_once(
    tmp_path: Path, requests_to_send: list[scheduler_pb2.SubmitJobRequest]
) -> None:
    db = tmp_path / "pool.db"
    port = free_port()
    coordinator = Coordinator(db, port, tmp_path / "coordinator.log")
    coordinator.start()
    client = Client(port)
    singles, batched = requests_to_send[:SINGLES], requests_to_send[SINGLES:]
    failures: list[BaseException] = []

    def guarded(
        work: Callable[[Sequence[scheduler_pb2.SubmitJobRequest]], None],
        requests: Sequence[scheduler_pb2.SubmitJobRequest],
    ) -> None:
        try:
            work(requests)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(client.submit_batches, batched))]
    threads += [
        threading.Thread(target=guarded, args=(client.submit_singles, singles[i::SINGLE_CLIENTS]))
        for i in range(SINGLE_CLIENTS)
    ]
    for thread in threads:
        thread.start()

    rng = random.Random(SEED)
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.3, 2.0))
        coordinator.kill()
        time.sleep(rng.uniform(0.0, 0.3))
        coordinator.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    time.sleep(2)  # a few ticks after the last submission: admissions, ends, settlements
    assert coordinator.stop() == 0, coordinator.log.read_text()[-3000:]
    client.channel.close()

    assert len(client.acked) == JOBS
    assert client.retries > 0, "no kill landed while clients were waiting: the test proved nothing"

    with SqliteStore(db) as store:
        records = list(all_jobs(store))
        by_key = Counter(record.client_key for record in records)
        ids = {record.client_key: record.id for record in records}

        # Every acknowledged job is present exactly once; no key made two jobs.
        assert [key for key, n in by_key.items() if n > 1] == []
        assert len(records) == JOBS
        assert {key: ids.get(key) for key in client.acked} == client.acked
        submitted = Counter(e.job_id for e in store.events(limit=10**7) if e.kind == "submitted")
        assert set(submitted.values()) == {1}
        assert len(submitted) == JOBS

        # The ledger replays, balances, and no program is over its budget.
        ledger = Ledger.replay(store.postings())
        assert ledger.check() == []
        for program in store.programs():
            paid, reserved, left = (
                ledger.balance(Account(kind, program.id, program.currency))
                for kind in (
                    AccountKind.PROGRAM_PAID,
                    AccountKind.PROGRAM_RESERVED,
                    AccountKind.PROGRAM_BUDGET,
                )
            )
            assert 0 <= paid + reserved <= program.budget, program.id
            assert left == program.budget - paid - reserved

        # Every open reservation belongs to the live attempt of a job the store holds as live.
        live = {JobState.ADMITTED, JobState.RUNNING, JobState.PREEMPTED}
        by_id = {record.id: record for record in records}
        for job_id, attempt in open_attempts(ledger):
            record = by_id[job_id]
            assert record.state in live and record.attempt == attempt, (job_id, attempt, record)
        # Work happened between the kills: jobs were admitted, finished and paid for.
        states = Counter(record.state for record in records)
        assert states[JobState.SUCCEEDED] > 0, states
        assert any(p.key.kind == "settle" for p in ledger.postings())
    print(  # shown with -s: what the run went through
        f"{coordinator.starts} starts, {client.retries} retried calls {dict(client.errors)},"
        f" states {dict(states)}, {len(ledger)} postings"
    )
