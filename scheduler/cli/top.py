"""`gbasched top`: a live view of a running coordinator from its Prometheus metrics endpoint.

Reads `--metrics` (what `gbasched serve --metrics-port` serves, see docs/metrics.md) every
`--interval` seconds and shows throughput (per second, from the counters' growth between two
scrapes; a counter that fell means the coordinator restarted, and its new value is the growth),
the queue, the jobs running, utilisation overall, by owner class and by city, capacity against
the 60 EFLOPS target, admission waits, cycles and what the subsidy programs have left. Ctrl-C
stops it. An endpoint that does not answer is reported in the view, and tried again.

`--once` prints one snapshot, after two scrapes `--interval` apart, and exits (1 when the
endpoint does not answer). `--once --json` prints one JSON object instead:

  url, interval_s           what was scraped, and the seconds between the two scrapes
  restarted                 true when a counter fell between them (the coordinator restarted)
  missing                   expected metric names the endpoint does not serve
  submitted_per_s, admitted_per_s, started_per_s, finished_per_s
                            jobs per second over the interval (null: metric missing)
  finished_per_s_by_outcome {outcome: jobs per second}
  pending, running          jobs waiting; jobs holding accelerators
  pending_by_tenant         [{tenant, jobs}], the --top N tenants with the most waiting jobs
  pending_by_reason         {reason code: jobs}
  accelerators, allocated   of the pool's nodes not down; of those, held by jobs
  utilisation               allocated / accelerators (0 on an empty pool)
  utilisation_by_owner_class, utilisation_by_city
                            [{name, allocated, accelerators, utilisation}]
  capacity_pflops_fp16, allocated_pflops_fp16
  target, target_pflops_fp16  the capacity target compared against (60 EFLOPS, 2027)
  admission_wait_p50_s, admission_wait_p90_s
                            estimated from the histogram's buckets as Prometheus'
                            histogram_quantile does, over the admissions of the interval
  admission_wait_window     "interval", or "since start" when none were admitted in it
  cycles_per_s, cycle_mean_s  cycles run, and their mean duration, over the interval
  last_tick_timestamp       clock time of the coordinator's last tick (seconds since the epoch)
  coordinator_stopped       true when the coordinator takes no more work
  program_remaining         [{program, currency, remaining, budget}]
"""

from __future__ import annotations

import argparse
import json
import math
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from scheduler.cli.errors import CommandError
from scheduler.cli.text import stdout_console
from scheduler.domain.capacity import GUANGDONG_TARGETS
from scheduler.domain.errors import InvalidField

DEFAULT_URL = "http://127.0.0.1:9464/metrics"
DEFAULT_INTERVAL_S = 2.0
DEFAULT_TOP = 5
FETCH_TIMEOUT_S = 5.0
TARGET = max(GUANGDONG_TARGETS, key=lambda t: t.eflops)  # 60 EFLOPS in 2027
PFLOPS_PER_EFLOPS = 1000

P = "gba_scheduler_"
SUBMITTED = f"{P}jobs_submitted_total"
ADMITTED = f"{P}jobs_admitted_total"
STARTED = f"{P}jobs_started_total"
FINISHED = f"{P}jobs_finished_total"
PENDING = f"{P}jobs_pending"
PENDING_BY_REASON = f"{P}jobs_pending_by_reason"
RUNNING = f"{P}jobs_running"
ADMISSION_WAIT = f"{P}admission_wait_seconds"
CYCLE_DURATION = f"{P}cycle_duration_seconds"
CYCLES = f"{P}cycles_total"
LAST_TICK = f"{P}last_tick_timestamp_seconds"
STOPPED = f"{P}coordinator_stopped"
ACCELERATORS = f"{P}accelerators"
ALLOCATED = f"{P}accelerators_allocated"
CAPACITY_PFLOPS = f"{P}capacity_pflops"
ALLOCATED_PFLOPS = f"{P}allocated_pflops"
TARGET_PFLOPS = f"{P}capacity_target_pflops"
PROGRAM_BUDGET = f"{P}program_budget"
PROGRAM_REMAINING = f"{P}program_remaining"

