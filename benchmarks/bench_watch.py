"""Watch event delivery rate and memory per idle watch, etcdwire beside the grpcio clients.

    python benchmarks/bench_watch.py [--events 20000] [--watches 10000] [--runs 15]
                                     [--writers 8] [--endpoint URL]

Each client runs in its own subprocess against the same etcd:

- delivery: the client watches a fresh prefix; a writer process (etcdwire, txns of 100 puts,
  ``--writers`` of them in flight, so that etcd rather than one writer's round trips sets the
  pace) writes ``--events`` keys as fast as it can; the figure is events per second from the
  writer's start until the last event reaches the watcher;
- catch-up: the client watches, from its first revision, a prefix that already holds
  ``--events`` keys (written once before the clients run), so the server sends as fast as it
  can and the figure is the watcher's own rate: events per second from the watch request
  until the last event arrives. etcd sends a catch-up from a loop that wakes every 100 ms, so
  each run waits a random 0-100 ms for that tick first: every client does ``--runs`` runs,
  and the best (the client's own speed) and the median are shown;
- idle watches: the client creates ``--watches`` watches on distinct keys; the figure is the
  growth of the process's resident memory divided by the number of watches.

Clients: etcdwire (asyncio and blocking), etcd-sdk-python (``pyetcd``), aetcd.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

CLIENTS = ["etcdwire-async", "etcdwire-sync", "etcd-sdk-python", "aetcd"]
#: Txns the writer keeps in flight (``--writers``).
WRITERS = [8]

WRITER = """
import asyncio, sys, time
from etcdwire import AsyncClient, Op
endpoint, prefix, total, width = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
batches = [
    [Op.put(f"{prefix}{i:06d}", "v" * 32) for i in range(start, min(start + 100, total))]
    for start in range(0, total, 100)
]
async def main():
    async with AsyncClient(endpoint) as client:
        await client.get("warm-up")
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        t0 = time.perf_counter()
        async def write(mine):
            for ops in mine:
                await client.txn([], ops)
        await asyncio.gather(*(write(batches[k::width]) for k in range(width)))
        print(time.perf_counter() - t0, flush=True)
