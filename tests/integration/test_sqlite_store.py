"""What only the SQLite store promises: it survives closing, reopening and its writer being
killed; it refuses files that are not its own without touching them; it migrates forward and
never backward."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from scheduler.domain.geography import City, Currency, Jurisdiction
from scheduler.domain.jobs import Gang, Job, JobState, Placement
from scheduler.domain.money import Money
from scheduler.domain.nodes import Node, NodeState, OwnerClass
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import FlavorQuota, Tenant
from scheduler.ledger.book import Ledger, Posting
from scheduler.ledger.flows import actual_split, fund_program, reserve, settle, top_up
from scheduler.ledger.programs import Program, Rates, Split
from scheduler.ledger.usage import Usage
from scheduler.store.base import Store
from scheduler.store.codec import dumps, encode_placement
from scheduler.store.errors import CorruptStore, ForeignStore, NewerSchema, StoreError
from scheduler.store.migrations import MIGRATIONS, Migration
from scheduler.store.records import SUBMITTED, Commit, FairShareUsage, JobChange, NewEvent
from scheduler.store.sqlite import APPLICATION_ID, SqliteStore

# This directory is not a package, so the shared builders under tests/ are not importable from
# here when the file runs alone; the few values these tests need are built below.

T0 = 1_767_196_800
HOUR = 3600
ADMIN = "ops@pool"
ASCEND = "huawei-ascend-910b"
LATEST = len(MIGRATIONS)
WITH_INDEX = (
    *MIGRATIONS,
    Migration(
        LATEST + 1, "jobs by last update", ("CREATE INDEX jobs_by_update ON jobs (updated_at)",)
    ),
)


def a_job(job_id: str, tenant: str = "pcl", key: str | None = None, seq: int = 0) -> Job:
    return Job(
        id=job_id,
        tenant=tenant,
        gang=Gang(1, 2),
        models=frozenset({ASCEND}),
        priority_class="standard",
        priority=500,
        walltime_s=HOUR,
        data_origin=Jurisdiction.MAINLAND,
        submitted_at=T0,
        seq=seq,
        client_key=key,
    )


def a_node(node_id: str) -> Node:
    return Node(
        node_id,
        "sz-gov",
        OwnerClass.GOVERNMENT,
        City.SHENZHEN,
        ASCEND,
        8,
        Money(Currency.CNY, 1000),
    )


SZ = Program(
    "sz",
    "Shenzhen vouchers",
    "sz-gov",
    Currency.CNY,
    10**9,
    T0,
    T0 + 365 * 24 * HOUR,
    Rates(3000, 3000),
)


def postings_by_cycle() -> list[tuple[Posting, ...]]:
    """A program funded, a tenant topped up, one attempt reserved, then settled."""
    ledger = Ledger()
    estimate = Split(Currency.CNY, 10_000, (("sz", 3000),), 7000)
    usage = Usage("pcl", "sz-gov", ("sz-001",), ASCEND, True, 40 * 60, 10_000, Currency.CNY)
    return [
        (fund_program(ledger, SZ), top_up(ledger, "pcl", Currency.CNY, 50_000, "pay-1", T0)),
        (reserve(ledger, "j1", 1, "pcl", estimate, T0 + 10),),
        (settle(ledger, "j1", 1, usage, actual_split(estimate, usage.cost), T0 + HOUR),),
    ]


def everything(store: Store) -> tuple[object, ...]:
    """All a store shows, to compare before and after."""
    return (
        store.jobs(limit=10_000),
        store.postings(),
        store.events(limit=10_000),
        store.audit(),
        store.last_event_seq(),
        store.nodes(),
        store.tenants(),
        store.programs(),
        store.approvals(),
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def a_store_with_history(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    store.submit([a_job(f"j{i}", key=f"k{i}") for i in range(3)], T0)
    store.put_nodes([a_node("sz-001"), a_node("sz-002")], T0, ADMIN)
    store.put_tenants([Tenant("pcl", "PCL", quotas=(FlavorQuota(ASCEND, 16),))], T0, ADMIN)
    store.put_programs([SZ], T0, ADMIN)
    approval = Approval("ap1", "pcl", Jurisdiction.MAINLAND, Jurisdiction.HONG_KONG, T0 + HOUR)
    store.put_approvals([approval], T0, ADMIN)
    for at, postings in enumerate(postings_by_cycle(), start=T0):
        store.commit(Commit(at=at, postings=postings))
    placement = Placement(ASCEND, Jurisdiction.MAINLAND, (("sz-001", 2),))
    store.commit(
        Commit(
            at=T0 + 9,
            changes=(JobChange("j1", JobState.ADMITTED, 1, placement),),
            events=(NewEvent("x", "j1"),),
        )
    )
    return store


# ---------------------------------------------------------------------- reopening


def test_reopening_keeps_everything_and_event_numbers_continue(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    store = a_store_with_history(path)
    seen, last = everything(store), store.last_event_seq()
    store.close()
    again = SqliteStore(path)
    assert everything(again) == seen
    assert Ledger.replay(again.postings()).check() == []
    # Idempotency keys survive too.
    assert again.submit([a_job("other", key="k1")], T0)[0].job_id == "j1"
    assert again.commit(Commit(at=T0 + 10, events=(NewEvent("after-reopen", "j2"),))) == last + 1
    again.close()


def test_a_new_store_is_in_wal_mode_with_full_synchronous_and_foreign_keys(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "pool.db")
    assert store.settings() == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "application_id": APPLICATION_ID,
    }
    assert store.schema_version == len(MIGRATIONS)
    store.close()
    assert SqliteStore(tmp_path / "pool.db", synchronous="NORMAL").settings()["synchronous"] == 1
    with sqlite3.connect(tmp_path / "pool.db") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not list(tmp_path.glob(".*.new"))  # the file was built beside and moved in


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    path.touch()
    with SqliteStore(path) as store:
        assert store.submit([a_job("j1")], T0)[0].created


def test_a_stray_write_ahead_log_without_its_database_is_not_adopted(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    Path(f"{path}-wal").write_bytes(b"frames of some other database")
    with pytest.raises(StoreError, match=r"pool\.db-wal exists"):
        SqliteStore(path)
    assert not path.exists()


# ---------------------------------------------------------------------- refusing files


def test_a_file_of_random_bytes_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    path.write_bytes(random.Random(7).randbytes(64 * 1024))
    before = sha256(path)
    with pytest.raises(CorruptStore, match=r"pool\.db: not a SQLite database"):
        SqliteStore(path)
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.db"]


def test_a_truncated_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)
    with pytest.raises(CorruptStore, match=r"pool\.db"):
        SqliteStore(path)
    assert path.stat().st_size == 36


@pytest.mark.parametrize("application_id", [0, 0x12345678])
def test_another_applications_database_is_refused_untouched(
    tmp_path: Path, application_id: int
) -> None:
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as theirs:
        theirs.execute(f"PRAGMA application_id={application_id}")
        theirs.execute("PRAGMA journal_mode=WAL")
        theirs.execute("CREATE TABLE jobs (id TEXT)")
        theirs.execute("INSERT INTO jobs VALUES ('theirs')")
    theirs.close()
    before = sha256(path)
    with pytest.raises(ForeignStore, match=rf"theirs\.db: .*application id {application_id:#010x}"):
        SqliteStore(path)
    assert sha256(path) == before


def test_a_damaged_store_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    a_store_with_history(path).close()
    data = bytearray(path.read_bytes())
    data[100:] = random.Random(3).randbytes(len(data) - 100)  # keep only the header
    path.write_bytes(bytes(data))
    before = sha256(path)
    with pytest.raises(CorruptStore, match=r"pool\.db"):
        SqliteStore(path)
    assert sha256(path) == before


def test_a_row_that_does_not_decode_is_reported_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    a_store_with_history(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE jobs SET spec = replace(spec, '\"walltime_s\":3600', '\"walltime_s\":3600.5')"
            " WHERE id = 'j2'"
        )
    db.close()
    store = SqliteStore(path)
    with pytest.raises(CorruptStore, match=r"jobs row 'j2' spec.walltime_s: expected an integer"):
        store.job("j2")
    assert store.job("j1") is not None
    store.close()


# ---------------------------------------------------------------------- migrations


def test_a_store_is_migrated_forward_on_open(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    store = a_store_with_history(path)
    seen = everything(store)
    store.close()
    migrated = SqliteStore(path, migrations=WITH_INDEX)
    assert migrated.schema_version == LATEST + 1
    assert everything(migrated) == seen
    migrated.close()
    with sqlite3.connect(path) as db:
        indexes = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        history = db.execute("SELECT version, description FROM schema_version").fetchall()
    db.close()
    assert "jobs_by_update" in indexes
    assert history == [
        *((m.version, m.description) for m in MIGRATIONS),
        (LATEST + 1, "jobs by last update"),
    ]


def jobs_columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(jobs)")]
    db.close()
    return columns


def test_a_version_1_store_gains_failure_counts_and_keeps_its_jobs(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    with SqliteStore(path, migrations=MIGRATIONS[:1]) as old:
        assert old.schema_version == 1
        old.submit([a_job("j1", key="k1", seq=4), a_job("j2", seq=7)], T0)
    assert "failures" not in jobs_columns(path)
    # What a version-1 scheduler wrote when j1 was placed and started (this code's own commit
    # cannot run on version 1: it writes the failures column).
    placement = Placement(ASCEND, Jurisdiction.MAINLAND, (("sz-001", 2),))
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE jobs SET state = 'running', attempt = 2, placement = ?, started_at = ?,"
            " updated_at = ? WHERE id = 'j1'",
            (dumps(encode_placement(placement)), T0 + 5, T0 + 5),
        )
    db.close()
    with SqliteStore(path) as store:
        assert store.schema_version == LATEST >= 2
        record = store.job("j1")
        assert record is not None
        assert record.job == a_job("j1", key="k1", seq=4)
        assert record.as_change() == JobChange("j1", JobState.RUNNING, 2, placement, T0 + 5)
        assert (record.updated_at, record.failures) == (T0 + 5, 0)
        assert [(r.id, r.state, r.failures) for r in store.jobs()] == [
            ("j1", JobState.RUNNING, 0),
            ("j2", JobState.QUEUED, 0),
        ]
        assert store.submit([a_job("again", key="k1")], T0)[0].job_id == "j1"
        assert store.last_job_seq() == 7
        store.commit(Commit(at=T0 + 9, changes=(replace(record.as_change(), failures=1),)))
        after = store.job("j1")
        assert after is not None and after.failures == 1
    assert "failures" in jobs_columns(path)
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.execute("UPDATE jobs SET failures = -1 WHERE id = 'j2'")
    db.close()


def test_a_store_from_a_newer_scheduler_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    SqliteStore(path, migrations=WITH_INDEX).close()
    before = sha256(path)
    newer = rf"pool\.db: schema version {LATEST + 1} .* knows up to version {LATEST}$"
    with pytest.raises(NewerSchema, match=newer):
        SqliteStore(path)
    assert sha256(path) == before


def test_a_failing_migration_leaves_the_store_at_its_version(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    store = a_store_with_history(path)
    seen = everything(store)
    store.close()
    broken = (
        *MIGRATIONS,
        Migration(
            LATEST + 1,
            "half done",
            ("CREATE TABLE extra (x)", "CREATE INDEX nope ON missing (x)"),
        ),
    )
    with pytest.raises(StoreError, match=rf"migration {LATEST + 1} .* stays at version {LATEST}$"):
        SqliteStore(path, migrations=broken)
    store = SqliteStore(path)
    assert store.schema_version == LATEST
    assert everything(store) == seen
    with pytest.raises(sqlite3.OperationalError):
        store._db().execute("SELECT * FROM extra")  # the first statement was rolled back too
    store.close()


def test_migrations_must_be_numbered_in_order(tmp_path: Path) -> None:
    skipping = (*MIGRATIONS, Migration(LATEST + 2, f"skips {LATEST + 1}", ()))
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        SqliteStore(tmp_path / "pool.db", migrations=skipping)


# ---------------------------------------------------------------------- killed writers

CHILD = """
import sys
from scheduler.domain.geography import Jurisdiction
from scheduler.domain.jobs import Gang, Job
from scheduler.store.sqlite import SqliteStore

