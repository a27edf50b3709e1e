"""Runs the blocking client under a green-thread library, in a process of its own.

Usage: ``python -m tests.reliability.green_worker gevent|eventlet ENDPOINT PREFIX
[--ca-file FILE] [--scenarios NAME,...]``

Monkey-patching is process-wide, so this module patches first, imports etcdwire afterwards,
and runs four scenarios with many green threads sharing one ``Client``: concurrent puts and
gets with value checks, a watch receiving every event while others write, a lease kept alive
for several TTLs, and a mutex contended by several green threads. It prints one JSON line of
figures and exits 0 only if every check held (test_green_threads.py reads both).
"""

from __future__ import annotations

import sys

LIBRARY = sys.argv[1] if __name__ == "__main__" else ""
if LIBRARY == "gevent":
    from gevent import monkey  # type: ignore[import-untyped]

    monkey.patch_all()
elif LIBRARY == "eventlet":
    import eventlet  # type: ignore[import-untyped]

    eventlet.monkey_patch()

# Everything else is imported after patching, as an application under gevent/eventlet does.
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import select  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402

from etcdwire import Client, Mutex, Session  # noqa: E402

GREEN_THREADS = 50


def spawn_all(work: Callable[[int], Any], count: int) -> list[Any]:
    """Run ``work(i)`` in ``count`` green threads of the library under test; results or
    exceptions, in order."""
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException as exc:  # reported to the parent as a failure
            results[index] = exc

    if LIBRARY == "gevent":
        gevent.joinall([gevent.spawn(run, i) for i in range(count)], timeout=60)
    else:
        pool = eventlet.GreenPool(count)
        for i in range(count):
            pool.spawn_n(run, i)
        pool.waitall()
    return results


def check(results: list[Any], what: str) -> None:
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise AssertionError(f"{what}: {len(failures)} green threads failed: {failures[0]!r}")


def kv_scenario(client: Any, prefix: str) -> dict[str, int]:
    rounds = 8

    def work(index: int) -> int:
        key = f"{prefix}/kv/{index}"
        for n in range(rounds):
            value = f"{index}-{n}-" + "x" * (index * 37 % 500)
            client.put(key, value)
            got = client.get(key).value
            if got != value.encode():
                raise AssertionError(f"{key}: wrote {value!r}, read {got!r}")
        return rounds

    results = spawn_all(work, GREEN_THREADS)
    check(results, "kv")
    listed = client.get(f"{prefix}/kv/", prefix=True)
    assert listed.count == GREEN_THREADS, listed.count
    return {"kv_ops": 2 * rounds * GREEN_THREADS}


def watch_scenario(client: Any, prefix: str) -> dict[str, int]:
    writers, per_writer = 10, 10
    expected = writers * per_writer
    seen: list[tuple[int, bytes]] = []
    watch = client.watch(f"{prefix}/w/", prefix=True)
    watch.start(timeout=10)
    start_revision = client.get(f"{prefix}/none").header.revision

    def work(index: int) -> int:
        if index == writers:  # the watcher
            for response in watch:
                seen.extend((e.kv.mod_revision, e.kv.value) for e in response.events)
                if len(seen) >= expected:
                    break
            return len(seen)
        for n in range(per_writer):
            client.put(f"{prefix}/w/{index}", f"{index}:{n}")
        return per_writer

    results = spawn_all(work, writers + 1)
    watch.cancel()
    check(results, "watch")
    revisions = [rev for rev, _ in seen]
    assert len(seen) == expected, len(seen)
    assert revisions == sorted(set(revisions)), "watch repeated or reordered a revision"
    assert revisions[0] > start_revision
    written = {f"{i}:{n}".encode() for i in range(writers) for n in range(per_writer)}
    assert {value for _, value in seen} == written
    return {"watch_events": len(seen)}


def lease_scenario(client: Any, prefix: str) -> dict[str, int]:
    ttl, lifetime = 2, 5.0

    def work(index: int) -> float:
        if index == 0:
            with client.lease(ttl) as kept:
                client.put(f"{prefix}/lease", "held", lease=kept.id)
                time.sleep(lifetime)  # green sleep: the keeper must run meanwhile
                assert kept.alive
                remaining = client.lease.time_to_live(kept.id).ttl
                assert remaining > 0, remaining
                assert client.get(f"{prefix}/lease").value == b"held"
            return lifetime
        # others keep the loop busy with reads while the lease is kept alive
        deadline = time.monotonic() + lifetime
        reads = 0
        while time.monotonic() < deadline:
            client.get(f"{prefix}/lease")
            reads += 1
            time.sleep(0.05)
        return reads

    results = spawn_all(work, 5)
    check(results, "lease")
    assert client.get(f"{prefix}/lease").value is None  # revoked on exit
    return {"lease_seconds": int(lifetime)}


def mutex_scenario(client: Any, prefix: str) -> dict[str, int]:
    contenders, rounds = 6, 3
    holders: list[int] = []
    max_holders = 0
    acquired = 0

    def work(index: int) -> int:
        nonlocal max_holders, acquired
        with Session(client, ttl=5) as session:
            mutex = Mutex(session, f"{prefix}/mutex")
            for _ in range(rounds):
                with mutex:
                    holders.append(index)
                    max_holders = max(max_holders, len(holders))
                    time.sleep(0.01)  # switch while holding: a second holder would show up
                    holders.remove(index)
                    acquired += 1
        return rounds

    results = spawn_all(work, contenders)
    check(results, "mutex")
    assert max_holders == 1, max_holders
    assert acquired == contenders * rounds
    return {"mutex_acquisitions": acquired}


def blocked_read_scenario(client: Any, prefix: str) -> dict[str, int]:
    """A green thread blocked reading (a watch with nothing to deliver) must let the others
    run: if the wait blocked the OS thread, the ticker would never tick and nobody would write
    the key that ends the wait."""
    key = f"{prefix}/quiet"
    watch = client.watch(key)
    watch.start(timeout=10)
    ticks = 0

    def work(index: int) -> int:
        nonlocal ticks
        if index == 0:
            response = next(iter(watch))
            return len(response.events)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.01)
            ticks += 1
        client.put(key, "wake")
        return ticks

    results = spawn_all(work, 2)
    watch.cancel()
    check(results, "blocked read")
    assert results[0] == 1, results[0]
    assert ticks >= 30, f"only {ticks} ticks while another green thread waited on a read"
    return {"ticks_while_blocked": ticks}


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


SCENARIOS = {
    "blocked_read": blocked_read_scenario,
    "kv": kv_scenario,
    "watch": watch_scenario,
    "lease": lease_scenario,
    "mutex": mutex_scenario,
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("library", choices=["gevent", "eventlet"])
    parser.add_argument("endpoint")
    parser.add_argument("prefix")
    parser.add_argument("--ca-file")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()

    poll = getattr(select, "poll", None)
    # how etcdwire/_backends/sync.py will wait: the library's green poll, or green select
    figures: dict[str, Any] = {
        "library": LIBRARY,
        "wait": "select" if poll is None else f"{poll.__module__}.poll",
    }
    threads_before = os_threads()
    started = time.monotonic()
    with Client(args.endpoint, timeout=20, ca_file=args.ca_file) as client:
        for name in args.scenarios.split(","):
            figures.update(SCENARIOS[name](client, args.prefix))
        figures["os_threads_in_use"] = os_threads()
    figures["os_threads_before"] = threads_before
    figures["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
