"""etcdwire against the grpcio-based clients, side by side against one local etcd.

    python benchmarks/bench_clients.py [--ops 3000] [--concurrency 64] [--rounds 5]
                                       [--pairs 16] [--endpoint URL]

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

Last, each target measured again with its two clients interleaved (``--pairs``, 0 skips it):
both stay connected in their own processes and run the phase in turn, ``--ops`` operations at
a time, in ABBA order; the ratio of each pair compares runs a moment apart, and the median of
the pairs is printed with each client's median ops/s and CPU per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def figures(ops: int, wall: float, cpu: float) -> dict[str, float]:
    """ops/s, and latency and client CPU per operation in microseconds."""
    return {"ops_s": ops / wall, "lat_us": wall / ops * 1e6, "cpu_us": cpu / ops * 1e6}


def measure(run: Callable[[], None], ops: int) -> dict[str, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    run()
    return figures(ops, time.perf_counter() - wall0, time.process_time() - cpu0)


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


def sync_phase(
    phase: str, get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int
) -> dict[str, float]:
    """One phase (``seq_get``, ``seq_put``, ``conc_get``, ``conc_put``) of a blocking client."""
    fn = get if phase.endswith("get") else put
    if phase.startswith("seq"):

        def run() -> None:
            for _ in range(ops):
                fn()

        return measure(run, ops)
    return measure(threaded(fn, ops, conc), ops // conc * conc)


def sync_phases(
    get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int
) -> dict[str, Any]:
    for _ in range(200):
        get()
    return {phase: sync_phase(phase, get, put, ops, conc) for phase in PHASES}


async def async_phase(
    phase: str, get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int
) -> dict[str, float]:
    """One phase of an asyncio client (``conc_*``: ``conc`` tasks sharing the work)."""
    fn = get if phase.endswith("get") else put
    if phase.startswith("seq"):
        count = ops

        async def run() -> None:
            for _ in range(ops):
                await fn()

    else:
        count = ops // conc * conc

        async def loop() -> None:
            for _ in range(ops // conc):
                await fn()

        async def run() -> None:
            await asyncio.gather(*(loop() for _ in range(conc)))

    wall0, cpu0 = time.perf_counter(), time.process_time()
    await run()
    return figures(count, time.perf_counter() - wall0, time.process_time() - cpu0)


async def async_phases(
    get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int
) -> dict[str, Any]:
    for _ in range(200):
        await get()
    return {phase: await async_phase(phase, get, put, ops, conc) for phase in PHASES}


def sync_client(
    get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int, serve: bool
) -> dict[str, Any] | None:
    """Every phase once, or (``serve``) the phases asked for on stdin, one per line."""
    if not serve:
        return sync_phases(get, put, ops, conc)
    for _ in range(200):
        get()
    print("ready", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        phase, count = line.split()
        print(json.dumps(sync_phase(phase, get, put, int(count), conc)), flush=True)
    return None


async def async_client(
    get: Callable[[], Any], put: Callable[[], Any], ops: int, conc: int, serve: bool
) -> dict[str, Any] | None:
    """:func:`sync_client` for an asyncio client (stdin is read off the event loop)."""
    if not serve:
        return await async_phases(get, put, ops, conc)
    for _ in range(200):
        await get()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.strip():
            return None
        phase, count = line.split()
        print(json.dumps(await async_phase(phase, get, put, int(count), conc)), flush=True)


def worker(name: str, endpoint: str, ops: int, conc: int, serve: bool) -> dict[str, Any] | None:
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    if name == "etcdwire-sync":
        from etcdwire import Client

        with Client(endpoint) as client:
            client.put(KEY, VALUE)
            return sync_client(
                lambda: client.get(KEY, serializable=True),
                lambda: client.put(KEY, VALUE),
                ops,
                conc,
                serve,
            )
    if name == "etcd-sdk-python":
        import pyetcd

        client = pyetcd.client(host=host, port=int(port))
        client.put(KEY, VALUE)
        result = sync_client(
            lambda: client.get(KEY, serializable=True),
            lambda: client.put(KEY, VALUE),
            ops,
            conc,
            serve,
        )
        client.close()
        return result
    if name == "etcdwire-async":
        from etcdwire import AsyncClient

        async def main() -> dict[str, Any] | None:
            async with AsyncClient(endpoint) as client:
                await client.put(KEY, VALUE)
                return await async_client(
                    lambda: client.get(KEY, serializable=True),
                    lambda: client.put(KEY, VALUE),
                    ops,
                    conc,
                    serve,
                )

        return asyncio.run(main())
    if name == "aetcd":
        import aetcd

        async def main_aetcd() -> dict[str, Any] | None:
            async with aetcd.Client(host=host, port=int(port)) as client:
                await client.put(KEY.encode(), VALUE.encode())
                return await async_client(
                    lambda: client.get(KEY.encode(), serializable=True),
                    lambda: client.put(KEY.encode(), VALUE.encode()),
                    ops,
                    conc,
                    serve,
                )

        return asyncio.run(main_aetcd())
    raise SystemExit(f"unknown client {name}")


class ServedClient:
    """A client in its own process, connected and warmed up, running one phase per
    :meth:`run` (``--serve`` worker mode)."""

    def __init__(self, name: str, endpoint: str, conc: int) -> None:
        self.name = name
        self._proc = subprocess.Popen(
            [
                sys.executable, __file__, "--worker", name, "--serve", "--endpoint", endpoint,
                "--concurrency", str(conc),
            ],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin, self._stdout = self._proc.stdin, self._proc.stdout
        if self._stdout.readline().strip() != "ready":
            self._proc.kill()
            raise RuntimeError(f"{name}: the worker did not start")

    def run(self, phase: str, ops: int) -> dict[str, float]:
        self._stdin.write(f"{phase} {ops}\n")
        self._stdin.flush()
        line = self._stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the worker ended during {phase}")
        figures: dict[str, float] = json.loads(line)
        return figures

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.write("\n")
            self._stdin.close()
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()


def interleaved(
    endpoint: str, client: str, baseline: str, phase: str, ops: int, conc: int, pairs: int
) -> tuple[list[float], list[dict[str, float]], list[dict[str, float]]]:
    """The two clients alive at once, each in its own process, running ``phase`` in turn
    (in ABBA order, so neither always goes first): each pair's ratio compares runs a moment
    apart, which a machine whose speed drifts over seconds cannot skew as it skews runs made
    seconds apart. Returns the ratios and each client's figures."""
    ours, theirs = ServedClient(client, endpoint, conc), ServedClient(baseline, endpoint, conc)
    ratios: list[float] = []
    mine: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    try:
        for i in range(pairs):
            if i % 2 == 0:
                a, b = ours.run(phase, ops), theirs.run(phase, ops)
            else:
                b, a = theirs.run(phase, ops), ours.run(phase, ops)
            mine.append(a)
            base.append(b)
            ratios.append(a["ops_s"] / b["ops_s"])
    finally:
        ours.close()
        theirs.close()
    return ratios, mine, base


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
        pairs_ = list(zip(runs[client], runs[baseline], strict=False))
        if not pairs_:
            print(f"{label.format(conc=conc)}: n/a")
            continue
        ratios = [a[phase]["ops_s"] / b[phase]["ops_s"] for a, b in pairs_]
        listed = " ".join(f"{r:.2f}" for r in ratios)
        print(
            f"{label.format(conc=conc)}, rounds: {statistics.median(ratios):.2f}x median "
            f"({listed}) (target >= {target:g}x)"
        )