# The names `top` reads, as samples (a histogram by its buckets); `missing` lists the absent.
EXPECTED = (
    SUBMITTED,
    ADMITTED,
    STARTED,
    FINISHED,
    PENDING,
    PENDING_BY_REASON,
    RUNNING,
    f"{ADMISSION_WAIT}_bucket",
    f"{CYCLE_DURATION}_bucket",
    CYCLES,
    LAST_TICK,
    STOPPED,
    ACCELERATORS,
    ALLOCATED,
    CAPACITY_PFLOPS,
    ALLOCATED_PFLOPS,
    TARGET_PFLOPS,
    PROGRAM_BUDGET,
    PROGRAM_REMAINING,
)

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
Series = dict[Labels, float]


# ---------------------------------------------------------------------- the pure part


@dataclass(frozen=True, slots=True)
class Scrape:
    """One reading of the endpoint: every sample by its name (`_total`, `_bucket`, … included),
    and when it was read (seconds on a monotonic clock)."""

    at: float
    samples: Mapping[str, Series]

    def series(self, name: str) -> Series:
        return dict(self.samples.get(name, {}))

    def has(self, name: str) -> bool:
        return name in self.samples


def parse_scrape(text: str, at: float) -> Scrape:
    """Parse Prometheus text exposition; ValueError when it is not that."""
    samples: dict[str, Series] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples[sample.name][labels] = float(sample.value)
    return Scrape(at, dict(samples))


@dataclass(frozen=True, slots=True)
class Share:
    """Accelerators held of those there are, for one owner class or city."""

    name: str
    allocated: float
    accelerators: float

    @property
    def utilisation(self) -> float:
        return self.allocated / self.accelerators if self.accelerators else 0.0


@dataclass(frozen=True, slots=True)
class Remaining:
    program: str
    currency: str
    remaining: float
    budget: float | None


@dataclass(frozen=True, slots=True)
class TopView:
    """The figures of one refresh, from two scrapes (see the module's docstring for each)."""

    interval_s: float
    restarted: bool
    missing: tuple[str, ...]
    submitted_per_s: float | None
    admitted_per_s: float | None
    started_per_s: float | None
    finished_per_s: float | None
    finished_per_s_by_outcome: tuple[tuple[str, float], ...]
    pending: float | None
    pending_by_tenant: tuple[tuple[str, float], ...]
    pending_by_reason: tuple[tuple[str, float], ...]
    running: float | None
    accelerators: float | None
    allocated: float | None
    utilisation_by_owner_class: tuple[Share, ...]
    utilisation_by_city: tuple[Share, ...]
    capacity_pflops_fp16: float | None
    allocated_pflops_fp16: float | None
    target: str
    target_pflops_fp16: float
    admission_wait_p50_s: float | None
    admission_wait_p90_s: float | None
    admission_wait_window: str
    cycles_per_s: float | None
    cycle_mean_s: float | None
    last_tick_timestamp: float | None
    coordinator_stopped: bool | None
    program_remaining: tuple[Remaining, ...]

    @property
    def utilisation(self) -> float | None:
        if self.accelerators is None or self.allocated is None:
            return None
        return self.allocated / self.accelerators if self.accelerators else 0.0

    def to_json(self) -> dict[str, Any]:
        def shares(items: Iterable[Share]) -> list[dict[str, Any]]:
            return [
                {
                    "name": s.name,
                    "allocated": _count(s.allocated),
                    "accelerators": _count(s.accelerators),
                    "utilisation": s.utilisation,
                }
                for s in items
            ]

        return {
            "interval_s": self.interval_s,
            "restarted": self.restarted,
            "missing": list(self.missing),
            "submitted_per_s": self.submitted_per_s,
            "admitted_per_s": self.admitted_per_s,
            "started_per_s": self.started_per_s,
            "finished_per_s": self.finished_per_s,
            "finished_per_s_by_outcome": dict(self.finished_per_s_by_outcome),
            "pending": _count(self.pending),
            "running": _count(self.running),
            "pending_by_tenant": [
                {"tenant": t, "jobs": _count(n)} for t, n in self.pending_by_tenant
            ],
            "pending_by_reason": {r: _count(n) for r, n in self.pending_by_reason},
            "accelerators": _count(self.accelerators),
            "allocated": _count(self.allocated),
            "utilisation": self.utilisation,
            "utilisation_by_owner_class": shares(self.utilisation_by_owner_class),
            "utilisation_by_city": shares(self.utilisation_by_city),
            "capacity_pflops_fp16": self.capacity_pflops_fp16,
            "allocated_pflops_fp16": self.allocated_pflops_fp16,
            "target": self.target,
            "target_pflops_fp16": self.target_pflops_fp16,
            "admission_wait_p50_s": self.admission_wait_p50_s,
            "admission_wait_p90_s": self.admission_wait_p90_s,
            "admission_wait_window": self.admission_wait_window,
            "cycles_per_s": self.cycles_per_s,
            "cycle_mean_s": self.cycle_mean_s,
            "last_tick_timestamp": self.last_tick_timestamp,
            "coordinator_stopped": self.coordinator_stopped,
            "program_remaining": [
                {
                    "program": r.program,
                    "currency": r.currency,
                    "remaining": r.remaining,
                    "budget": r.budget,
                }
                for r in self.program_remaining
            ],
        }


