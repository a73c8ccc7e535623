"""Rich tables for a CapacityReport (`gbasched pool show`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

from scheduler.domain.accelerators import Precision
from scheduler.domain.capacity import GUANGDONG_TARGETS, Breakdown, CapacityReport


def render_capacity(report: CapacityReport, console: Console) -> None:
    console.print(_totals(report))
    console.print(
        _breakdown(
            "By accelerator model",
            ("Model",),
            (((model,), b) for model, b in report.by_model.items()),
            report,
        )
    )
    console.print(
        _breakdown(
            "By city",
            ("City", "Zone"),
            (((c.value, c.jurisdiction.value), b) for c, b in report.by_city.items()),
            report,
        )
    )
    console.print(
        _breakdown(
            "By owner class",
            ("Owner class",),
            (((k.value,), b) for k, b in report.by_owner_class.items()),
            report,
        )
    )
    console.print(
        _breakdown(
            "By jurisdiction",
            ("Jurisdiction",),
            (((k.value,), b) for k, b in report.by_jurisdiction.items()),
            report,
        )
    )


def _totals(report: CapacityReport) -> Table:
    table = Table(title=f"Pool {report.pool}: capacity", show_header=False, title_justify="left")
    table.add_column("Figure", style="bold")
    table.add_column("Value")
    fp16 = report.tflops[Precision.FP16]
    table.add_row("Nodes", f"{report.nodes:,} ({report.schedulable_nodes:,} up)")
    table.add_row(
        "Accelerators",
        f"{report.accelerators:,} ({report.schedulable_accelerators:,} schedulable)",
    )
    table.add_row("FP16 dense", f"{_peta(fp16)} PFLOPS ({fp16 / 1e6:,.3f} EFLOPS)")
    for precision, unit in ((Precision.FP32, "PFLOPS"), (Precision.INT8, "POPS")):
        table.add_row(
            precision.value.upper(),
            f"{_peta(report.tflops[precision])} {unit} "
            f"(over {report.counted_accelerators[precision]:,} accelerators that publish it)",
        )
    table.add_row(
        "Domestic share",
        f"{_pct(report.domestic_accelerators, report.accelerators)} of accelerators, "
        f"{_pct(report.domestic_tflops_fp16, fp16)} of FP16 PFLOPS",
    )
    for target in GUANGDONG_TARGETS:
        table.add_row(
            f"vs {target.eflops} EFLOPS ({target.year})", f"{_pct(fp16, target.tflops, 2)}"
        )
    return table


def _breakdown(
    title: str,
    headers: Sequence[str],
    rows: Iterable[tuple[Sequence[str], Breakdown]],
    report: CapacityReport,
) -> Table:
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header, no_wrap=True)
    for header in ("Nodes", "Accel.", "PFLOPS fp16", "% PFLOPS", "Domestic"):
        table.add_column(header, justify="right")
    for labels, b in rows:
        table.add_row(
            *labels,
            f"{b.nodes:,}",
            f"{b.accelerators:,}",
            _peta(b.tflops_fp16),
            _pct(b.tflops_fp16, report.tflops_fp16),
            _pct(b.domestic_accelerators, b.accelerators),
        )
    return table


def _peta(tera: int) -> str:
    return f"{tera / 1000:,.1f}"


def _pct(part: int, whole: int, digits: int = 1) -> str:
    return f"{part / whole:.{digits}%}" if whole else "–"
