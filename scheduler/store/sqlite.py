"""The SQLite store: the default, one file in WAL mode.

Durability. `synchronous="FULL"` (the default): in WAL mode SQLite fsyncs the log at every
commit, so what `submit` or `commit` acknowledged survives a killed process, a kernel crash and
a power loss. `synchronous="NORMAL"` fsyncs only at checkpoints: a committed transaction is then
in the log file in the operating system's page cache when the call returns, which survives the
process being killed (SIGKILL included: the kernel owns those pages) but not a power loss or a
kernel crash. tests/integration/test_sqlite_store.py kills writers with SIGKILL in both modes.

Opening. A missing file is created complete before it appears at its path (built beside it,
then hard-linked into place), so a file at the path is either a whole scheduler store or not
ours. An existing file is checked by reading its 100-byte header before SQLite opens it: a file
that is not SQLite (CorruptStore) or carries another application id (ForeignStore) is refused
without being opened, so it cannot be modified. Our own file is then opened, refused if its
schema is newer than this code (NewerSchema, still before anything is written), and migrated
forward.

Decoded jobs. A job's spec never changes once submitted, so the store keeps the `Job` of every
job it submitted or read that is not finished (at most `job_cache_size`, oldest dropped first)
and decodes a spec only once; a commit that finishes a job drops it. Only the mutable columns
are read again on every call, so what another process changed is still seen.

Threads. One connection per store object. It may be used from any thread, one call at a time
(`check_same_thread=False`): the port's callers serialize their calls, as the coordinator does
with its lock; this class adds no lock of its own. Writes take the write lock up front
(`BEGIN IMMEDIATE`) and wait up to the busy timeout for another process's writer.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal, TypeVar

from scheduler.domain.jobs import Job, JobState
from scheduler.domain.nodes import Node, NodeState
from scheduler.domain.residency import Approval
from scheduler.domain.tenants import Tenant
from scheduler.ledger.book import Posting, PostingKey
from scheduler.ledger.programs import Program
from scheduler.store.base import ACTIVE_STATES, Store
from scheduler.store.codec import (
    JsonObject,
    decode_approval,
    decode_job,
    decode_node,
    decode_placement,
    decode_posting,
    decode_program,
    decode_tenant,
    dumps,
    encode_approval,
    encode_node,
    encode_placement,
    encode_posting,
    encode_program,
    encode_tenant,
    job_spec_text,
    loads,
    read_enum,
    read_int,
    read_opt_int,
    read_opt_str,
    read_str,
)
from scheduler.store.errors import (
    CorruptStore,
    ForeignStore,
    NewerSchema,
    StoreError,
    UnknownJob,
    UnknownNode,
)
from scheduler.store.migrations import MIGRATIONS, Migration, check_migrations
from scheduler.store.records import (
    APPROVAL_PUT,
    NODE_PUT,
    PROGRAM_PUT,
    SUBMITTED,
    TENANT_PUT,
    AuditRecord,
    Commit,
    Event,
    FairShareUsage,
    JobRecord,
    NewAudit,
    SubmitOutcome,
)
from scheduler.store.rules import (
    V,
    canonical,
    check_limit,
    node_remove_audit,
    node_state_audit,
    plan_commit,
    plan_puts,
    plan_submit,
)

APPLICATION_ID = 0x47424153
"""`PRAGMA application_id` of every scheduler store ("GBAS"): how a foreign file is told."""

Synchronous = Literal["FULL", "NORMAL"]

_MAGIC = b"SQLite format 3\x00"
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_STATE_COLUMNS = "state, attempt, placement, started_at, ended_at, reason_code, reason"
_STATE_COLUMNS += ", updated_at, failures"
_JOB_COLUMNS = f"id, spec, {_STATE_COLUMNS}"
_EVENT_COLUMNS = "seq, at, kind, job_id, tenant, data"
_AUDIT_COLUMNS = "seq, at, actor, action, subject, details"
_MAX_PARAMS = 500
"""Bound parameters per batched lookup: far below any SQLite's limit (999 before 3.32)."""

JOB_CACHE_SIZE = 100_000
"""The most decoded jobs a store keeps (see the module docstring)."""

T = TypeVar("T")


