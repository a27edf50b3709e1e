"""Statistics and reports of ``etcdwire bench``: pure code, no I/O, no clocks.

A run is a list of :class:`Result` records, one per request: when it started (seconds since the
phase began), how long it took, and the type of error if it failed. :func:`summarize` turns them
into a :class:`Summary` with the figures etcd's ``benchmark`` tool prints (total, slowest,
fastest, average, stddev, requests/sec), a ten-bucket latency histogram, percentiles from 10 %
to 99.9 % and the errors counted by type; :func:`format_summary` prints it in that tool's layout
and :func:`summary_json` / :func:`write_csv` give the machine-readable forms.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

__all__ = [
    "PERCENTILES",
    "Result",
    "Summary",
    "format_summary",
    "histogram",
    "percentiles",
    "summarize",
    "summary_json",
    "write_csv",
]

PERCENTILES: tuple[float, ...] = (10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9)
HISTOGRAM_BUCKETS = 10
BAR_WIDTH = 40
BAR_CHAR = "∎"


class Result(NamedTuple):
    """One request: ``start`` in seconds since the phase began, ``latency`` in seconds, and
    ``error`` the exception's class name (None when it succeeded)."""

    start: float
    latency: float
    error: str | None = None
    message: str = ""


@dataclass(frozen=True)
class Summary:
    """Figures of one phase. Latencies are seconds; ``latencies`` are the successful
    requests' in ascending order."""

    total: float
    count: int
    ok: int
    fastest: float
    slowest: float
    average: float
    stddev: float
    rps: float
    latencies: tuple[float, ...]
    histogram: tuple[tuple[float, int], ...]
    percentiles: tuple[tuple[float, float], ...]
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: dict[str, str] = field(default_factory=dict)


def percentiles(
    sorted_latencies: Sequence[float], points: Sequence[float] = PERCENTILES
) -> list[tuple[float, float]]:
    """``(p, value)`` for each percentile point, by rank ``ceil(p * (n + 1) / 100)`` (the
    nearest-rank flavour etcd's report uses), clamped to the first and last sample."""
    n = len(sorted_latencies)
    if n == 0:
        return []
    found: list[tuple[float, float]] = []
    for point in points:
        rank = math.ceil(point * (n + 1) / 100.0) - 1
        found.append((point, sorted_latencies[min(max(rank, 0), n - 1)]))
    return found


def histogram(
    sorted_latencies: Sequence[float], buckets: int = HISTOGRAM_BUCKETS
) -> list[tuple[float, int]]:
    """``buckets + 1`` marks from the fastest to the slowest sample, evenly spaced, each with
    the number of samples above the previous mark and at most this one (the first mark holds
    the samples equal to the fastest)."""
    if not sorted_latencies:
        return []
    fastest, slowest = sorted_latencies[0], sorted_latencies[-1]
    step = (slowest - fastest) / buckets
    marks = [fastest + step * index for index in range(buckets)] + [slowest]
    counts = [0] * len(marks)
    bucket = 0
    for value in sorted_latencies:
        while value > marks[bucket] and bucket < len(marks) - 1:
            bucket += 1
        counts[bucket] += 1
    return list(zip(marks, counts, strict=True))


def summarize(results: Iterable[Result], total: float) -> Summary:
    """The summary of one phase that took ``total`` seconds of wall time."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for result in results:
        if result.error is None:
            latencies.append(result.latency)
        else:
            errors[result.error] += 1
            samples.setdefault(result.error, result.message)
    latencies.sort()
    ok = len(latencies)
    average = sum(latencies) / ok if ok else 0.0
    variance = sum((value - average) ** 2 for value in latencies) / ok if ok else 0.0
    return Summary(
        total=total,
        count=ok + sum(errors.values()),
        ok=ok,
        fastest=latencies[0] if ok else 0.0,
        slowest=latencies[-1] if ok else 0.0,
        average=average,
        stddev=math.sqrt(variance),
        rps=ok / total if total > 0 else 0.0,
        latencies=tuple(latencies),
        histogram=tuple(histogram(latencies)),
        percentiles=tuple(percentiles(latencies)),
        errors=dict(errors),
        error_samples=samples,
    )


def _secs(value: float) -> str:
    return f"{value:.4f} secs"


def _percent(point: float) -> str:
    return f"{point:g}%"


def format_summary(summary: Summary) -> str:
    """The report in etcd's benchmark layout: Summary, Response time histogram, Latency
    distribution, then Error distribution when any request failed."""
    lines: list[str] = []
    if summary.ok:
        lines += [
            "",
            "Summary:",
            f"  Total:\t{_secs(summary.total)}.",
            f"  Slowest:\t{_secs(summary.slowest)}.",
            f"  Fastest:\t{_secs(summary.fastest)}.",
            f"  Average:\t{_secs(summary.average)}.",
            f"  Stddev:\t{_secs(summary.stddev)}.",
            f"  Requests/sec:\t{summary.rps:.4f}",
            "",
            "Response time histogram:",
        ]
        most = max(count for _, count in summary.histogram)
        for mark, count in summary.histogram:
            bar = BAR_CHAR * (count * BAR_WIDTH // most if most else 0)
            lines.append(f"  {mark:.4f} [{count}]\t|{bar}")
        lines += ["", "Latency distribution:"]
        for point, value in summary.percentiles:
            lines.append(f"  {_percent(point)} in {_secs(value)}.")
    if summary.errors:
        lines += ["", "Error distribution:"]
        for name, count in sorted(summary.errors.items(), key=lambda item: -item[1]):
            sample = summary.error_samples.get(name, "")
            lines.append(f"  [{count}]\t{name}" + (f": {sample}" if sample else ""))
    return "\n".join(lines) + "\n"


def summary_json(summary: Summary) -> dict[str, Any]:
    """The summary as plain JSON values (seconds as floats; no per-request records)."""
    return {
        "total": summary.total,
        "requests": summary.count,
        "succeeded": summary.ok,
        "failed": summary.count - summary.ok,
        "slowest": summary.slowest,
        "fastest": summary.fastest,
        "average": summary.average,
        "stddev": summary.stddev,
        "requests_per_sec": summary.rps,
        "histogram": [{"le": mark, "count": count} for mark, count in summary.histogram],
        "percentiles": {_percent(point): value for point, value in summary.percentiles},
        "errors": dict(summary.errors),
    }


CSV_FIELDS = ("phase", "index", "start", "latency", "error")


def write_csv(stream: IO[str], phases: Sequence[tuple[str, Sequence[Result]]]) -> None:
    """One row per request: phase name, index in the phase, start and latency in seconds,
    and the error class name (empty when it succeeded)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for name, results in phases:
        for index, result in enumerate(results):
            writer.writerow(
                (name, index, f"{result.start:.6f}", f"{result.latency:.6f}", result.error or "")
            )
