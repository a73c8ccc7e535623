"""Usage evidence: one line per settled attempt, enough for a program's auditor to check each
claim by hand — who ran what where, for how long at which price, what it cost and who paid
which part. Written as JSON lines or CSV; both read back to the same rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from scheduler.domain.errors import InvalidField
from scheduler.domain.geography import Currency, parse_enum
from scheduler.ledger.book import AccountKind, Ledger, PostingKind

NODE_SEPARATOR = ";"  # nodes share one CSV cell
SHARE_PREFIX = "share:"


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One settled attempt. Money in minor units of `currency`; `price` is per
    accelerator-hour; `shares` are the programs that paid something, by program id."""

    posting: int  # the settlement's sequence number in the ledger
    settled_at: int
    job: str
    attempt: int
    tenant: str
    supplier: str
    nodes: tuple[str, ...]
    model: str
    domestic: bool
    accelerator_seconds: int
    currency: Currency
    price: int
    cost: int
    shares: tuple[tuple[str, int], ...]
    copay: int


_FIXED = (
    "posting",
    "settled_at",
    "job",
    "attempt",
    "tenant",
    "supplier",
    "nodes",
    "model",
    "domestic",
    "accelerator_seconds",
    "currency",
    "price",
    "cost",
)
_INTS = frozenset({"posting", "settled_at", "attempt", "accelerator_seconds", "price", "cost"})


def evidence_rows(ledger: Ledger, after: int = 0) -> list[EvidenceRow]:
    """Every settlement in the ledger after its first `after` postings, in posting order. Shares
    and co-payment are read from the posting's own entries (what was actually booked), not
    recomputed."""
    rows: list[EvidenceRow] = []
    for posting in ledger.postings(after):
        usage = posting.usage
        if posting.key.kind is not PostingKind.SETTLE or usage is None:
            continue
        shares = sorted(
            (account.holder, amount)
            for account, amount in posting.entries
            if account.kind is AccountKind.PROGRAM_PAID
        )
        copay = sum(
            amount
            for account, amount in posting.entries
            if account.kind is AccountKind.TENANT_SPENT
        )
        rows.append(
            EvidenceRow(
                posting=posting.seq,
                settled_at=posting.at,
                job=posting.key.subject,
                attempt=posting.key.attempt,
                tenant=usage.tenant,
                supplier=usage.owner,
                nodes=usage.nodes,
                model=usage.model,
                domestic=usage.domestic,
                accelerator_seconds=usage.accelerator_seconds,
                currency=usage.currency,
                price=usage.price,
                cost=usage.cost,
                shares=tuple(shares),
                copay=copay,
            )
        )
    return rows


# ---------------------------------------------------------------------- JSON lines


