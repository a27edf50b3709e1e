"""Client CPU time per unary Range call against a local etcd, sync and async.

    python benchmarks/bench_unary.py [--calls 5000] [--endpoint URL]

Without ``--endpoint`` it starts a throwaway etcd on loopback. It prints, for the blocking and
the asyncio channel, wall time per call, calls per second, and the client process's CPU time
per call (user + system, measured with ``time.process_time``; etcd runs in another process, so
its work is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from etcdwire._async.channel import AsyncChannel
from etcdwire._etcd import methods
from etcdwire._pb import rpc_pb2
from etcdwire._sync.channel import Channel
from etcdwire.tools.embedded import EmbeddedEtcd

REQUEST = rpc_pb2.RangeRequest(key=b"bench/key", serializable=True)


def bench_sync(endpoint: str, calls: int) -> tuple[float, float]:
    with Channel(endpoint) as channel:
        channel.unary_unary(methods.KV_PUT, rpc_pb2.PutRequest(key=b"bench/key", value=b"v" * 64))
        for _ in range(200):
            channel.unary_unary(methods.KV_RANGE, REQUEST)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            channel.unary_unary(methods.KV_RANGE, REQUEST)
        return time.perf_counter() - wall0, time.process_time() - cpu0


async def bench_async(endpoint: str, calls: int) -> tuple[float, float]:
    async with AsyncChannel(endpoint) as channel:
        for _ in range(200):
            await channel.unary_unary(methods.KV_RANGE, REQUEST)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            await channel.unary_unary(methods.KV_RANGE, REQUEST)
        return time.perf_counter() - wall0, time.process_time() - cpu0


def report(label: str, calls: int, wall: float, cpu: float) -> None:
    print(
        f"{label:<28} {calls / wall:9.0f} calls/s   wall {wall / calls * 1e6:7.1f} us/call"
        f"   client CPU {cpu / calls * 1e6:7.1f} us/call"
    )


def run(endpoint: str, calls: int) -> None:
    print(f"unary Range (serializable, one 64-byte value), {calls} sequential calls")
    wall, cpu = bench_sync(endpoint, calls)
    report("sync Channel", calls, wall, cpu)
    wall, cpu = asyncio.run(bench_async(endpoint, calls))
    report("asyncio AsyncChannel", calls, wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--endpoint")
    args = parser.parse_args()
    if args.endpoint:
        run(args.endpoint, args.calls)
        return
    with EmbeddedEtcd() as server:
        run(server.url, args.calls)


if __name__ == "__main__":
    main()