class SqliteStore(Store):
    """A store in the SQLite file at `path` (created if missing)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_ms: int = 5000,
        migrations: Sequence[Migration] = MIGRATIONS,
        job_cache_size: int = JOB_CACHE_SIZE,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        check_migrations(migrations)
        self.path = Path(path)
        self._name = str(path)
        if not self.path.exists() or self.path.stat().st_size == 0:
            _create(self.path, migrations)
        _check_header(self.path)
        self._conn: sqlite3.Connection | None = None
        # Decoded unfinished jobs by id, oldest first. An OrderedDict, not a dict: dropping a
        # plain dict's first entry is `next(iter(d))`, which steps over every slot already
        # deleted from its front, so a full cache made each submission cost O(cache size).
        self._specs: OrderedDict[str, Job] = OrderedDict()
        self._cache_size = job_cache_size
        conn = self._connect(busy_timeout_ms)
        try:
            with self._errors("open"):
                version = self._stored_version(conn, self._name)
                if version > len(migrations):
                    raise NewerSchema(
                        f"{self._name}: schema version {version} was written by a newer"
                        f" scheduler; this one knows up to version {len(migrations)}"
                    )
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self._name}: cannot use WAL mode (SQLite says {mode})")
                conn.execute(f"PRAGMA synchronous={synchronous}")
                _migrate(conn, migrations, self._name)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    # ------------------------------------------------------------------ jobs

    def submit(self, jobs: Sequence[Job], at: int) -> list[SubmitOutcome]:
        if not jobs:
            self._db()
            return []
        with self._transaction("submit") as db:
            # Optimistic first: a batch whose ids and client keys are all new (the usual case)
            # is written without looking them up, since the UNIQUE constraints on jobs.id and
            # (tenant, client_key) refuse it otherwise; only then is it planned against what is
            # stored. The lookups cost the single writer as much as a fifth of its time.
            outcomes, new = plan_submit(jobs, known_key=_no_key, exists=_absent)
            try:
                self._insert_new(db, new, at)
            except sqlite3.IntegrityError:
                # Not a savepoint: two statements less on the usual path, each a GIL hand-off.
                db.execute("ROLLBACK")
                db.execute("BEGIN IMMEDIATE")
                keys = self._known_keys(
                    db, [(j.tenant, j.client_key) for j in jobs if j.client_key is not None]
                )
                taken = self._stored_ids(db, [j.id for j in jobs])
                outcomes, new = plan_submit(
                    jobs,
                    known_key=lambda tenant, key: keys.get((tenant, key)),
                    exists=taken.__contains__,
                )
                self._insert_new(db, new, at)
        for job in new:  # frozen, and what the spec decodes to
            self._remember(job)
        return outcomes

    @staticmethod
    def _insert_new(db: sqlite3.Connection, new: Sequence[Job], at: int) -> None:
        """Insert queued jobs and their submitted events."""
        # Many rows per statement: one sqlite3_step, during which the GIL is free, instead of
        # one per row (each a GIL hand-off while the gRPC loop wants it).
        queued = JobState.QUEUED.value
        per_insert = min(_ROWS_PER_INSERT, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 6)
        for chunk in _slices(new, per_insert):
            db.execute(
                "INSERT INTO jobs (id, tenant, client_key, spec, state, attempt, updated_at)"
                f" VALUES {', '.join([_JOB_ROW] * len(chunk))}",
                [
                    value
                    for j in chunk
                    for value in (j.id, j.tenant, j.client_key, job_spec_text(j), queued, at)
                ],
            )
            db.execute(
                "INSERT INTO events (at, kind, job_id, tenant, data)"
                f" VALUES {', '.join([_EVENT_ROW] * len(chunk))}",
                [value for j in chunk for value in (at, SUBMITTED, j.id, j.tenant)],
            )

    def job(self, job_id: str) -> JobRecord | None:
        with self._errors("read a job"):
            return self._record(self._db(), job_id)

    def jobs(
        self,
        *,
        tenant: str | None = None,
        states: Collection[JobState] | None = None,
        after_id: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[JobRecord]:
        check_limit(limit)
        db = self._db()
        with self._errors("list jobs"):
            clauses: list[str] = ["ord < ?" if newest_first else "ord > ?"]
            params: list[object] = [(1 << 63) - 1 if newest_first else 0]
            if after_id is not None:
                ord_ = self._one(db, "SELECT ord FROM jobs WHERE id = ?", (after_id,))
                if ord_ is None:
                    raise UnknownJob(f"after_id: no job {after_id!r}")
                params = [read_int(ord_, "jobs.ord")]
            if tenant is not None:
                clauses.append("tenant = ?")
                params.append(tenant)
            if states is not None:
                wanted = sorted({state.value for state in states})
                if not wanted:
                    return []
                clauses.append(f"state IN ({', '.join('?' * len(wanted))})")
                params.extend(wanted)
            rows = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {' AND '.join(clauses)}"
                f" ORDER BY ord{' DESC' if newest_first else ''} LIMIT ?",
                (*params, limit),
            )
            return [self._job_record(row) for row in rows]

    def active_jobs(self) -> list[JobRecord]:
        states = sorted(state.value for state in ACTIVE_STATES)
        with self._errors("list active jobs"):
            rows = self._db().execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state IN ({', '.join('?' * len(states))})"
                " ORDER BY ord",
                states,
            )
            return [self._job_record(row) for row in rows]

    def last_job_seq(self) -> int:
        # A scan of every job's spec: it runs once, when a coordinator starts.
        with self._errors("read the last job seq"):
            top = self._one(self._db(), "SELECT max(json_extract(spec, '$.seq')) FROM jobs", ())
            return -1 if top is None else read_int(top, f"{self._name}: max(jobs.spec.seq)")

    def commit(self, commit: Commit) -> int:
        with self._transaction("commit") as db:
            last = self._one(db, "SELECT coalesce(max(seq), 0) FROM postings", ())
            changed = {change.job_id: None for change in commit.changes}
            states = self._states(
                db, [*changed, *(e.job_id for e in commit.events if e.job_id is not None)]
            )
            specs = self._spec_texts(
                db, [job_id for job_id in changed if job_id in states and job_id not in self._specs]
            )

            def stored(job_id: str) -> JobRecord | None:
                row = states.get(job_id)
                if row is None:
                    return None
                job = self._specs.get(job_id)
                return self._stated(self._job(job_id, specs[job_id]) if job is None else job, row)

            plan = plan_commit(
                commit,
                record=stored,
                known=states.__contains__,
                last_posting_seq=read_int(last, "postings.seq"),
                posting=lambda key: self._posting(db, key),
            )
            db.executemany(
                "UPDATE jobs SET state = ?, attempt = ?, placement = ?, started_at = ?,"
                " ended_at = ?, reason_code = ?, reason = ?, updated_at = ?, failures = ?"
                " WHERE id = ?",
                [
                    (
                        r.state.value,
                        r.attempt,
                        None if r.placement is None else dumps(encode_placement(r.placement)),
                        r.started_at,
                        r.ended_at,
                        r.reason_code,
                        r.reason,
                        r.updated_at,
                        r.failures,
                        r.id,
                    )
                    for r in plan.records
                ],
            )
            db.executemany(
                "INSERT INTO postings (seq, kind, subject, attempt, ref, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        p.seq,
                        p.key.kind.value,
                        p.key.subject,
                        p.key.attempt,
                        p.key.ref,
                        dumps(encode_posting(p)),
                    )
                    for p in plan.postings
                ],
            )
            db.executemany(
                "INSERT INTO events (at, kind, job_id, tenant, data) VALUES (?, ?, ?, ?, ?)",
                [(commit.at, e.kind, e.job_id, e.tenant, data) for e, data in plan.events],
            )
            for audit, details in plan.audits:
                _insert_audit(db, commit.at, audit, details)
            if commit.fair_share is not None:
                db.execute("DELETE FROM fair_share")
                db.executemany(
                    "INSERT INTO fair_share (tenant, usage) VALUES (?, ?)",
                    sorted(commit.fair_share.usage.items()),
                )
                db.execute(
                    "INSERT OR REPLACE INTO fair_share_at (id, at) VALUES (1, ?)",
                    (commit.fair_share.at,),
                )
            seq = self._last_event_seq(db)
        for after in plan.records:  # only once the transaction is committed
            if after.state.terminal:
                self._specs.pop(after.id, None)
            else:
                self._remember(after.job)
        return seq

    def fair_share(self) -> FairShareUsage | None:
        with self._errors("read the fair-share usage"):
            db = self._db()
            at = self._one(db, "SELECT at FROM fair_share_at WHERE id = 1", ())
            if at is None:
                return None
            rows = db.execute("SELECT tenant, usage FROM fair_share ORDER BY tenant").fetchall()
        where = f"{self._name}: fair_share"
        return FairShareUsage(
            read_int(at, f"{where}_at.at"),
            {read_str(t, f"{where}.tenant"): read_int(u, f"{where}.usage") for t, u in rows},
        )

    # ------------------------------------------------------------------ the pool

    def put_nodes(self, nodes: Iterable[Node], at: int, actor: str) -> None:
        self._put("nodes", nodes, NODE_PUT, at, actor, encode_node, decode_node)

    def nodes(self) -> list[Node]:
        return self._all("nodes", decode_node)

    def set_node_state(self, node_id: str, state: NodeState, at: int, actor: str) -> Node:
        with self._transaction("set a node's state") as db:
            node = self._spec(db, "nodes", node_id, decode_node)
            if node is None:
                raise UnknownNode(f"node {node_id!r} is not in the pool")
            if node.state is state:
                return node
            audit = node_state_audit(node, state, actor)
            changed = node.with_state(state)
            db.execute(
                "UPDATE nodes SET spec = ? WHERE id = ?", (dumps(encode_node(changed)), node_id)
            )
            _insert_audit(db, at, audit, canonical(audit.details, "details"))
            return changed

    def remove_node(self, node_id: str, at: int, actor: str) -> Node:
        with self._transaction("remove a node") as db:
            node = self._spec(db, "nodes", node_id, decode_node)
            if node is None:
                raise UnknownNode(f"node {node_id!r} is not in the pool")
            audit = node_remove_audit(node, actor)
            db.execute("DELETE FROM nodes WHERE id = ?", (node_id,))
            _insert_audit(db, at, audit, canonical(audit.details, "details"))
            return node

    def put_tenants(self, tenants: Iterable[Tenant], at: int, actor: str) -> None:
        self._put("tenants", tenants, TENANT_PUT, at, actor, encode_tenant, decode_tenant)

    def tenants(self) -> list[Tenant]:
        return self._all("tenants", decode_tenant)

    def put_programs(self, programs: Iterable[Program], at: int, actor: str) -> None:
        self._put("programs", programs, PROGRAM_PUT, at, actor, encode_program, decode_program)

    def programs(self) -> list[Program]:
        return self._all("programs", decode_program)

    def put_approvals(self, approvals: Iterable[Approval], at: int, actor: str) -> None:
        self._put("approvals", approvals, APPROVAL_PUT, at, actor, encode_approval, decode_approval)

    def approvals(self) -> list[Approval]:
        return self._all("approvals", decode_approval)

    def _put(
        self,
        table: str,
        items: Iterable[V],
        action: str,
        at: int,
        actor: str,
        encode: Callable[[V], JsonObject],
        decode: Callable[[object, str], V],
    ) -> None:
        with self._transaction(f"put {table}") as db:
            plan = plan_puts(
                items,
                what=table,
                action=action,
                actor=actor,
                current=lambda item_id: self._spec(db, table, item_id, decode),
                encode=encode,
            )
            for item, audit in plan:
                db.execute(
                    f"INSERT INTO {table} (id, spec) VALUES (?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET spec = excluded.spec",
                    (item.id, dumps(encode(item))),
                )
                _insert_audit(db, at, audit, canonical(audit.details, "details"))

    def _all(self, table: str, decode: Callable[[object, str], T]) -> list[T]:
        with self._errors(f"read {table}"):
            rows = self._db().execute(f"SELECT id, spec FROM {table} ORDER BY id")
            return [self._decode(table, row[0], row[1], decode) for row in rows]

    def _spec(
        self, db: sqlite3.Connection, table: str, item_id: str, decode: Callable[[object, str], T]
    ) -> T | None:
        spec = self._one(db, f"SELECT spec FROM {table} WHERE id = ?", (item_id,))
        return None if spec is None else self._decode(table, item_id, spec, decode)

    def _decode(
        self, table: str, item_id: object, spec: object, decode: Callable[[object, str], T]
    ) -> T:
        where = f"{self._name}: {table} row {item_id!r}"
        return decode(loads(read_str(spec, where), where), where)

    # ------------------------------------------------------------------ ledger, events, audit

    def postings(self, after_seq: int = 0) -> list[Posting]:
        with self._errors("read postings"):
            rows = self._db().execute(
                "SELECT seq, body FROM postings WHERE seq > ? ORDER BY seq", (after_seq,)
            )
            return [self._posting_row(row[0], row[1]) for row in rows]

    def events(
        self, after_seq: int = 0, *, job_id: str | None = None, limit: int = 1000
    ) -> list[Event]:
        check_limit(limit)
        db = self._db()
        with self._errors("read events"):
            if job_id is None:
                rows = db.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after_seq, limit),
                )
            else:
                rows = db.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM events WHERE job_id = ? AND seq > ?"
                    " ORDER BY seq LIMIT ?",
                    (job_id, after_seq, limit),
                )
            return [self._event(row) for row in rows]

    def last_event(self, job_id: str, kinds: Collection[str]) -> Event | None:
        wanted = sorted(set(kinds))
        if not wanted:
            return None
        db = self._db()
        with self._errors("read a job's last event"):
            # Walks events_by_job (job_id, seq) backwards from the job's newest event.
            row = db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE job_id = ?"
                f" AND kind IN ({_marks(len(wanted))}) ORDER BY seq DESC LIMIT 1",
                (job_id, *wanted),
            ).fetchone()
            return None if row is None else self._event(row)

    def last_event_seq(self) -> int:
        with self._errors("read the last event seq"):
            return self._last_event_seq(self._db())

    def audit(
        self,
        after_seq: int = 0,
        *,
        action: str | None = None,
        subject: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        if limit is not None:
            check_limit(limit)
        where: list[str] = ["seq > ?"]
        params: list[int | str] = [after_seq]
        for column, value in (("action", action), ("subject", subject)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE {' AND '.join(where)} ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        db = self._db()
        with self._errors("read the audit trail"):
            return [self._audit_record(row) for row in db.execute(sql, params)]

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    @property
    def schema_version(self) -> int:
        with self._errors("read the schema version"):
            return self._stored_version(self._db(), self._name)

    @property
    def identity(self) -> str:
        """This database's random id (32 hex digits), made with it and never changed: what
        tells two databases apart when their paths and job ids are the same."""
        with self._errors("read the store's identity"):
            row = self._db().execute("SELECT id FROM store_identity WHERE one = 1").fetchone()
        if row is None or not isinstance(row[0], str):
            raise CorruptStore(f"{self._name}: store_identity holds no id")
        return row[0]

    def settings(self) -> dict[str, object]:
        """The connection's durability-relevant pragmas, as SQLite reports them."""
        names = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "application_id")
        db = self._db()
        with self._errors("read settings"):
            return {name: db.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

    # ------------------------------------------------------------------ plumbing

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        # isolation_level=None: the module opens no transactions of its own; ours are explicit.
        try:
            # check_same_thread=False: the store may be shared between threads whose calls
            # never overlap (see the module docstring).
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=busy_timeout_ms / 1000,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self._name}: cannot open ({exc})") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise _translated(self._name, "open", exc) from exc
        return conn

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self._name}: the store is closed")
        return self._conn

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _translated(self._name, doing, exc) from exc

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        db = self._db()
        with self._errors(doing):
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise

    @staticmethod
    def _one(db: sqlite3.Connection, sql: str, params: Sequence[object]) -> object | None:
        row = db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _stored_version(db: sqlite3.Connection, name: str) -> int:
        try:
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            raise CorruptStore(
                f"{name}: has the scheduler's application id but no schema_version table"
            ) from None
        return read_int(row[0], f"{name}: schema_version.version")

    @staticmethod
    def _last_event_seq(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return 0 if row is None else read_int(row[0], "sqlite_sequence.seq")

    def _record(self, db: sqlite3.Connection, job_id: str) -> JobRecord | None:
        row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else self._job_record(row)

    def _job_record(self, row: Sequence[object]) -> JobRecord:
        """A record from a row of `_JOB_COLUMNS`, its spec decoded unless remembered; the job is
        remembered while it is not finished."""
        job = self._specs.get(row[0]) if isinstance(row[0], str) else None
        record = self._stated(self._job(row[0], row[1]) if job is None else job, row[2:])
        if record.state.terminal:
            self._specs.pop(record.id, None)
        elif job is None:
            self._remember(record.job)
        return record

    def _job(self, job_id: object, spec: object) -> Job:
        where = f"{self._name}: jobs row {job_id!r}"
        job = decode_job(loads(read_str(spec, where), where), f"{where} spec")
        if job.id != job_id:
            raise CorruptStore(f"{where}: the spec is of job {job.id!r}")
        return job

    def _stated(self, job: Job, row: Sequence[object]) -> JobRecord:
        """`job`'s record from a row of `_STATE_COLUMNS`."""
        where = f"{self._name}: jobs row {job.id!r}"
        placement = None
        if row[2] is not None:
            text = read_str(row[2], f"{where} placement")
            placement = decode_placement(loads(text, where), f"{where} placement")
        return JobRecord(
            job,
            read_enum(JobState, row[0], f"{where} state"),
            read_int(row[1], f"{where} attempt"),
            placement,
            read_opt_int(row[3], f"{where} started_at"),
            read_opt_int(row[4], f"{where} ended_at"),
            read_opt_str(row[5], f"{where} reason_code"),
            read_opt_str(row[6], f"{where} reason"),
            read_int(row[7], f"{where} updated_at"),
            read_int(row[8], f"{where} failures"),
        )

    def _remember(self, job: Job) -> None:
        specs = self._specs
        if job.id not in specs:
            if len(specs) >= self._cache_size:
                specs.popitem(last=False)
            specs[job.id] = job

    def _states(
        self, db: sqlite3.Connection, job_ids: Iterable[str]
    ) -> dict[str, tuple[object, ...]]:
        """The `_STATE_COLUMNS` of each of `job_ids` that is stored."""
        return {
            row[0]: row[1:]
            for chunk in _chunks(job_ids, _MAX_PARAMS)
            for row in db.execute(
                f"SELECT id, {_STATE_COLUMNS} FROM jobs WHERE id IN ({_marks(len(chunk))})", chunk
            )
        }

    def _spec_texts(self, db: sqlite3.Connection, job_ids: Iterable[str]) -> dict[str, object]:
        """The stored spec of each of `job_ids`, undecoded (so that a damaged one is reported
        where the single reads would have reported it)."""
        return {
            row[0]: row[1]
            for chunk in _chunks(job_ids, _MAX_PARAMS)
            for row in db.execute(
                f"SELECT id, spec FROM jobs WHERE id IN ({_marks(len(chunk))})", chunk
            )
        }

    def _stored_ids(self, db: sqlite3.Connection, job_ids: Iterable[str]) -> set[str]:
        """Which of `job_ids` are stored."""
        return {
            row[0]
            for chunk in _chunks(job_ids, _MAX_PARAMS)
            for row in db.execute(f"SELECT id FROM jobs WHERE id IN ({_marks(len(chunk))})", chunk)
        }

    def _known_keys(
        self, db: sqlite3.Connection, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """The id of the stored job of each of the (tenant, client key) pairs that has one."""
        found: dict[tuple[str, str], str] = {}
        for chunk in _chunks(keys, _MAX_PARAMS // 2):
            # A join with the pairs as a VALUES table: SQLite looks each pair up in the
            # (tenant, client_key) index, where `(tenant, client_key) IN (VALUES ...)` scans.
            values = ", ".join(["(?, ?)"] * len(chunk))
            rows = db.execute(
                f"SELECT j.tenant, j.client_key, j.id FROM (VALUES {values}) AS k"
                " JOIN jobs AS j ON j.tenant = k.column1 AND j.client_key = k.column2",
                [part for pair in chunk for part in pair],
            )
            for tenant, key, job_id in rows:
                found[(tenant, key)] = job_id
        return found

    def _posting(self, db: sqlite3.Connection, key: PostingKey) -> Posting | None:
        row = db.execute(
            "SELECT seq, body FROM postings WHERE kind = ? AND subject = ? AND attempt = ?"
            " AND ref = ?",
            (key.kind.value, key.subject, key.attempt, key.ref),
        ).fetchone()
        return None if row is None else self._posting_row(row[0], row[1])

    def _posting_row(self, seq: object, body: object) -> Posting:
        where = f"{self._name}: postings row {seq!r}"
        posting = decode_posting(loads(read_str(body, where), where), where)
        if posting.seq != seq:
            raise CorruptStore(f"{where}: the body is posting #{posting.seq}")
        return posting

    def _event(self, row: Sequence[object]) -> Event:
        where = f"{self._name}: events row {row[0]!r}"
        data = loads(read_str(row[5], where), where)
        if not isinstance(data, dict):
            raise CorruptStore(f"{where}: data is not a JSON object")
        return Event(
            read_int(row[0], where),
            read_int(row[1], where),
            read_str(row[2], where),
            read_opt_str(row[3], where),
            read_opt_str(row[4], where),
            data,
        )

    def _audit_record(self, row: Sequence[object]) -> AuditRecord:
        where = f"{self._name}: audit row {row[0]!r}"
        details = loads(read_str(row[5], where), where)
        if not isinstance(details, dict):
            raise CorruptStore(f"{where}: details are not a JSON object")
        return AuditRecord(
            read_int(row[0], where),
            read_int(row[1], where),
            read_str(row[2], where),
            read_str(row[3], where),
            read_str(row[4], where),
            details,
        )


# ---------------------------------------------------------------------- helpers


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` without repeats, in lists of at most `size`."""
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


_ROWS_PER_INSERT = 500
"""Rows per multi-row INSERT (3,000 parameters), fewer where SQLite allows fewer."""
_JOB_ROW = "(?, ?, ?, ?, ?, 0, ?)"
_EVENT_ROW = "(?, ?, ?, ?, '{}')"


def _slices(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _insert_audit(db: sqlite3.Connection, at: int, audit: NewAudit, details: str) -> None:
    db.execute(
        "INSERT INTO audit (at, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)",
        (at, audit.actor, audit.action, audit.subject, details),
    )


def _no_key(tenant: str, key: str) -> str | None:
    return None


def _absent(job_id: str) -> bool:
    return False


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        # The original error is the one worth reporting; if this fails SQLite rolled back.
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _translated(name: str, doing: str, exc: sqlite3.Error) -> StoreError:
    if isinstance(exc, sqlite3.DatabaseError):
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            return CorruptStore(f"{name}: the database is damaged ({exc})")
    return StoreError(f"{name}: cannot {doing} ({exc})")


def _check_header(path: Path) -> None:
    """Refuse a file that is not a scheduler store by its header alone, before SQLite opens it
    (opening could write to it: a hot journal is rolled back, a WAL checkpointed)."""
    try:
        with path.open("rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc})") from exc
    if len(header) < 100 or not header.startswith(_MAGIC):
        raise CorruptStore(
            f"{path}: not a SQLite database, so not a scheduler store (the file was not changed)"
        )
    app = int.from_bytes(header[68:72], "big")
    if app != APPLICATION_ID:
        raise ForeignStore(
            f"{path}: a SQLite database of another application (application id {app:#010x},"
            f" a scheduler store has {APPLICATION_ID:#010x}); the file was not changed"
        )


def _create(path: Path, migrations: Sequence[Migration]) -> None:
    """Build a new store beside `path`, then put it in place in one step."""
    for suffix in ("-wal", "-journal"):
        stray = Path(f"{path}{suffix}")
        if stray.exists() and stray.stat().st_size > 0:
            # SQLite would apply it to the new database as if it were its own.
            raise StoreError(
                f"{path}: no database, but {stray} exists; move it away before creating a store"
            )
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        conn = sqlite3.connect(temp, isolation_level=None)
        try:
            # The header (application id, WAL mode) is written while still in rollback-journal
            # mode, so that it is in the main file and never only in a write-ahead log.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            _migrate(conn, migrations, str(path))
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        if path.exists():
            os.replace(temp, path)  # an empty file stood there: nothing to lose
        else:
            with suppress(FileExistsError):  # another process created it first: open theirs
                os.link(temp, path)
        _fsync_directory(path.parent)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot create the store ({exc})") from exc
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the store ({exc})") from exc
    finally:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            leftover.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], name: str) -> None:
    """Apply the migrations the database lacks, each in its own transaction with its
    `schema_version` row; the version is read again under the write lock, so two processes
    opening the same file do not both apply one."""
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _version_or_zero(conn) >= migration.version:
                conn.execute("ROLLBACK")
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, int(time.time())),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreError(
                f"{name}: migration {migration.version} ({migration.description}) failed:"
                f" {exc}; the database stays at version {migration.version - 1}"
            ) from exc
        except BaseException:
            _rollback(conn)
            raise


def _version_or_zero(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return 0 if row[0] is None else read_int(row[0], "schema_version.version")
