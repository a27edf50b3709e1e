"""Soak: steady concurrent load for minutes; memory and tail latency must not drift.

    python benchmarks/soak.py [--minutes 10] [--concurrency 64] [--watches 1000]
                              [--put-ratio 0.2] [--mode async|threads] [--endpoint URL]

One etcd member (an embedded one unless ``--endpoint`` is given). This process runs
``--concurrency`` workers sharing one client (asyncio tasks on an ``AsyncClient``, or threads on
a blocking ``Client`` with ``--mode threads``), each looping over get/put on 1,000 keys
``soak/k/000``..``999`` (100-byte values). Beside it a second process holds ``--watches``
watches on one blocking client, one per key, so every put is delivered to exactly one watch.

After ``--warmup`` seconds (default 10) of load, every interval (``--interval``, default
60 s) it prints ops/s, latency p50/p99, this process's
resident memory, and the watch events received (and the watcher's memory). At the end it
compares the last interval with the first: PASS when resident memory and p99 latency are each
no more than 10% above the first interval's (both processes' memory are compared).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

KEYS = 1000
VALUE_SIZE = 100
TOLERANCE = 0.10

WATCHER = r"""
import sys, threading, time
from etcdwire import Client
endpoint, count = sys.argv[1], int(sys.argv[2])
received = 0
lock = threading.Lock()
def on_response(response):
    global received
    with lock:
        received += len(response.events)
def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
with Client(endpoint, timeout=30) as client:
    watches = [client.watch(f"soak/k/{i:03d}", callback=on_response) for i in range(count)]
    for watch in watches:
        watch.start(timeout=60)
    print("ready", flush=True)
    while True:
        time.sleep(1)
        print(f"{received} {rss()}", flush=True)
"""


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Interval:
    """What one interval measured."""

    index: int
    seconds: float
    ops: int
    errors: int
    p50_ms: float
    p99_ms: float
    rss_mib: float
    watch_events: int
    watcher_rss_mib: float

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.index:>4} {self.rate:>9.0f} {self.p50_ms:>8.2f} {self.p99_ms:>8.2f} "
            f"{self.rss_mib:>8.1f} {self.watch_events / self.seconds:>10.0f} "
            f"{self.watcher_rss_mib:>10.1f} {self.errors:>6}"
        )


HEADER = (
    f"{'min':>4} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8} {'watch ev/s':>10} "
    f"{'wRSS MiB':>10} {'errors':>6}"
)


class Histogram:
    """Latency counts in buckets 1% wide (from 1 us): constant memory however long the run,
    so the benchmark's own bookkeeping does not show up in the memory it measures."""

    STEP = math.log(1.01)
    BUCKETS = 2400  # 1 us * 1.01**2400 is about 23 s

    def __init__(self) -> None:
        self.counts = [0] * self.BUCKETS
        self.total = 0

    def add(self, seconds: float) -> None:
        micros = max(seconds * 1e6, 1.0)
        self.counts[min(int(math.log(micros) / self.STEP), self.BUCKETS - 1)] += 1
        self.total += 1

    def percentile(self, fraction: float) -> float:
        """Seconds (the upper edge of the bucket holding that rank); NaN when empty."""
        if not self.total:
            return float("nan")
        rank = fraction * self.total
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return math.exp((index + 1) * self.STEP) / 1e6
        return math.exp(self.BUCKETS * self.STEP) / 1e6


@dataclass
class Samples:
    """The current interval's latencies (recorded by workers, swapped out by the reporter)."""

    latencies: Histogram = field(default_factory=Histogram)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[Histogram, int]:
        with self.lock:
            taken, errors = self.latencies, self.errors
            self.latencies, self.errors = Histogram(), 0
        return taken, errors


class Watcher:
    """The 1,000-watch process; its stdout reports cumulative events and its RSS each second."""

    def __init__(self, endpoint: str, count: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WATCHER, endpoint, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"watcher failed to start: {line!r}")
        self.received = 0
        self.rss_kib = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            received, rss = line.split()
            self.received, self.rss_kib = int(received), int(rss)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def request(rng: random.Random, put_ratio: float) -> tuple[str, str | None]:
    key = f"soak/k/{rng.randrange(KEYS):03d}"
    if rng.random() < put_ratio:
        return key, f"{rng.getrandbits(VALUE_SIZE * 4):0{VALUE_SIZE}x}"
    return key, None


async def async_load(
    endpoint: str, concurrency: int, put_ratio: float, samples: Samples, stop: threading.Event
) -> None:
    from etcdwire import AsyncClient, EtcdError

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            key, value = request(rng, put_ratio)
            started = time.perf_counter()
            try:
                if value is None:
                    await client.get(key)
                else:
                    await client.put(key, value)
            except EtcdError:
                samples.errors += 1
                await asyncio.sleep(0.01)
                continue
            samples.latencies.add(time.perf_counter() - started)

    async with AsyncClient(endpoint, timeout=10) as client:
        await asyncio.gather(*(worker(seed) for seed in range(concurrency)))