asyncio.run(main())
"""


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Writer:
    """The writer process, started and connected ahead of time so the clock does not count
    its start-up; ``go()`` starts the writes."""

    def __init__(self, endpoint: str, prefix: str, total: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, endpoint, prefix, str(total), str(WRITERS[0])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def wait(self) -> float:
        """Wait for the writer to finish; the seconds its writes took."""
        assert self.proc.stdout is not None
        seconds = float(self.proc.stdout.readline())
        self.proc.wait()
        return seconds


def idle_worker(name: str, endpoint: str, watches: int) -> dict[str, float]:
    """In a fresh process: resident memory added by ``watches`` idle watches, per watch."""
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    prefix = f"bi-{uuid.uuid4().hex[:8]}/"
    if name == "etcdwire-async":
        from etcdwire import AsyncClient

        async def run() -> float:
            async with AsyncClient(endpoint) as client:
                await client.watch(prefix + "warm").start()
                base = rss()
                idle = [client.watch(f"{prefix}{i}") for i in range(watches)]
                for watch in idle:
                    await watch.start()
                return (rss() - base) / watches

        return {"bytes_per_watch": asyncio.run(run())}
    if name == "etcdwire-sync":
        from etcdwire import Client

        with Client(endpoint) as client:
            client.watch(prefix + "warm").start()
            base = rss()
            idle = [client.watch(f"{prefix}{i}") for i in range(watches)]
            for watch in idle:
                watch.start()
            return {"bytes_per_watch": (rss() - base) / watches}
    if name == "etcd-sdk-python":
        import pyetcd

        client = pyetcd.client(host=host, port=int(port))
        client.add_watch_callback(prefix + "warm", lambda r: None)
        base = rss()
        ids = [client.add_watch_callback(f"{prefix}{i}", lambda r: None) for i in range(watches)]
        figure = (rss() - base) / watches
        del ids
        return {"bytes_per_watch": figure}
    if name == "aetcd":
        import aetcd

        async def run_aetcd() -> float:
            async with aetcd.Client(host=host, port=int(port)) as client:
                await client.watch((prefix + "warm").encode())
                base = rss()
                idle = [await client.watch(f"{prefix}{i}".encode()) for i in range(watches)]
                figure = (rss() - base) / watches
                del idle
                return figure

        return {"bytes_per_watch": asyncio.run(run_aetcd())}
    raise SystemExit(f"unknown client {name}")


def floor_worker(
    endpoint: str, events: int, catchup: str, catchup_rev: int, runs: int
) -> dict[str, Any]:
    """The server's side of catch-up: one raw Watch stream on etcdwire's generic gRPC channel
    that only parses each message (no per-event work, no demultiplexing). No client that
    looks at its events can be faster; it bounds every client's catch-up figure."""
    from etcdwire._async.channel import AsyncChannel
    from etcdwire._backends.base import parse_address
    from etcdwire._etcd import methods
    from etcdwire._etcd.ops import prefix_range_end
    from etcdwire._pb import rpc_pb2

    async def once() -> float:
        key = catchup.encode()
        create = rpc_pb2.WatchCreateRequest(
            key=key, range_end=prefix_range_end(key), start_revision=catchup_rev
        )
        async with AsyncChannel(parse_address(endpoint)) as channel:
            await channel.unary_unary(methods.KV_RANGE, rpc_pb2.RangeRequest(key=b"warm-up"))
            call = channel.stream_stream(methods.WATCH_WATCH)
            t0 = time.perf_counter()
            await call.send_message(rpc_pb2.WatchRequest(create_request=create))
            seen = 0
            while seen < events:
                message = await call.receive()
                assert message is not None
                seen += len(message.events)
            return events / (time.perf_counter() - t0)

    rates = []
    for _ in range(runs):
        off_tick()
        rates.append(asyncio.run(once()))
    return catchup_figures(rates)


def off_tick() -> None:
    """Sleep a random part of etcd's 100 ms watch sync period before a catch-up run, so runs
    do not lock onto one phase of that tick (back-to-back runs otherwise all wait alike)."""
    time.sleep(random.uniform(0, 0.1))


def catchup_figures(rates: list[float]) -> dict[str, Any]:
    """The best and the median of the catch-up runs. etcd sends a catch-up from a loop that
    wakes every 100 ms, so one run's figure includes a random 0-100 ms wait for that tick;
    the best of several runs is the client's own speed, the median shows the spread."""
    return {"catchup_s": max(rates), "catchup_median": statistics.median(rates)}


