"""``etcdwire bench --plot FILE.png``: latency over time and the latency histogram.

Needs matplotlib (the ``bench`` extra); :func:`require_matplotlib` says so in one line before a
run starts rather than after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .bench_run import PhaseResult
from .bench_stats import Summary

__all__ = ["MISSING_MATPLOTLIB", "require_matplotlib", "write_plot"]

MISSING_MATPLOTLIB = (
    "--plot needs matplotlib, which is not installed "
    "(pip install matplotlib, or pip install 'etcdwire[bench]')"
)


def require_matplotlib() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _blocks(values: Sequence[float], window: int, quantile: float) -> list[float]:
    """The ``quantile`` (0..1) of each consecutive block of ``window`` values."""
    found: list[float] = []
    for start in range(0, len(values), window):
        block = sorted(values[start : start + window])
        found.append(block[min(len(block) - 1, int(quantile * len(block)))])
    return found


def write_plot(path: str, title: str, phases: Sequence[tuple[PhaseResult, Summary]]) -> None:
    """Two panels: each request's latency against the time it started (with the median and
    p99 of each 1 % of requests drawn over it), and the histogram of latencies with p50 and
    p99 marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (over_time, spread) = plt.subplots(2, 1, figsize=(10, 8), layout="constrained")
    figure.suptitle(title)
    for phase, summary in phases:
        done = sorted((r.start, r.latency * 1000.0) for r in phase.results if r.error is None)
        if not done:
            continue
        starts = [start for start, _ in done]
        millis = [latency for _, latency in done]
        over_time.scatter(starts, millis, s=2, alpha=0.35, label=f"{phase.name} (each request)")
        window = max(1, len(done) // 100)
        middles = starts[window // 2 :: window]
        for quantile, colour in ((0.5, "black"), (0.99, "tab:red")):
            marks = _blocks(millis, window, quantile)
            over_time.plot(
                middles[: len(marks)],
                marks,
                color=colour,
                linewidth=1.2,
                label=f"{phase.name} p{quantile * 100:g} of every {window}",
            )
        spread.hist(millis, bins=60, alpha=0.7, label=phase.name)
        for point, value in summary.percentiles:
            if point in (50.0, 99.0):
                spread.axvline(value * 1000.0, linestyle="--", linewidth=1)
                spread.annotate(
                    f"p{point:g} {value * 1000.0:.2f} ms",
                    (value * 1000.0, 1),
                    xytext=(4, 10),
                    textcoords="offset points",
                    rotation=90,
                    fontsize=8,
                )
    over_time.set_xlabel("time since start (s)")
    over_time.set_ylabel("latency (ms)")
    over_time.set_yscale("log")
    over_time.grid(True, which="both", alpha=0.3)
    over_time.legend(loc="upper right", fontsize=8, markerscale=4)
    spread.set_xlabel("latency (ms)")
    spread.set_ylabel("requests")
    spread.set_yscale("log")
    spread.grid(True, alpha=0.3)
    spread.legend(loc="upper right", fontsize=8)
    figure.savefig(path, dpi=110)
    plt.close(figure)
