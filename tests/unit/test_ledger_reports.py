"""Reports for sponsors, tenants and owners, and the usage evidence a program's auditor
checks line by line."""

from __future__ import annotations

import io
import json

import pytest

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Currency
from scheduler.domain.money import Money, accelerator_seconds_cost
from scheduler.ledger.book import Ledger
from scheduler.ledger.flows import actual_split, fund_program, reservation, reserve, settle, top_up
from scheduler.ledger.reports import (
    EvidenceRow,
    OwnerReport,
    ProgramReport,
    TenantReport,
    evidence_rows,
    owner_report,
    program_report,
    read_evidence_csv,
    read_evidence_jsonl,
    tenant_report,
    write_evidence_csv,
    write_evidence_jsonl,
)
from scheduler.ledger.usage import Usage
from tests.builders import ASCEND, H800
from tests.ledger_builders import HOUR, START, a_program, a_split, a_usage

CNY, HKD = Currency.CNY, Currency.HKD
# Hangzhou-style: 30 % on domestic chips, 20 % on others.
HZ = a_program("hz", 3000, other_bp=2000, budget=100_000)
HK = a_program("hk", 7000, currency=HKD, budget=100_000)
UNUSED = a_program("unused", 5000, budget=100_000)


def run(
    ledger: Ledger,
    job: str,
    tenant: str,
    reserved_cost: int,
    share: tuple[str, int],
    usage: Usage,
    at: int,
) -> None:
    """Admit `job` with `share` of `reserved_cost` reserved, then settle `usage`."""
    reserve(ledger, job, 1, tenant, a_split(reserved_cost, share, currency=usage.currency), at)
    actual = actual_split(reservation(ledger, job, 1), usage.cost)
    settle(ledger, job, 1, usage, actual, at + 100)


def pool_ledger() -> Ledger:
    """Two tenants on domestic and NVIDIA chips in Shenzhen, one in Hong Kong; one attempt
    still running."""
    ledger = Ledger()
    for program in (HZ, HK, UNUSED):
        fund_program(ledger, program)
    top_up(ledger, "lab", CNY, 50_000, "lab-1", at=START)
    top_up(ledger, "start", CNY, 50_000, "start-1", at=START)
    top_up(ledger, "hku", HKD, 50_000, "hku-1", at=START)
    ascend = a_usage("lab", seconds=2160, nodes=("sz-001", "sz-002"))  # 6,000 fen
    run(ledger, "a", "lab", 10_000, ("hz", 3000), ascend, START)
    h800 = a_usage(
        "start",
        seconds=HOUR,
        price=20_000,
        owner="gz-cloud",
        nodes=("gz-001",),
        model=H800,
        domestic=False,
    )
    run(ledger, "b", "start", 20_000, ("hz", 4000), h800, START + 10)
    hk = a_usage(
        "hku", seconds=1000, price=9_000, currency=HKD, owner="hk-centre", nodes=("hk-001",)
    )  # 2,500 HK cents
    run(ledger, "c", "hku", 5000, ("hk", 3500), hk, START + 20)
    reserve(ledger, "d", 1, "lab", a_split(10_000, ("hz", 3000)), START + 30)  # still running
    return ledger


def test_program_report_accounts_for_every_fen_of_the_budget() -> None:
    reports = program_report(pool_ledger(), [HZ, HK, UNUSED])
    assert reports == [
        ProgramReport("hz", CNY, 100_000, 3000, 5800, 91_200, ("lab", "start"), 1800, 4000),
        ProgramReport("hk", HKD, 100_000, 0, 1750, 98_250, ("hku",), 1750, 0),
        ProgramReport("unused", CNY, 100_000, 0, 0, 100_000, (), 0, 0),
    ]
    hz = reports[0]
    assert hz.budget == hz.reserved + hz.paid + hz.remaining
    assert hz.domestic_bp == 1800 * 10_000 // 5800