def thread_load(
    endpoint: str, concurrency: int, put_ratio: float, samples: Samples, stop: threading.Event
) -> None:
    from etcdwire import Client, EtcdError

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            key, value = request(rng, put_ratio)
            started = time.perf_counter()
            try:
                if value is None:
                    client.get(key)
                else:
                    client.put(key, value)
            except EtcdError:
                with samples.lock:
                    samples.errors += 1
                time.sleep(0.01)
                continue
            latency = time.perf_counter() - started
            with samples.lock:
                samples.latencies.add(latency)

    with Client(endpoint, timeout=10) as client:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def run(args: argparse.Namespace, endpoint: str) -> list[Interval]:
    watcher = Watcher(endpoint, args.watches)
    samples = Samples()
    stop = threading.Event()
    load = async_load if args.mode == "async" else thread_load
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            if args.mode == "async":
                asyncio.run(async_load(endpoint, args.concurrency, args.put_ratio, samples, stop))
            else:
                load(endpoint, args.concurrency, args.put_ratio, samples, stop)
        except BaseException as exc:
            failure.append(exc)
            stop.set()

    driver = threading.Thread(target=drive, name="soak-load")
    intervals: list[Interval] = []
    total = int(args.minutes * 60 / args.interval)
    print(
        f"soak: {args.concurrency}-way {args.mode} load, put ratio {args.put_ratio}, "
        f"{args.watches} watches in a second process, {args.warmup:.0f}s warm-up, "
        f"{total} x {args.interval:.0f}s, {endpoint}"
    )
    print(HEADER, flush=True)
    try:
        driver.start()
        stop.wait(args.warmup)
        last_events, last_time = watcher.received, time.monotonic()
        samples.take()
        for index in range(1, total + 1):
            if stop.wait(max(0.0, last_time + args.interval - time.monotonic())):
                break
            now = time.monotonic()
            latencies, errors = samples.take()
            events = watcher.received
            interval = Interval(
                index=index,
                seconds=now - last_time,
                ops=latencies.total,
                errors=errors,
                p50_ms=latencies.percentile(0.50) * 1000,
                p99_ms=latencies.percentile(0.99) * 1000,
                rss_mib=rss_kib() / 1024,
                watch_events=events - last_events,
                watcher_rss_mib=watcher.rss_kib / 1024,
            )
            intervals.append(interval)
            print(interval.line(), flush=True)
            last_events, last_time = events, now
    finally:
        stop.set()
        driver.join(30)
        watcher.close()
    if failure:
        raise RuntimeError("the load failed") from failure[0]
    return intervals


def verdict(intervals: list[Interval]) -> bool:
    if len(intervals) < 2:
        print("FAIL: fewer than two intervals measured")
        return False
    first, last = intervals[0], intervals[-1]
    checks = [
        ("memory (this process)", first.rss_mib, last.rss_mib, "MiB"),
        ("memory (watcher)", first.watcher_rss_mib, last.watcher_rss_mib, "MiB"),
        ("latency p99", first.p99_ms, last.p99_ms, "ms"),
    ]
    passed = True
    for name, before, after, unit in checks:
        ok = after <= before * (1 + TOLERANCE)
        passed &= ok
        change = (after / before - 1) * 100 if before else float("inf")
        print(
            f"{'PASS' if ok else 'FAIL'}: {name}: first {before:.2f} {unit}, "
            f"last {after:.2f} {unit} ({change:+.1f}%, limit +{TOLERANCE * 100:.0f}%)"
        )
    rates = [i.rate for i in intervals]
    print(
        f"ops/s: first {rates[0]:.0f}, last {rates[-1]:.0f}, median {statistics.median(rates):.0f}"
        f"; errors {sum(i.errors for i in intervals)}"
        f"; watch events {sum(i.watch_events for i in intervals)}"
    )
    print("PASS" if passed else "FAIL")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds per row")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="seconds of load before the first interval"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--watches", type=int, default=1000)
    parser.add_argument("--put-ratio", type=float, default=0.2)
    parser.add_argument("--mode", choices=["async", "threads"], default="async")
    parser.add_argument("--endpoint", help="an etcd to use instead of an embedded member")
    parser.add_argument("--fsync", action="store_true", help="embedded member fsyncs its WAL")
    parser.add_argument(
        "--no-compaction", action="store_true", help="embedded member without auto-compaction"
    )
    args = parser.parse_args(argv)
    if args.watches > KEYS:
        parser.error(f"at most {KEYS} watches (one per key)")
    if args.endpoint:
        return 0 if verdict(run(args, args.endpoint)) else 1
    from etcdwire.tools.embedded import EmbeddedEtcd

    # Auto-compaction as production members run with: without it every put adds a revision
    # for good, the store's history grows by thousands of revisions a second, and etcd itself
    # slows down over the run (the client's memory stays flat while its p99 climbs).
    compaction = ["--auto-compaction-mode=periodic", "--auto-compaction-retention=1m"]
    with EmbeddedEtcd(
        "soak", unsafe_no_fsync=not args.fsync, extra_args=[] if args.no_compaction else compaction
    ) as etcd:
        print(f"etcd {etcd.version} pid {etcd.pid}; load pid {os.getpid()}")
        result: Any = run(args, etcd.endpoint)
    return 0 if verdict(result) else 1


if __name__ == "__main__":
    sys.exit(main())
