"""Job traces in the shared CSV format (`job_id,submit_s,duration_s,gpus,tenant,status,gpu_type`,
see the traces' README), read strictly: a bad row is an error naming the file, the line and the
column, and nothing is replayed.

Rules beyond the format:
- `submit_s` must not go backwards (the format sorts rows by it); `duration_s` ≥ 0 and `gpus` ≥ 1
  are whole numbers. A zero duration runs for 1 s (the executor's shortest attempt).
- An empty `tenant` is the tenant `default` (DEFAULT_TENANT).
- `gpu_type` is empty (any model) or models joined by `|`; mapping them onto a pool's catalogue is
  the replay world's business (`scheduler.sim.world`), which names the line of a model it lacks.
- `status` is kept for reference only: a replayed job runs for its `duration_s` whatever it
  did in the source cluster.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from scheduler.domain.errors import InvalidField

COLUMNS = ("job_id", "submit_s", "duration_s", "gpus", "tenant", "status", "gpu_type")
STATUSES = frozenset({"", "COMPLETED", "FAILED", "CANCELLED", "RUNNING"})
DEFAULT_TENANT = "default"


class TraceError(InvalidField):
    """A trace that cannot be read: `field` is `FILE:LINE:COLUMN` (or `FILE` alone)."""

    def __init__(
        self, source: str, message: str, line: int | None = None, column: str = ""
    ) -> None:
        where = source if line is None else f"{source}:{line}"
        if column:
            where = f"{where}: column {column}"
        super().__init__(where, message)


@dataclass(frozen=True, slots=True)
class TraceJob:
    """One row. `line` is its line in the file (the header is line 1); `models` the trace's
    accelerator names (empty: any)."""

    line: int
    job_id: str
    submit_s: int
    duration_s: int
    gpus: int
    tenant: str
    status: str
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Trace:
    source: str
    jobs: tuple[TraceJob, ...]

    @property
    def span_s(self) -> int:
        """Seconds from the first submission to the last."""
        return self.jobs[-1].submit_s - self.jobs[0].submit_s if self.jobs else 0

    @property
    def gpu_seconds(self) -> int:
        return sum(job.gpus * job.duration_s for job in self.jobs)

    @property
    def tenants(self) -> tuple[str, ...]:
        """Tenants in order of first appearance."""
        return tuple(dict.fromkeys(job.tenant for job in self.jobs))

    def offered_load(self) -> Fraction:
        """GPUs the trace keeps busy on average: Σ gpus × duration_s ÷ the submit span (the
        README's figure); 0 for a trace whose jobs all arrive at once."""
        span = self.span_s
        return Fraction(self.gpu_seconds, span) if span else Fraction(0)


def arrival_scale(trace: Trace, load_factor: Fraction, accelerators: int) -> Fraction:
    """The factor s that arrival times are multiplied by so that the trace offers
    `load_factor` × `accelerators` busy accelerators on average: s = offered_load ÷ (F × A).
    Durations are kept. A trace with no span (all jobs at once) is not rescaled (s = 1)."""
    if load_factor <= 0:
        raise InvalidField("load_factor", f"must be positive, got {float(load_factor)}")
    if accelerators <= 0:
        raise InvalidField("accelerators", "the pool has no accelerators that are up")
    offered = trace.offered_load()
    if offered == 0:
        return Fraction(1)
    return offered / (load_factor * accelerators)


def read_trace(path: str | Path, limit: int | None = None) -> Trace:
    """The trace in `path`, its first `limit` jobs if given."""
    source = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise TraceError(source, f"cannot read the trace: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise TraceError(source, "empty file: expected the header " + ",".join(COLUMNS), 1)
        if tuple(h.strip() for h in header) != COLUMNS:
            raise TraceError(
                source, f"header must be {','.join(COLUMNS)}, got {','.join(header)}", 1
            )
        jobs: list[TraceJob] = []
        previous = 0
        for row in reader:
            line = reader.line_num
            if limit is not None and len(jobs) >= limit:
                break
            if not row:
                continue
            job = _row(source, line, row)
            if job.submit_s < previous:
                raise TraceError(
                    source,
                    f"{job.submit_s} is before the previous row's {previous}: rows must be"
                    " sorted by submit_s",
                    line,
                    "submit_s",
                )
            previous = job.submit_s
            jobs.append(job)
    if not jobs:
        raise TraceError(source, "the trace has no jobs")
    return Trace(source, tuple(jobs))


def _row(source: str, line: int, row: list[str]) -> TraceJob:
    if len(row) != len(COLUMNS):
        raise TraceError(source, f"expected {len(COLUMNS)} columns, got {len(row)}", line)
    job_id, submit, duration, gpus, tenant, status, gpu_type = (cell.strip() for cell in row)
    if not job_id:
        raise TraceError(source, "must not be empty", line, "job_id")

    def whole(value: str, column: str, least: int) -> int:
        try:
            number = int(value)
        except ValueError:
            raise TraceError(
                source, f"expected a whole number, got {value!r}", line, column
            ) from None
        if number < least:
            raise TraceError(source, f"must be at least {least}, got {number}", line, column)
        return number

    if status not in STATUSES:
        known = ", ".join(sorted(s for s in STATUSES if s))
        raise TraceError(
            source, f"unknown status {status!r}; known: {known} or empty", line, "status"
        )
    models = tuple(m.strip() for m in gpu_type.split("|")) if gpu_type else ()
    if any(not m for m in models):
        raise TraceError(source, f"empty model name in {gpu_type!r}", line, "gpu_type")
    return TraceJob(
        line=line,
        job_id=job_id,
        submit_s=whole(submit, "submit_s", 0),
        duration_s=max(1, whole(duration, "duration_s", 0)),
        gpus=whole(gpus, "gpus", 1),
        tenant=tenant or DEFAULT_TENANT,
        status=status,
        models=models,
    )
