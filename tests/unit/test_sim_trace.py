"""Reading traces: the shared CSV format, strictly, with errors naming file, line and column."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from scheduler.sim.trace import DEFAULT_TENANT, TraceError, arrival_scale, read_trace

HEADER = "job_id,submit_s,duration_s,gpus,tenant,status,gpu_type\n"


def a_trace_file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "trace.csv"
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def test_rows_become_jobs_with_their_line_tenant_and_models(tmp_path: Path) -> None:
    path = a_trace_file(tmp_path, "j0,0,84,1,u1,COMPLETED,", "j1,10,5,16,,FAILED,A100|H800")
    trace = read_trace(path)
    first, second = trace.jobs
    assert (first.line, first.job_id, first.duration_s, first.gpus) == (2, "j0", 84, 1)
    assert first.tenant == "u1" and first.models == ()
    assert second.tenant == DEFAULT_TENANT
    assert second.models == ("A100", "H800")
    assert trace.tenants == ("u1", DEFAULT_TENANT)


def test_a_limit_keeps_the_first_rows(tmp_path: Path) -> None:
    path = a_trace_file(tmp_path, *(f"j{i},{i},1,1,u,," for i in range(10)))
    assert [job.job_id for job in read_trace(path, limit=3).jobs] == ["j0", "j1", "j2"]


def test_a_zero_duration_runs_for_one_second(tmp_path: Path) -> None:
    assert read_trace(a_trace_file(tmp_path, "j0,0,0,1,u,,")).jobs[0].duration_s == 1


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ("j0,zero,84,1,u1,,", ":2: column submit_s: expected a whole number"),
        ("j0,0,84,0,u1,,", ":2: column gpus: must be at least 1"),
        ("j0,0,-5,1,u1,,", ":2: column duration_s: must be at least 0"),
        ("j0,0,84,1,u1,DONE,", ":2: column status: unknown status 'DONE'"),
        ("j0,0,84,1,u1,,A100||H800", ":2: column gpu_type: empty model name"),
        (",0,84,1,u1,,", ":2: column job_id: must not be empty"),
        ("j0,0,84,1", ":2: expected 7 columns, got 4"),
    ],
)
def test_a_bad_row_names_the_file_line_and_column(tmp_path: Path, row: str, where: str) -> None:
    path = a_trace_file(tmp_path, row)
    with pytest.raises(TraceError) as caught:
        read_trace(path)
    assert str(caught.value).startswith(f"{path}{where}")


def test_rows_out_of_submit_order_are_refused_at_the_later_row(tmp_path: Path) -> None:
    path = a_trace_file(tmp_path, "j0,10,1,1,u,,", "j1,5,1,1,u,,")
    with pytest.raises(TraceError, match=r":3: column submit_s: 5 is before"):
        read_trace(path)


def test_a_missing_file_or_a_wrong_header_is_named(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match=r"nope\.csv: cannot read the trace"):
        read_trace(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,submit,duration\n")
    with pytest.raises(TraceError, match=r"bad\.csv:1: header must be"):
        read_trace(bad)


def test_the_load_factor_rescales_arrivals_to_offer_that_share_of_the_pool(
    tmp_path: Path,
) -> None:
    # 2 jobs × 8 GPUs × 1000 s over a 100 s span: 160 GPUs busy on average.
    trace = read_trace(a_trace_file(tmp_path, "j0,0,1000,8,u,,", "j1,100,1000,8,u,,"))
    assert trace.offered_load() == 160
    # on 320 accelerators at load 0.5 the trace must offer 160: as recorded
    assert arrival_scale(trace, Fraction(1, 2), 320) == 1
    # at load 1 it must offer 320: arrivals twice as dense
    assert arrival_scale(trace, Fraction(1), 320) == Fraction(1, 2)
    with pytest.raises(ValueError, match="load_factor: must be positive"):
        arrival_scale(trace, Fraction(0), 320)