path, synchronous, count, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = SqliteStore(path, synchronous=synchronous)
for i in range(count):
    job = Job(
        id=f"{run}-{i}", tenant=f"t{i % 3}", gang=Gang(1, 1), models=frozenset({"m"}),
        priority_class="standard", priority=0, walltime_s=60,
        data_origin=Jurisdiction.MAINLAND, submitted_at=i, seq=i, client_key=f"key-{i}",
    )
    [outcome] = store.submit([job], at=i)
    print(i, outcome.job_id, flush=True)  # the acknowledgement: only after submit returned
"""
JOBS = 2000
ROUNDS = 3
DEADLINE_S = 25


def killed_writer(path: Path, synchronous: str, run: str, rng: random.Random) -> dict[int, str]:
    """Start a writer, SIGKILL it at a random point, return what it acknowledged (key -> id).

    The first round is killed after a random delay (perhaps while the file is being created);
    later ones after a random number of acknowledgements, so the kill lands mid-stream."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), synchronous, str(JOBS), run],
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(DEADLINE_S, child.kill)
    watchdog.start()
    acked: dict[int, str] = {}
    try:
        assert child.stdout is not None
        if run == "r0":
            threading.Timer(rng.uniform(0.0, 0.6), child.send_signal, (signal.SIGKILL,)).start()
        else:
            wanted = rng.randint(1, JOBS // 2)
            for line in child.stdout:
                i, job_id = line.split()
                acked[int(i)] = job_id
                if len(acked) >= wanted:
                    child.send_signal(signal.SIGKILL)
                    break
        for line in child.stdout:  # what it printed before it died
            if line.endswith("\n"):
                i, job_id = line.split()
                acked[int(i)] = job_id
        child.wait()
    finally:
        watchdog.cancel()
    assert child.returncode in (-signal.SIGKILL, 0), "the writer died of something else"
    return acked


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_every_acknowledged_job_survives_sigkill_exactly_once(
    tmp_path: Path, synchronous: str
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    path = tmp_path / "pool.db"
    acked: dict[int, str] = {}
    for round_ in range(ROUNDS):
        for key, job_id in killed_writer(path, synchronous, f"r{round_}", rng).items():
            # A key acknowledged in an earlier round keeps its job across the crash.
            assert acked.setdefault(key, job_id) == job_id, f"seed {seed}: key-{key} changed job"
    store = SqliteStore(path)
    jobs = store.jobs(limit=10 * JOBS)
    ids = [record.id for record in jobs]
    keys = [record.client_key for record in jobs]
    assert len(ids) == len(set(ids)), f"seed {seed}: a job is stored twice"
    assert len(keys) == len(set(keys)), f"seed {seed}: a key has two jobs"
    by_id = {record.id: record for record in jobs}
    for key, job_id in acked.items():
        record = by_id.get(job_id)
        assert record is not None, f"seed {seed}: acknowledged {job_id} (key-{key}) was lost"
        assert (record.client_key, record.state) == (f"key-{key}", JobState.QUEUED)
    submitted = [str(e.job_id) for e in store.events(limit=10 * JOBS) if e.kind == SUBMITTED]
    assert sorted(submitted) == sorted(ids), f"seed {seed}: jobs and submitted events differ"
    store.close()


def test_a_node_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    store = a_store_with_history(path)
    node = store.nodes()[0]
    store.set_node_state(node.id, NodeState.DRAINING, T0 + 50, "oncall")
    store.close()
    with SqliteStore(path) as again:
        assert again.nodes()[0].state is NodeState.DRAINING
        assert again.audit(action="node.state")[-1].actor == "oncall"


def test_the_last_job_seq_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "pool.db"
    with SqliteStore(path) as store:
        assert store.last_job_seq() == -1
        store.submit([a_job("a", seq=5), a_job("b", seq=2), a_job("c", seq=9)], T0)
        assert store.last_job_seq() == 9
    with SqliteStore(path) as again:
        assert again.last_job_seq() == 9


def test_jobs_dropped_from_a_full_job_cache_are_read_from_their_specs(tmp_path: Path) -> None:
    jobs = [a_job(f"j{i}", seq=i) for i in range(5)]
    with SqliteStore(tmp_path / "pool.db", job_cache_size=2) as store:
        store.submit(jobs[:3], T0)
        store.submit(jobs[3:], T0 + 1)  # j0..j2 leave the cache, oldest first
        placement = Placement(ASCEND, Jurisdiction.MAINLAND, (("sz-001", 2),))
        store.commit(Commit(at=T0 + 2, changes=(JobChange("j0", JobState.ADMITTED, 1, placement),)))
        assert [r.job for r in store.jobs()] == jobs
        assert store.job("j0").state is JobState.ADMITTED
        assert store.job("j4").state is JobState.QUEUED


# ---------------------------------------------------------------------- threads


def test_a_store_opened_in_one_thread_serves_another(tmp_path: Path) -> None:
    """The coordinator shares one store between its submission and scheduling threads, one
    call at a time."""
    store = SqliteStore(tmp_path / "pool.db")
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            store.submit([a_job("j1", key="k1", seq=3)], T0)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    worker = threading.Thread(target=submit)
    worker.start()
    worker.join()
    assert errors == []
    record = store.job("j1")
    assert record is not None and record.job == a_job("j1", key="k1", seq=3)
    assert store.last_job_seq() == 3
    store.close()


def test_fair_share_usage_survives_reopening(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "pool.db") as store:
        store.commit(Commit(at=1_000, fair_share=FairShareUsage(1_000, {"t1": 42, "t2": 0})))

    with SqliteStore(tmp_path / "pool.db") as again:
        assert again.fair_share() == FairShareUsage(1_000, {"t1": 42, "t2": 0})
