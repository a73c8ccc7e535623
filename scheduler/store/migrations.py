"""The SQLite schema, as a list of forward migrations applied in order on open.

Never edit a released migration: add the next one. Migration N runs in one transaction
together with the row that records it in `schema_version`, so a database is always at exactly
one version. A database at a version above the last one here was written by newer code and is
refused (`NewerSchema`).

Version 1, the tables:
- jobs: one row per job; `ord` is the submission order (the paging key), `spec` the submitted
  Job and `placement` its placement as codec JSON; the other columns are the job's mutable
  fields. The unique partial index on (tenant, client_key) is the idempotency-key table.
- nodes, tenants, programs, approvals: id -> codec JSON (`spec`).
- postings: the ledger's postings by their own `seq`, the key's parts unique, the posting as
  codec JSON (`body`).
- events, audit: append-only logs. AUTOINCREMENT, because it never hands out a number again,
  even if rows were ever deleted; events.job_id must name a stored job.

Version 2, jobs.failures: how many attempts of the job ended in failure or with a lost node
(the coordinator's retry limit). Rows stored before it read 0.

Version 3, fair_share and fair_share_at: each tenant's decayed fair-share usage and the one time
it was accrued to, replaced together by a commit that carries them.

Version 5, store_identity: a random id made once, when the database is made (or migrated to
it), never changed. `gbasched serve` binds the jobs' checkpoint directory to it, so that a new
database's job-0 never resumes from the checkpoints an old database's job-0 left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.domain.jobs import JobState


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_STATES = ", ".join(f"'{state.value}'" for state in JobState)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "jobs, pool, programs, postings, events, audit",
        (
            """CREATE TABLE schema_version (
                version INTEGER PRIMARY KEY,
                description TEXT NOT NULL,
                applied_at INTEGER NOT NULL
            )""",
            f"""CREATE TABLE jobs (
                ord INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                tenant TEXT NOT NULL,
                client_key TEXT,
                spec TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ({_STATES})),
                attempt INTEGER NOT NULL CHECK (attempt >= 0),
                placement TEXT,
                started_at INTEGER,
                ended_at INTEGER,
                reason_code TEXT,
                reason TEXT,
                updated_at INTEGER NOT NULL
            )""",
            """CREATE UNIQUE INDEX jobs_by_client_key ON jobs (tenant, client_key)
                WHERE client_key IS NOT NULL""",
            "CREATE INDEX jobs_by_tenant ON jobs (tenant, ord)",
            "CREATE INDEX jobs_by_state ON jobs (state, ord)",
            "CREATE TABLE nodes (id TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            "CREATE TABLE tenants (id TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            "CREATE TABLE programs (id TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            "CREATE TABLE approvals (id TEXT PRIMARY KEY, spec TEXT NOT NULL)",
            """CREATE TABLE postings (
                seq INTEGER PRIMARY KEY CHECK (seq > 0),
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                ref TEXT NOT NULL,
                body TEXT NOT NULL,
                UNIQUE (kind, subject, attempt, ref)
            )""",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                at INTEGER NOT NULL,
                kind TEXT NOT NULL,
                job_id TEXT REFERENCES jobs (id),
                tenant TEXT,
                data TEXT NOT NULL
            )""",
            "CREATE INDEX events_by_job ON events (job_id, seq) WHERE job_id IS NOT NULL",
            """CREATE TABLE audit (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                at INTEGER NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                subject TEXT NOT NULL,
                details TEXT NOT NULL
            )""",
            "CREATE INDEX audit_by_action ON audit (action, seq)",
        ),
    ),
    Migration(
        2,
        "jobs.failures: attempts ended in failure or with a lost node",
        ("ALTER TABLE jobs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0)",),
    ),
    Migration(
        3,
        "fair_share: each tenant's decayed usage, and the time it was accrued to",
        (
            """CREATE TABLE fair_share (
                tenant TEXT PRIMARY KEY CHECK (tenant <> ''),
                usage INTEGER NOT NULL CHECK (usage >= 0)
            )""",
            """CREATE TABLE fair_share_at (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                at INTEGER NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "audit_by_subject: the audit trail of one node, tenant, program or job",
        ("CREATE INDEX audit_by_subject ON audit (subject, seq)",),
    ),
    Migration(
        5,
        "store_identity: a random id of this database, made once",
        (
            """CREATE TABLE store_identity (
                one INTEGER PRIMARY KEY CHECK (one = 1),
                id TEXT NOT NULL CHECK (length(id) = 32)
            )""",
            "INSERT INTO store_identity (one, id) VALUES (1, lower(hex(randomblob(16))))",
        ),
    ),
)


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Migrations must be numbered 1, 2, 3, … in order: the version is the count applied."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(
                f"migration {migration.version} ({migration.description}) is at position"
                f" {expected}; migrations must be numbered 1, 2, 3, … in order"
            )