def test_tenant_and_owner_reports() -> None:
    ledger = pool_ledger()
    assert tenant_report(ledger) == [
        TenantReport("hku", HKD, 50_000, 50_000 - 750, 0, 750, 1750, 1, 1000),
        TenantReport("lab", CNY, 50_000, 50_000 - 4200 - 7000, 7000, 4200, 1800, 1, 2160),
        TenantReport("start", CNY, 50_000, 50_000 - 16_000, 0, 16_000, 4000, 1, HOUR),
    ]
    assert owner_report(ledger) == [
        OwnerReport("gz-cloud", CNY, 20_000, HOUR, 1),
        OwnerReport("hk-centre", HKD, 2500, 1000, 1),
        OwnerReport("sz-gov", CNY, 6000, 2160, 1),
    ]


def test_evidence_has_one_row_per_settled_attempt_and_each_row_adds_up() -> None:
    rows = evidence_rows(pool_ledger())
    assert [(row.job, row.attempt) for row in rows] == [("a", 1), ("b", 1), ("c", 1)]
    assert rows[0] == EvidenceRow(
        posting=rows[0].posting,
        settled_at=START + 100,
        job="a",
        attempt=1,
        tenant="lab",
        supplier="sz-gov",
        nodes=("sz-001", "sz-002"),
        model=ASCEND,
        domestic=True,
        accelerator_seconds=2160,
        currency=CNY,
        price=10_000,
        cost=6000,
        shares=(("hz", 1800),),
        copay=4200,
    )
    for row in rows:
        assert sum(amount for _, amount in row.shares) + row.copay == row.cost
        price = Money(row.currency, row.price)
        assert accelerator_seconds_cost(price, row.accelerator_seconds).minor == row.cost


def test_evidence_round_trips_through_json_lines_without_floats() -> None:
    rows = evidence_rows(pool_ledger())
    out = io.StringIO()
    write_evidence_jsonl(rows, out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3

    def no_floats(text: str) -> float:
        raise AssertionError(f"a float in the evidence: {text}")

    first = json.loads(lines[0], parse_float=no_floats)
    assert first["shares"] == {"hz": 1800}
    assert first["nodes"] == ["sz-001", "sz-002"]
    assert first["currency"] == "CNY"
    assert read_evidence_jsonl(io.StringIO(out.getvalue())) == rows


def test_evidence_round_trips_through_csv_with_one_stable_column_per_program() -> None:
    rows = evidence_rows(pool_ledger())
    out = io.StringIO(newline="")
    write_evidence_csv(rows, out)
    text = out.getvalue()
    header, first, *_ = text.splitlines()
    assert header == (
        "posting,settled_at,job,attempt,tenant,supplier,nodes,model,domestic,"
        "accelerator_seconds,currency,price,cost,share:hk,share:hz,copay"
    )
    assert first.endswith(
        f",a,1,lab,sz-gov,sz-001;sz-002,{ASCEND},true,2160,CNY,10000,6000,0,1800,4200"
    )
    assert read_evidence_csv(io.StringIO(text, newline="")) == rows


def test_reading_evidence_refuses_amounts_that_are_not_whole_minor_units() -> None:
    rows = evidence_rows(pool_ledger())
    out = io.StringIO()
    write_evidence_csv(rows, out)
    with pytest.raises(InvalidField, match=r"evidence row 2\.cost"):
        read_evidence_csv(io.StringIO(out.getvalue().replace(",6000,", ",60.5,", 1)))
    jsonl = io.StringIO()
    write_evidence_jsonl(rows, jsonl)
    with pytest.raises(InvalidField, match=r"evidence line 1\.cost"):
        read_evidence_jsonl(io.StringIO(jsonl.getvalue().replace('"cost": 6000', '"cost": 60.5')))


def test_an_empty_ledger_reports_nothing_and_writes_only_a_header() -> None:
    ledger = Ledger()
    assert evidence_rows(ledger) == []
    assert tenant_report(ledger) == []
    assert owner_report(ledger) == []
    out = io.StringIO()
    write_evidence_csv([], out)
    assert out.getvalue().splitlines() == [
        "posting,settled_at,job,attempt,tenant,supplier,nodes,model,domestic,"
        "accelerator_seconds,currency,price,cost,copay"
    ]