def build_view(previous: Scrape, current: Scrape, top: int = DEFAULT_TOP) -> TopView:
    """The figures between two scrapes of the same endpoint, `previous` read first."""
    interval = current.at - previous.at
    if interval <= 0:
        raise ValueError("the scrapes must be in order, some time apart")
    restarted = any(
        _fell(previous.series(name), current.series(name))
        for name in (SUBMITTED, ADMITTED, STARTED, FINISHED, CYCLES)
    )

    def rate(name: str) -> float | None:
        if not current.has(name):
            return None
        return sum(_growth(previous.series(name), current.series(name)).values()) / interval

    finished = _growth(previous.series(FINISHED), current.series(FINISHED))
    by_outcome = _sum_by(finished, "outcome")

    pending_by_tenant = _sum_by(current.series(PENDING), "tenant")
    busiest = sorted(
        ((t, n) for t, n in pending_by_tenant.items() if n > 0), key=lambda tn: (-tn[1], tn[0])
    )[:top]
    by_reason = _sum_by(current.series(PENDING_BY_REASON), "reason")

    accelerators = current.series(ACCELERATORS)
    allocated = current.series(ALLOCATED)

    wait_p50, wait_p90, window = _admission_waits(previous, current)
    cycles = _growth(
        previous.series(f"{CYCLE_DURATION}_count"), current.series(f"{CYCLE_DURATION}_count")
    )
    cycle_sums = _growth(
        previous.series(f"{CYCLE_DURATION}_sum"), current.series(f"{CYCLE_DURATION}_sum")
    )
    cycle_count = sum(cycles.values())

    target_name, target_pflops = _target(current.series(TARGET_PFLOPS))
    budgets = {
        (_label(k, "program"), _label(k, "currency")): v
        for k, v in current.series(PROGRAM_BUDGET).items()
    }
    remaining = tuple(
        sorted(
            (
                Remaining(program, currency, v, budgets.get((program, currency)))
                for k, v in current.series(PROGRAM_REMAINING).items()
                for program, currency in [(_label(k, "program"), _label(k, "currency"))]
            ),
            key=lambda r: (r.program, r.currency),
        )
    )
    stopped = current.series(STOPPED)

    return TopView(
        interval_s=interval,
        restarted=restarted,
        missing=tuple(name for name in EXPECTED if not current.has(name)),
        submitted_per_s=rate(SUBMITTED),
        admitted_per_s=rate(ADMITTED),
        started_per_s=rate(STARTED),
        finished_per_s=rate(FINISHED),
        finished_per_s_by_outcome=tuple(
            (outcome, n / interval) for outcome, n in sorted(by_outcome.items())
        ),
        pending=_total(current, PENDING),
        pending_by_tenant=tuple(busiest),
        pending_by_reason=tuple(
            sorted(((r, n) for r, n in by_reason.items() if n > 0), key=lambda rn: (-rn[1], rn[0]))
        ),
        running=_total(current, RUNNING),
        accelerators=_total(current, ACCELERATORS),
        allocated=_total(current, ALLOCATED),
        utilisation_by_owner_class=_shares(accelerators, allocated, "owner_class"),
        utilisation_by_city=_shares(accelerators, allocated, "city"),
        capacity_pflops_fp16=_precision(current.series(CAPACITY_PFLOPS)),
        allocated_pflops_fp16=_precision(current.series(ALLOCATED_PFLOPS)),
        target=target_name,
        target_pflops_fp16=target_pflops,
        admission_wait_p50_s=wait_p50,
        admission_wait_p90_s=wait_p90,
        admission_wait_window=window,
        cycles_per_s=cycle_count / interval if current.has(f"{CYCLE_DURATION}_count") else None,
        cycle_mean_s=sum(cycle_sums.values()) / cycle_count if cycle_count > 0 else None,
        last_tick_timestamp=_total(current, LAST_TICK),
        coordinator_stopped=bool(sum(stopped.values())) if stopped else None,
        program_remaining=remaining,
    )


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile of a histogram given its cumulative bucket counts by upper bound (`le`,
    +Inf included), estimated as Prometheus' histogram_quantile does: linear interpolation
    within the bucket the rank falls in, from 0 for the first bucket; a rank in the +Inf
    bucket gives the highest finite bound. None when the histogram is empty."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    counts = [buckets[b] for b in bounds]
    for i in range(1, len(counts)):  # as Prometheus does, force the counts to be monotonic
        counts[i] = max(counts[i], counts[i - 1])
    total = counts[-1]
    if total <= 0:
        return None
    if len(bounds) < 2:
        return None
    rank = q * total
    i = next(i for i, c in enumerate(counts) if c >= rank)
    if i == len(bounds) - 1:
        return bounds[-2]
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    start = bounds[i - 1] if i > 0 else 0.0
    below = counts[i - 1] if i > 0 else 0.0
    inside = counts[i] - below
    if inside <= 0:
        return bounds[i]
    return start + (bounds[i] - start) * (rank - below) / inside