def write_evidence_jsonl(rows: Iterable[EvidenceRow], file: TextIO) -> None:
    for row in rows:
        record: dict[str, object] = {name: _plain(getattr(row, name)) for name in _FIXED}
        record["shares"] = dict(row.shares)
        record["copay"] = row.copay
        file.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_evidence_jsonl(file: TextIO) -> list[EvidenceRow]:
    rows: list[EvidenceRow] = []
    for number, line in enumerate(file, start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        where = f"evidence line {number}"
        shares = record.get("shares")
        if not isinstance(shares, dict):
            raise InvalidField(f"{where}.shares", "must be an object of program id to amount")
        nodes = record.get("nodes")
        if not isinstance(nodes, list):
            raise InvalidField(f"{where}.nodes", "must be a list of node ids")
        rows.append(
            _row(
                where,
                {name: record.get(name) for name in _FIXED if name != "nodes"},
                tuple(str(node) for node in nodes),
                [(str(pid), amount) for pid, amount in shares.items()],
                record.get("copay"),
            )
        )
    return rows


# ---------------------------------------------------------------------- CSV


def evidence_columns(rows: Sequence[EvidenceRow]) -> list[str]:
    """The CSV header: the fixed columns, one `share:<program id>` per program that paid in any
    row (sorted by id, so the order is stable), then `copay`."""
    programs = sorted({program_id for row in rows for program_id, _ in row.shares})
    return [*_FIXED, *(SHARE_PREFIX + program_id for program_id in programs), "copay"]


def write_evidence_csv(rows: Iterable[EvidenceRow], file: TextIO) -> None:
    """Write `rows` as CSV (open `file` with newline=""). A program's column is 0 in rows it
    did not pay."""
    rows = list(rows)
    columns = evidence_columns(rows)
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        for node in row.nodes:
            if NODE_SEPARATOR in node:
                raise InvalidField("evidence.nodes", f"node id {node!r} contains {NODE_SEPARATOR}")
        shares = dict(row.shares)
        cells = [_cell(getattr(row, name)) for name in _FIXED]
        cells += [
            str(shares.get(column.removeprefix(SHARE_PREFIX), 0))
            for column in columns
            if column.startswith(SHARE_PREFIX)
        ]
        writer.writerow([*cells, str(row.copay)])


def read_evidence_csv(file: TextIO) -> list[EvidenceRow]:
    rows: list[EvidenceRow] = []
    for number, record in enumerate(csv.DictReader(file), start=2):
        where = f"evidence row {number}"
        fixed: dict[str, object] = {}
        for name in _FIXED:
            if name == "nodes":
                continue
            text = record.get(name)
            if name == "domestic":
                fixed[name] = {"true": True, "false": False}.get(text or "", text)
            elif name in _INTS:
                fixed[name] = _int(f"{where}.{name}", text)
            else:
                fixed[name] = text
        shares = [
            (column.removeprefix(SHARE_PREFIX), _int(f"{where}.{column}", text))
            for column, text in record.items()
            if column.startswith(SHARE_PREFIX)
        ]
        nodes_cell = record.get("nodes") or ""
        nodes = tuple(nodes_cell.split(NODE_SEPARATOR)) if nodes_cell else ()
        copay = _int(f"{where}.copay", record.get("copay"))
        rows.append(_row(where, fixed, nodes, shares, copay))
    return rows


# ---------------------------------------------------------------------- helpers


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Currency):
        return value.value
    return value


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return NODE_SEPARATOR.join(value)
    return str(value)


def _int(field: str, text: str | None) -> int:
    try:
        return int(text or "")
    except ValueError:
        raise InvalidField(field, f"expected an integer of minor units, got {text!r}") from None


def _row(
    where: str,
    fixed: dict[str, object],
    nodes: tuple[str, ...],
    shares: Iterable[tuple[str, object]],
    copay: object,
) -> EvidenceRow:
    """Build a row from parsed fields, insisting on the types an auditor relies on (integers
    for money, never floats)."""

    def integer(name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidField(f"{where}.{name}", f"expected an integer, got {value!r}")
        return value

    def text(name: str) -> str:
        value = fixed[name]
        if not isinstance(value, str):
            raise InvalidField(f"{where}.{name}", f"expected text, got {value!r}")
        return value

    domestic = fixed["domestic"]
    if not isinstance(domestic, bool):
        raise InvalidField(f"{where}.domestic", f"expected true or false, got {domestic!r}")
    return EvidenceRow(
        posting=integer("posting", fixed["posting"]),
        settled_at=integer("settled_at", fixed["settled_at"]),
        job=text("job"),
        attempt=integer("attempt", fixed["attempt"]),
        tenant=text("tenant"),
        supplier=text("supplier"),
        nodes=nodes,
        model=text("model"),
        domestic=domestic,
        accelerator_seconds=integer("accelerator_seconds", fixed["accelerator_seconds"]),
        currency=parse_enum(Currency, fixed["currency"], f"{where}.currency"),
        price=integer("price", fixed["price"]),
        cost=integer("cost", fixed["cost"]),
        shares=tuple(
            sorted((pid, integer(f"shares.{pid}", amount)) for pid, amount in shares if amount)
        ),
        copay=integer("copay", copay),
    )