def worker(
    name: str, endpoint: str, events: int, catchup: str, catchup_rev: int, runs: int
) -> dict[str, Any]:
    if name == "server-floor":
        return floor_worker(endpoint, events, catchup, catchup_rev, runs)
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    prefix = f"bw-{uuid.uuid4().hex[:8]}/"
    result: dict[str, Any] = {}
    rates: list[float] = []
    if name == "etcdwire-async":
        from etcdwire import AsyncClient

        async def run() -> None:
            async with AsyncClient(endpoint) as client:
                async with client.watch(prefix, prefix=True) as watch:
                    writer = Writer(endpoint, prefix, events)
                    t0 = time.perf_counter()
                    writer.go()
                    seen = 0
                    while seen < events:
                        response = await watch.receive()
                        assert response is not None
                        for event in response.events:
                            last = event.kv.mod_revision
                        seen += len(response.events)
                    result["events_s"] = events / (time.perf_counter() - t0)
                    assert last > 0  # every event was read, not just counted
                    writer.wait()
                for _ in range(runs):
                    off_tick()
                    t0 = time.perf_counter()
                    async with client.watch(catchup, prefix=True, start_revision=catchup_rev) as w:
                        seen = 0
                        while seen < events:
                            response = await w.receive()
                            assert response is not None
                            for event in response.events:
                                last = event.kv.mod_revision
                            seen += len(response.events)
                    rates.append(events / (time.perf_counter() - t0))
                    assert last > 0  # every event was read, not just counted

        asyncio.run(run())
    elif name == "etcdwire-sync":
        from etcdwire import Client

        with Client(endpoint) as client:
            with client.watch(prefix, prefix=True) as watch:
                writer = Writer(endpoint, prefix, events)
                t0 = time.perf_counter()
                writer.go()
                seen = 0
                while seen < events:
                    response = watch.receive()
                    assert response is not None
                    for event in response.events:
                        last = event.kv.mod_revision
                    seen += len(response.events)
                result["events_s"] = events / (time.perf_counter() - t0)
                assert last > 0  # every event was read, not just counted
                writer.wait()
            for _ in range(runs):
                off_tick()
                t0 = time.perf_counter()
                with client.watch(catchup, prefix=True, start_revision=catchup_rev) as w:
                    seen = 0
                    while seen < events:
                        response = w.receive()
                        assert response is not None
                        for event in response.events:
                            last = event.kv.mod_revision
                        seen += len(response.events)
                rates.append(events / (time.perf_counter() - t0))
                assert last > 0  # every event was read, not just counted
    elif name == "etcd-sdk-python":
        import pyetcd

        client = pyetcd.client(host=host, port=int(port))
        iterator, cancel = client.watch_prefix(prefix)
        writer = Writer(endpoint, prefix, events)
        t0 = time.perf_counter()
        writer.go()
        for seen, event in enumerate(iterator, start=1):
            last = event.mod_revision
            if seen >= events:
                break
        result["events_s"] = events / (time.perf_counter() - t0)
        assert last > 0  # every event was read, not just counted
        cancel()
        writer.wait()
        for _ in range(runs):
            off_tick()
            t0 = time.perf_counter()
            iterator, cancel = client.watch_prefix(catchup, start_revision=catchup_rev)
            for seen, event in enumerate(iterator, start=1):
                last = event.mod_revision
                if seen >= events:
                    break
            rates.append(events / (time.perf_counter() - t0))
            assert last > 0  # every event was read, not just counted
            cancel()
        client.close()
    elif name == "aetcd":
        import aetcd

        async def run_aetcd() -> None:
            async with aetcd.Client(host=host, port=int(port)) as client:
                watch = await client.watch_prefix(prefix.encode())
                writer = Writer(endpoint, prefix, events)
                t0 = time.perf_counter()
                writer.go()
                seen = 0
                async for event in watch:
                    last = event.kv.mod_revision
                    seen += 1
                    if seen >= events:
                        break
                result["events_s"] = events / (time.perf_counter() - t0)
                assert last > 0  # every event was read, not just counted
                await watch.cancel()
                writer.wait()
                for _ in range(runs):
                    off_tick()
                    t0 = time.perf_counter()
                    watch = await client.watch_prefix(catchup.encode(), start_revision=catchup_rev)
                    seen = 0
                    async for event in watch:
                        last = event.kv.mod_revision
                        seen += 1
                        if seen >= events:
                            break
                    rates.append(events / (time.perf_counter() - t0))
                    assert last > 0  # every event was read, not just counted
                    await watch.cancel()

        asyncio.run(run_aetcd())
    else:
        raise SystemExit(f"unknown client {name}")
    result.update(catchup_figures(rates))
    return result


def prepare_catchup(endpoint: str, events: int) -> tuple[str, int]:
    """Write the catch-up prefix once; return it and its first revision."""
    from etcdwire import Client, Op

    prefix = f"bc-{uuid.uuid4().hex[:8]}/"
    with Client(endpoint) as client:
        first = client.put(f"{prefix}{0:06d}", "v" * 32).header.revision
        for start in range(1, events, 100):
            stop = min(start + 100, events)
            client.txn([], [Op.put(f"{prefix}{i:06d}", "v" * 32) for i in range(start, stop)])
    return prefix, first