def _admission_waits(previous: Scrape, current: Scrape) -> tuple[float | None, float | None, str]:
    name = f"{ADMISSION_WAIT}_bucket"
    now = _sum_by(current.series(name), "le")
    before = _sum_by(previous.series(name), "le")
    if not now:
        return None, None, ""
    now_by_le = {float(le): n for le, n in now.items()}
    before_by_le = {float(le): n for le, n in before.items()}
    inf = math.inf
    if now_by_le.get(inf, 0.0) < before_by_le.get(inf, 0.0):  # a restart: all of it is new
        before_by_le = {}
    grown = {le: n - before_by_le.get(le, 0.0) for le, n in now_by_le.items()}
    if grown.get(inf, 0.0) > 0:
        buckets, window = grown, "interval"
    elif now_by_le.get(inf, 0.0) > 0:
        buckets, window = now_by_le, "since start"
    else:
        return None, None, ""
    return histogram_quantile(0.5, buckets), histogram_quantile(0.9, buckets), window


def _growth(before: Series, now: Series) -> Series:
    """How much each counter series grew; one that fell restarted from 0 (its value is its
    growth), one that is new started from 0."""
    grown: Series = {}
    for labels, value in now.items():
        old = before.get(labels, 0.0)
        grown[labels] = value - old if value >= old else value
    return grown


def _fell(before: Series, now: Series) -> bool:
    return any(value < before.get(labels, 0.0) for labels, value in now.items())


def _label(labels: Labels, name: str) -> str:
    return dict(labels).get(name, "")


def _sum_by(series: Series, label: str) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for labels, value in series.items():
        sums[_label(labels, label)] += value
    return dict(sums)


def _total(scrape: Scrape, name: str) -> float | None:
    if not scrape.has(name):
        return None
    return sum(scrape.series(name).values())


def _shares(accelerators: Series, allocated: Series, label: str) -> tuple[Share, ...]:
    there = _sum_by(accelerators, label)
    held = _sum_by(allocated, label)
    return tuple(Share(name, held.get(name, 0.0), there[name]) for name in sorted(there))


def _precision(series: Series, precision: str = "fp16") -> float | None:
    values = [v for k, v in series.items() if _label(k, "precision") == precision]
    return sum(values) if values else None


