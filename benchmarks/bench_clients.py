"""etcdwire against the grpcio-based clients, side by side against one local etcd.

    python benchmarks/bench_clients.py [--ops 3000] [--concurrency 64] [--rounds 5]
                                       [--endpoint URL]

Clients: etcdwire ``Client`` (blocking) and ``AsyncClient`` (asyncio); ``etcd-sdk-python``
(module ``pyetcd``, blocking, grpcio) and ``aetcd`` (asyncio, grpcio), installed by the
``bench`` extra. Each client runs in its own subprocess (the two grpcio clients cannot share a
process: both register ``auth.proto`` in protobuf's default pool), one after the other, against
the same etcd, in ``--rounds`` rounds. For each it prints the median over the rounds of:

- sequential serializable get and put: ops/s and mean latency;
- ``--concurrency``-way concurrent serializable get and put (threads for blocking clients,
  tasks for asyncio ones): ops/s;
- client CPU time per operation (user + system of the client process, ``time.process_time``)
  for each phase.

Then the ratios the targets are about: sync sequential get (etcdwire / etcd-sdk-python) and
async concurrent get (etcdwire / aetcd), each taken within every round (the two clients ran
back to back there) and summed up by their median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

KEY = "bench/key"
VALUE = "v" * 64
CLIENTS = ["etcdwire-sync", "etcd-sdk-python", "etcdwire-async", "aetcd"]


def measure(run: Callable[[], None], ops: int) -> dict[str, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"ops_s": ops / wall, "lat_us": wall / ops * 1e6, "cpu_us": cpu / ops * 1e6}


def threaded(fn: Callable[[], None], ops: int, workers: int) -> Callable[[], None]:
    per = ops // workers

    def run() -> None:
        def loop() -> None:
            for _ in range(per):
                fn()

        threads = [threading.Thread(target=loop) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return run


def sync_phases(
    get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int
) -> dict[str, Any]:
    for _ in range(200):
        get()

    def seq(fn: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(ops):
                fn()

        return run

    return {
        "seq_get": measure(seq(get), ops),
        "seq_put": measure(seq(put), ops),
        "conc_get": measure(threaded(get, ops, conc), ops // conc * conc),
        "conc_put": measure(threaded(put, ops, conc), ops // conc * conc),
    }


async def async_phases(
    get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int
) -> dict[str, Any]:
    for _ in range(200):
        await get()

    async def seq(fn: Callable[[], Any]) -> None:
        for _ in range(ops):
            await fn()

    async def fan(fn: Callable[[], Any]) -> None:
        per = ops // conc

        async def loop() -> None:
            for _ in range(per):
                await fn()

        await asyncio.gather(*(loop() for _ in range(conc)))

    async def timed(coro_fn: Callable[[], Any], count: int) -> dict[str, float]:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await coro_fn()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return {"ops_s": count / wall, "lat_us": wall / count * 1e6, "cpu_us": cpu / count * 1e6}

    count = ops // conc * conc
    return {
        "seq_get": await timed(lambda: seq(get), ops),
        "seq_put": await timed(lambda: seq(put), ops),
        "conc_get": await timed(lambda: fan(get), count),
        "conc_put": await timed(lambda: fan(put), count),
    }


def worker(name: str, endpoint: str, ops: int, conc: int) -> dict[str, Any]:
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    if name == "etcdwire-sync":
        from etcdwire import Client

        with Client(endpoint) as client:
            client.put(KEY, VALUE)
            return sync_phases(
                lambda: client.get(KEY, serializable=True),
                lambda: client.put(KEY, VALUE),
                ops,
                conc,
            )
    if name == "etcd-sdk-python":
        import pyetcd

        client = pyetcd.client(host=host, port=int(port))
        client.put(KEY, VALUE)
        result = sync_phases(
            lambda: client.get(KEY, serializable=True), lambda: client.put(KEY, VALUE), ops, conc
        )
        client.close()
        return result
    if name == "etcdwire-async":
        from etcdwire import AsyncClient

        async def main() -> dict[str, Any]:
            async with AsyncClient(endpoint) as client:
                await client.put(KEY, VALUE)
                return await async_phases(
                    lambda: client.get(KEY, serializable=True),
                    lambda: client.put(KEY, VALUE),
                    ops,
                    conc,
                )

        return asyncio.run(main())
    if name == "aetcd":
        import aetcd

        async def main_aetcd() -> dict[str, Any]:
            async with aetcd.Client(host=host, port=int(port)) as client:
                await client.put(KEY.encode(), VALUE.encode())
                return await async_phases(
                    lambda: client.get(KEY.encode(), serializable=True),
                    lambda: client.put(KEY.encode(), VALUE.encode()),
                    ops,
                    conc,
                )

        return asyncio.run(main_aetcd())
    raise SystemExit(f"unknown client {name}")


PHASES = ("seq_get", "seq_put", "conc_get", "conc_put")
#: (label, client, baseline, phase, target)
TARGETS = (
    ("sync sequential serializable get, etcdwire / etcd-sdk-python", "etcdwire-sync",
     "etcd-sdk-python", "seq_get", 2.0),
    ("async {conc}-way serializable get, etcdwire / aetcd", "etcdwire-async", "aetcd",
     "conc_get", 1.5),
)  # fmt: skip


def run_worker(name: str, endpoint: str, ops: int, conc: int) -> dict[str, Any] | None:
    proc = subprocess.run(
        [
            sys.executable, __file__, "--worker", name, "--endpoint", endpoint,
            "--ops", str(ops), "--concurrency", str(conc),
        ],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        print(f"{name}: failed: {proc.stderr.strip().splitlines()[-1:]}")
        return None
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def run_all(endpoint: str, ops: int, conc: int, rounds: int) -> None:
    """Every client once per round, one after the other; ``rounds`` rounds. A shared machine
    changes speed from one second to the next, so the figures are the median over the rounds,
    and each target's ratio is taken within each round (its two clients ran back to back)."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CLIENTS}
    for _ in range(rounds):
        for name in CLIENTS:
            figures = run_worker(name, endpoint, ops, conc)
            if figures is not None:
                runs[name].append(figures)
    print(
        f"\n{ops} ops per phase, {conc}-way concurrency, one etcd 3.5 on loopback, "
        f"python {sys.version.split()[0]}; median of {rounds} rounds"
    )
    header = f"{'client':<18}" + "".join(
        f"{p:>22}" for p in ("seq get", "seq put", f"{conc}-way get", f"{conc}-way put")
    )
    print(header)
    for name, done in runs.items():
        if not done:
            continue
        cells = "".join(
            f"{statistics.median(r[p]['ops_s'] for r in done):8.0f}/s "
            f"{statistics.median(r[p]['cpu_us'] for r in done):6.0f}us cpu"
            for p in PHASES
        )
        print(f"{name:<18}{cells}")
    print()
    for label, client, baseline, phase, target in TARGETS:
        pairs = list(zip(runs[client], runs[baseline], strict=False))
        if not pairs:
            print(f"{label.format(conc=conc)}: n/a")
            continue
        ratios = [a[phase]["ops_s"] / b[phase]["ops_s"] for a, b in pairs]
        listed = " ".join(f"{r:.2f}" for r in ratios)
        print(
            f"{label.format(conc=conc)}: {statistics.median(ratios):.2f}x median of the rounds "
            f"({listed}) (target >= {target:g}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="runs of every client")
    parser.add_argument("--endpoint")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.endpoint, args.ops, args.concurrency)))
        return
    if args.endpoint:
        run_all(args.endpoint, args.ops, args.concurrency, args.rounds)
        return
    from etcdwire.tools.embedded import EmbeddedEtcd

    with EmbeddedEtcd() as server:
        run_all(server.url, args.ops, args.concurrency, args.rounds)


if __name__ == "__main__":
    main()
