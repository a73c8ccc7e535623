"""PNG plots of one or more replays of the same trace (`gbasched sim --plot-dir`, `gbasched sim
compare --plot-dir`), one line (or bar) per policy, drawn from `scheduler.sim.report.Curves`.

matplotlib is imported here, inside `write_plots`, and only there: the replay and the figures
never need it. Drawing uses the Agg canvas directly (no pyplot, no global state), so it works
without a display and leaves nothing behind between calls.

Files written (`PLOT_FILES`, plus `SUBSIDY_FILE` when some replay had programs):

- `jct_cdf.png`: the distribution of job completion times (completed jobs), log scale;
- `queue_cdf.png`: the distribution of queueing delays (first start − arrival), symlog scale
  (linear below 1 s, so the jobs that never waited show at 0); the y axis starts at the tenth
  below the smallest share of jobs that never waited, to show the waiting ones;
- `utilisation.png`: allocated accelerators ÷ the pool's, and jobs waiting, over time; both
  time-weighted means over `BINS` equal slices of the replay (from the tally's samples, taken at
  every change);
- `tenant_share.png`: the `top_tenants` tenants that received the most accelerator-seconds
  (over all the replays), each one's share of all accelerator-seconds received beside its share
  of the weights of the trace's tenants;
- `subsidy.png`: what the programs paid, cumulative over time, per currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from scheduler.sim.report import Curves
from scheduler.sim.tally import Sample

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PLOT_FILES = ("jct_cdf.png", "queue_cdf.png", "utilisation.png", "tenant_share.png")
SUBSIDY_FILE = "subsidy.png"
BINS = 200
DEFAULT_TOP_TENANTS = 10
DEFAULT_DPI = 80
HOUR = 3600


def write_plots(
    replays: Sequence[Curves],
    directory: Path,
    title: str,
    *,
    top_tenants: int = DEFAULT_TOP_TENANTS,
    dpi: int = DEFAULT_DPI,
) -> list[Path]:
    """Draw every plot of `replays` (one line per policy) into `directory` (made if missing);
    return the files written. `title` names the trace (and pool) above every plot."""
    from matplotlib.figure import Figure

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        fig.tight_layout()
        path = directory / name
        fig.savefig(path, dpi=dpi, format="png", metadata={"Software": None})
        written.append(path)

    save(_cdf(Figure(figsize=(8, 5)), replays, title, queue=False), "jct_cdf.png")
    save(_cdf(Figure(figsize=(8, 5)), replays, title, queue=True), "queue_cdf.png")
    save(_utilisation(Figure(figsize=(9, 6)), replays, title), "utilisation.png")
    save(_tenant_share(Figure(figsize=(9, 6)), replays, title, top_tenants), "tenant_share.png")
    if any(r.subsidy for r in replays):
        save(_subsidy(Figure(figsize=(8, 5)), replays, title), SUBSIDY_FILE)
    return written


def _cdf(fig: Figure, replays: Sequence[Curves], title: str, *, queue: bool) -> Figure:
    ax = fig.add_subplot()
    never_waited: list[float] = []  # queueing: the y axis starts below the smallest share
    for r in replays:
        values = sorted(r.queue_s if queue else r.jct_s)
        if not values:
            continue
        n = len(values)
        ax.step(values, [(i + 1) / n for i in range(n)], where="post", label=r.policy)
        never_waited.append(sum(1 for v in values if v == 0) / n)
    if queue:
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("queueing delay: first start − arrival (s, symlog: linear below 1 s)")
        ax.set_title(f"{title}\nqueueing delay, CDF over jobs that started")
        bottom = min(never_waited, default=0.0)
        ax.set_ylim(max(0.0, int(bottom * 10 - 0.5) / 10), 1.005)
    else:
        ax.set_xscale("log")
        ax.set_xlabel("job completion time: end − arrival (s, log scale)")
        ax.set_title(f"{title}\njob completion time, CDF over completed jobs")
    ax.set_ylabel("fraction of jobs")
    if not queue:
        ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    _legend(ax)
    return fig


def binned(
    samples: Sequence[Sample], span_s: int, bins: int = BINS
) -> list[tuple[float, float, float]]:
    """(slice middle in hours, time-weighted mean accelerators held, mean jobs waiting) over
    `bins` equal slices of [0, span_s]; the state holds from one sample until the next."""
    if span_s <= 0 or not samples:
        return []
    width = span_s / bins
    edges = [span_s * b / bins for b in range(bins + 1)]
    held = [0.0] * bins
    waiting = [0.0] * bins
    b = 0
    for k, sample in enumerate(samples):
        start: float = max(0, sample.at)
        end: float = min(samples[k + 1].at if k + 1 < len(samples) else span_s, span_s)
        while start < end:
            while b < bins - 1 and edges[b + 1] <= start:
                b += 1
            stop = end if b == bins - 1 else min(end, edges[b + 1])
            held[b] += sample.held * (stop - start)
            waiting[b] += sample.waiting * (stop - start)
            start = stop
    return [((b + 0.5) * width / HOUR, held[b] / width, waiting[b] / width) for b in range(bins)]


def _utilisation(fig: Figure, replays: Sequence[Curves], title: str) -> Figure:
    top, bottom = fig.subplots(2, 1, sharex=True)
    for r in replays:
        points = binned(r.samples, r.span_s)
        if not points:
            continue
        hours = [p[0] for p in points]
        top.plot(hours, [p[1] / r.capacity for p in points], label=r.policy, linewidth=1)
        bottom.plot(hours, [p[2] for p in points], label=r.policy, linewidth=1)
    top.set_title(f"{title}\nallocated accelerators ÷ pool (mean over {BINS} slices of the replay)")
    top.set_ylabel("utilisation")
    top.set_ylim(0, 1.05)
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("jobs waiting")
    bottom.set_xlabel("hours since the first arrival")
    bottom.grid(True, alpha=0.3)
    _legend(top)
    return fig


def _tenant_share(fig: Figure, replays: Sequence[Curves], title: str, top: int) -> Figure:
    ax = fig.add_subplot()
    total: dict[str, int] = {}
    weights: dict[str, int] = {}
    for r in replays:
        for tenant, weight, served in r.tenants:
            total[tenant] = total.get(tenant, 0) + served
            weights[tenant] = weight
    chosen = sorted(total, key=lambda t: (-total[t], t))[:top]
    weight_sum = sum(weights.values()) or 1
    height = 0.8 / max(1, len(replays))
    for k, r in enumerate(replays):
        got = {tenant: s for tenant, _, s in r.tenants}
        received = sum(got.values()) or 1
        ys = [i + k * height for i in range(len(chosen))]
        ax.barh(ys, [got.get(t, 0) / received for t in chosen], height=height, label=r.policy)
    middle = [i + (len(replays) - 1) * height / 2 for i in range(len(chosen))]
    ax.scatter(
        [weights[t] / weight_sum for t in chosen],
        middle,
        marker="|",
        s=400,
        color="black",
        label="weight share",
        zorder=3,
    )
    ax.set_yticks(middle, chosen)
    ax.invert_yaxis()
    ax.set_xlabel("share of all accelerator-seconds received (bars) and of the weights (|)")
    if len(chosen) < len(total):
        which = f"the {len(chosen)} tenants that received the most, of {len(total)}"
    else:
        which = "every tenant" if len(total) > 1 else "the only tenant"
    ax.set_title(f"{title}\n{which}: share of accelerator-seconds received and of weights")
    ax.grid(True, axis="x", alpha=0.3)
    _legend(ax)
    return fig


def _subsidy(fig: Figure, replays: Sequence[Curves], title: str) -> Figure:
    ax = fig.add_subplot()
    for r in replays:
        for currency, points in r.subsidy.items():
            hours = [0.0] + [at / HOUR for at, _ in points]
            paid = [0] + [amount for _, amount in points]
            ax.step(hours, paid, where="post", label=f"{r.policy} ({currency})")
    ax.set_title(f"{title}\nsubsidy paid by the programs, cumulative (settled attempts)")
    ax.set_xlabel("hours since the first arrival")
    ax.set_ylabel("paid (minor units: fen, cents)")
    ax.grid(True, alpha=0.3)
    _legend(ax)
    return fig


def _legend(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