def _target(series: Series) -> tuple[str, float]:
    """The largest target the endpoint serves; the 2027 one when it serves none."""
    if series:
        labels, value = max(series.items(), key=lambda kv: (kv[1], kv[0]))
        return _label(labels, "target") or "target", value
    return TARGET.name, float(TARGET.eflops * PFLOPS_PER_EFLOPS)


def _count(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.is_integer() else value


# ---------------------------------------------------------------------- fetching


class FetchError(Exception):
    """The endpoint did not answer with Prometheus text."""


def fetch(url: str, timeout_s: float = FETCH_TIMEOUT_S) -> Scrape:
    at = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            text = reply.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise FetchError(f"cannot read metrics from {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"cannot read metrics from {url}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, a URL of no known scheme
        raise FetchError(f"cannot read metrics from {url}: {exc}") from None
    try:
        return parse_scrape(text, at)
    except ValueError as exc:
        raise FetchError(f"{url} did not answer with Prometheus text: {exc}") from None


# ---------------------------------------------------------------------- rendering


def render(
    view: TopView | None, url: str, *, error: str = "", now: float | None = None
) -> RenderableType:
    """The screen of one refresh: a header, then the figures (once there are two scrapes)."""
    wall = time.time() if now is None else now
    header = Text(f"gbasched top  {url}  {datetime.fromtimestamp(wall):%H:%M:%S}", style="bold")
    parts: list[RenderableType] = [header]
    if error:
        parts.append(Text(f"error: {error} (retrying)", style="bold red"))
    if view is None:
        if not error:
            parts.append(Text("reading the endpoint twice ..."))
        return Group(*parts)
    if view.restarted:
        parts.append(Text("the coordinator restarted between the two scrapes", style="yellow"))
    if view.coordinator_stopped:
        parts.append(Text("the coordinator has stopped: it takes no more work", style="bold red"))
    if len(view.missing) == len(EXPECTED):
        parts.append(
            Text(
                f"the endpoint serves none of the {P}* metrics this view reads (an older "
                "coordinator?)",
                style="bold yellow",
            )
        )
    elif view.missing:
        parts.append(
            Text(f"not served ({len(view.missing)}): {', '.join(view.missing)}", style="yellow")
        )
    parts.extend(
        [_throughput(view), _queue(view), _utilisation(view), _capacity(view), _cycles(view, wall)]
    )
    if view.program_remaining:
        parts.append(_programs(view))
    return Group(*parts)


def _figures(title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("Figure", style="bold")
    table.add_column("Value", justify="right")
    return table


def _throughput(view: TopView) -> Table:
    table = _figures(f"Throughput, jobs/s over {view.interval_s:.1f} s")
    table.add_row("Submitted", _rate(view.submitted_per_s))
    table.add_row("Admitted", _rate(view.admitted_per_s))
    table.add_row("Started", _rate(view.started_per_s))
    outcomes = ", ".join(f"{o} {_rate(n)}" for o, n in view.finished_per_s_by_outcome if n)
    finished = _rate(view.finished_per_s)
    table.add_row("Finished", f"{finished} ({outcomes})" if outcomes else finished)
    return table


def _queue(view: TopView) -> Table:
    table = _figures("Queue")
    table.add_row("Pending", _number(view.pending))
    for tenant, jobs in view.pending_by_tenant:
        table.add_row(f"  tenant {tenant}", _number(jobs))
    for reason, jobs in view.pending_by_reason:
        table.add_row(f"  reason {reason}", _number(jobs))
    table.add_row("Running", _number(view.running))
    window = f" ({view.admission_wait_window})" if view.admission_wait_window else ""
    table.add_row(
        f"Admission wait p50 / p90{window}",
        f"{_seconds(view.admission_wait_p50_s)} / {_seconds(view.admission_wait_p90_s)}",
    )
    return table


def _utilisation(view: TopView) -> Table:
    table = Table(title="Utilisation", title_justify="left")
    table.add_column("Of")
    table.add_column("Allocated", justify="right")
    table.add_column("Accelerators", justify="right")
    table.add_column("Utilisation", justify="right")
    table.add_row(
        "pool",
        _number(view.allocated),
        _number(view.accelerators),
        _percent(view.utilisation),
        style="bold",
    )
    for kind, shares in (
        ("owner class", view.utilisation_by_owner_class),
        ("city", view.utilisation_by_city),
    ):
        for share in shares:
            table.add_row(
                f"{kind} {share.name}",
                _number(share.allocated),
                _number(share.accelerators),
                _percent(share.utilisation),
            )
    return table


def _capacity(view: TopView) -> Table:
    table = _figures("Capacity, fp16")
    capacity, allocated = view.capacity_pflops_fp16, view.allocated_pflops_fp16
    table.add_row("Capacity", _pflops(capacity))
    share = f" ({allocated / capacity:.1%})" if allocated is not None and capacity else ""
    table.add_row("Allocated", _pflops(allocated) + share)
    of_target = (
        f" ({capacity / view.target_pflops_fp16:.2%} reached)" if capacity is not None else ""
    )
    table.add_row(f"Target {view.target}", _pflops(view.target_pflops_fp16) + of_target)
    return table


def _cycles(view: TopView, wall: float) -> Table:
    table = _figures("Cycles")
    table.add_row("Cycles/s", _rate(view.cycles_per_s))
    mean = view.cycle_mean_s
    table.add_row("Mean duration", "-" if mean is None else f"{mean * 1000:,.1f} ms")
    tick = view.last_tick_timestamp
    table.add_row("Last tick", "-" if tick is None else f"{max(0.0, wall - tick):,.1f} s ago")
    return table


def _programs(view: TopView) -> Table:
    table = Table(title="Programs", title_justify="left")
    table.add_column("Program")
    table.add_column("Remaining", justify="right")
    table.add_column("Budget", justify="right")
    for r in view.program_remaining:
        budget = "-" if r.budget is None else f"{r.budget:,.2f} {r.currency}"
        table.add_row(r.program, f"{r.remaining:,.2f} {r.currency}", budget)
    return table


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f} s"


def _pflops(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} PFLOPS"


# ---------------------------------------------------------------------- the command


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    top = commands.add_parser(
        "top",
        help="live view of a running server's throughput, queue and utilisation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument(
        "--metrics", default=DEFAULT_URL, metavar="URL", help=f"default: {DEFAULT_URL}"
    )
    top.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds between scrapes (default: {DEFAULT_INTERVAL_S:g})",
    )
    top.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        metavar="N",
        help=f"tenants with the most pending jobs to show (default: {DEFAULT_TOP})",
    )
    top.add_argument("--once", action="store_true", help="print one snapshot and exit")
    top.add_argument("--json", action="store_true", help="with --once: one JSON object")
    top.set_defaults(handler=_top)