def run_all(endpoint: str, events: int, watches: int, runs: int) -> None:
    results: dict[str, dict[str, Any]] = {}
    catchup, catchup_rev = prepare_catchup(endpoint, events)
    for name in CLIENTS:
        figures: dict[str, Any] = {}
        for extra in (
            [
                "--events",
                str(events),
                "--catchup",
                catchup,
                "--catchup-rev",
                str(catchup_rev),
                "--runs",
                str(runs),
            ],
            ["--idle", str(watches)],
        ):
            command = [sys.executable, __file__, "--worker", name, "--endpoint", endpoint, *extra]
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=1200, check=False
            )
            if proc.returncode != 0:
                print(f"{name}: failed: {proc.stderr.strip().splitlines()[-3:]}")
                break
            figures.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        else:
            results[name] = figures
    print(
        f"\n{events} events (txns of 100 puts from another process), {watches} idle watches, "
        f"one etcd 3.5 on loopback, python {sys.version.split()[0]}"
    )
    print(f"catch-up: best and median of {runs} runs per client")
    print(
        f"{'client':<18}{'live events/s':>15}{'catch-up best/s':>18}{'median/s':>12}"
        f"{'bytes/idle watch':>20}"
    )
    for name, figures in results.items():
        print(
            f"{name:<18}{figures['events_s']:15.0f}{figures['catchup_s']:18.0f}"
            f"{figures['catchup_median']:12.0f}{figures['bytes_per_watch']:20.0f}"
        )
    for phase, label in (("events_s", "live"), ("catchup_s", "catch-up")):
        others = [results[n][phase] for n in ("etcd-sdk-python", "aetcd") if n in results]
        if others and "etcdwire-async" in results:
            print(
                f"{label} event rate, etcdwire (asyncio) / faster grpcio client: "
                f"{results['etcdwire-async'][phase] / max(others):.2f}x (target >= 2x)"
            )
    medians = [results[n]["catchup_median"] for n in ("etcd-sdk-python", "aetcd") if n in results]
    if medians and "etcdwire-async" in results:
        print(
            f"catch-up median, etcdwire (asyncio) / faster grpcio client: "
            f"{results['etcdwire-async']['catchup_median'] / max(medians):.2f}x"
        )
    command = [
        sys.executable, __file__, "--worker", "server-floor", "--endpoint", endpoint,
        "--events", str(events), "--catchup", catchup, "--catchup-rev", str(catchup_rev),
        "--runs", str(runs),
    ]  # fmt: skip
    writer = Writer(endpoint, f"bwa-{uuid.uuid4().hex[:8]}/", events)
    writer.go()
    print(f"the writer alone, no watcher: {events / writer.wait():.0f} events/s (bounds live)")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode == 0:
        floor = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"catch-up the server delivers to a raw stream that only parses messages: "
            f"best {floor['catchup_s']:.0f} events/s, median {floor['catchup_median']:.0f}"
        )
    if "etcdwire-async" in results:
        print(
            f"memory per idle watch, etcdwire (asyncio): "
            f"{results['etcdwire-async']['bytes_per_watch']:.0f} bytes (target < 2048)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--watches", type=int, default=10000)
    parser.add_argument(
        "--runs", type=int, default=15, help="catch-up runs per client (best and median shown)"
    )
    parser.add_argument(
        "--writers", type=int, default=8, help="txns of 100 puts the writer keeps in flight"
    )
    parser.add_argument("--endpoint")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--catchup", help=argparse.SUPPRESS)
    parser.add_argument("--idle", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--catchup-rev", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    WRITERS[0] = args.writers
    if args.worker:
        if args.idle:
            figures = idle_worker(args.worker, args.endpoint, args.idle)
        else:
            figures = worker(
                args.worker, args.endpoint, args.events, args.catchup, args.catchup_rev, args.runs
            )
        print(json.dumps(figures))
        return
    if args.endpoint:
        run_all(args.endpoint, args.events, args.watches, args.runs)
        return
    from etcdwire.tools.embedded import EmbeddedEtcd

    with EmbeddedEtcd() as server:
        run_all(server.url, args.events, args.watches, args.runs)


if __name__ == "__main__":
    main()