def run_targets(endpoint: str, ops: int, conc: int, pairs: int) -> None:
    """Each target's two clients measured by :func:`interleaved`."""
    print(f"\ntargets, interleaved: {pairs} pairs of runs of {ops} ops, clients alive side by side")
    for label, client, baseline, phase, target in TARGETS:
        ratios, mine, base = interleaved(endpoint, client, baseline, phase, ops, conc, pairs)
        listed = " ".join(f"{r:.2f}" for r in ratios)
        print(
            f"{label.format(conc=conc)}: {statistics.median(ratios):.2f}x median of the pairs "
            f"({listed}) (target >= {target:g}x)\n"
            f"    {client}: {statistics.median(m['ops_s'] for m in mine):.0f}/s, "
            f"{statistics.median(m['cpu_us'] for m in mine):.0f} us CPU/op; "
            f"{baseline}: {statistics.median(b['ops_s'] for b in base):.0f}/s, "
            f"{statistics.median(b['cpu_us'] for b in base):.0f} us CPU/op"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="runs of every client")
    parser.add_argument(
        "--pairs", type=int, default=16, help="interleaved pairs of runs per target (0: none)"
    )
    parser.add_argument("--endpoint")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker, args.endpoint, args.ops, args.concurrency, args.serve)
        if result is not None:
            print(json.dumps(result))
        return

    def run(endpoint: str) -> None:
        run_all(endpoint, args.ops, args.concurrency, args.rounds)
        if args.pairs:
            run_targets(endpoint, args.ops, args.concurrency, args.pairs)

    if args.endpoint:
        run(args.endpoint)
        return
    from etcdwire.tools.embedded import EmbeddedEtcd

    with EmbeddedEtcd() as server:
        run(server.url)


if __name__ == "__main__":
    main()