def _top(args: argparse.Namespace) -> int:
    interval: float = args.interval
    if not (interval > 0 and math.isfinite(interval)):
        raise InvalidField("--interval", "must be a positive number of seconds")
    if args.top < 1:
        raise InvalidField("--top", "must be at least 1")
    if args.json and not args.once:
        raise InvalidField("--json", "needs --once")
    if args.once:
        return _once(args.metrics, interval, args.top, args.json)
    return _live(args.metrics, interval, args.top)


def _once(url: str, interval: float, top: int, as_json: bool) -> int:
    try:
        first = fetch(url)
        time.sleep(interval)
        view = build_view(first, fetch(url), top)
    except FetchError as exc:
        raise CommandError(str(exc)) from None
    if as_json:
        print(json.dumps({"url": url, **view.to_json()}, indent=2, ensure_ascii=False))
    else:
        stdout_console().print(render(view, url))
    return 0


def _live(url: str, interval: float, top: int) -> int:
    previous: Scrape | None = None
    view: TopView | None = None
    try:
        with Live(render(None, url), auto_refresh=False) as live:
            while True:
                error = ""
                try:
                    current = fetch(url)
                except FetchError as exc:
                    error = str(exc)
                else:
                    if previous is not None:
                        view = build_view(previous, current, top)
                    previous = current
                live.update(render(view, url, error=error), refresh=True)
                time.sleep(interval)
    except KeyboardInterrupt:
        return 0
