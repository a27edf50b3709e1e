"""A process blocked in a blocking ``Client`` call, for test_interrupt.py to send SIGINT to.

Usage: ``python -m tests.reliability.interrupt_worker SCENARIO [ENDPOINT PREFIX]``

It sets the scenario up, prints ``BLOCKING`` and enters the call. The call must not return:
it prints ``RETURNED`` and exits 3 if it does. On KeyboardInterrupt it prints
``INTERRUPTED <exception type>``; talking to etcd, it then makes one more call on the same
client and prints ``REUSED ok`` (or the error); it closes the client, prints
``CLOSED <seconds>`` and exits 0.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from etcdwire import Client, Mutex, Session


def black_hole() -> tuple[socket.socket, str]:
    """A listening socket nobody accepts on: connects succeed, nothing is ever answered."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)
    return listener, f"127.0.0.1:{listener.getsockname()[1]}"


def setup(scenario: str, stack: ExitStack, argv: list[str]) -> tuple[Client, Callable[[], Any]]:
    if scenario.startswith("black_hole"):
        listener, address = black_hole()
        stack.callback(listener.close)
        client = Client(address, timeout=None, connect_timeout=60)
        if scenario == "black_hole_get":
            return client, lambda: client.get("k")
        if scenario == "black_hole_put":
            return client, lambda: client.put("k", "v")
        raise SystemExit(f"unknown scenario {scenario}")
    endpoint, prefix = argv[0], argv[1]
    client = Client(endpoint, timeout=None)
    if scenario == "watch":
        watch = client.watch(f"{prefix}/quiet")
        watch.start(timeout=10)
        return client, lambda: next(iter(watch))
    holder = stack.enter_context(Client(endpoint, timeout=10))
    if scenario == "server_lock":
        held = holder.lease.grant(30)
        holder.lock.lock(f"{prefix}/lock", lease=held.id)
        mine = client.lease.grant(30)
        return client, lambda: client.lock.lock(f"{prefix}/lock", lease=mine.id)
    if scenario == "mutex":
        holder_session = stack.enter_context(Session(holder, ttl=30))
        Mutex(holder_session, f"{prefix}/mutex").lock(timeout=10)
        session = Session(client, ttl=30).start()
        return client, lambda: Mutex(session, f"{prefix}/mutex").lock()
    if scenario == "campaign":
        leader = holder.lease.grant(30)
        holder.election.campaign(f"{prefix}/elect", "first", lease=leader.id)
        mine = client.lease.grant(30)
        return client, lambda: client.election.campaign(f"{prefix}/elect", "second", lease=mine.id)
    raise SystemExit(f"unknown scenario {scenario}")


def main() -> int:
    scenario, argv = sys.argv[1], sys.argv[2:]
    with ExitStack() as stack:
        client, call = setup(scenario, stack, argv)
        try:
            print("BLOCKING", flush=True)
            call()
        except KeyboardInterrupt as exc:
            print(f"INTERRUPTED {type(exc).__name__}", flush=True)
        else:
            print("RETURNED", flush=True)
            return 3
        if not scenario.startswith("black_hole"):
            # the interrupted call must not have broken the client for the next one
            try:
                client.get("after-interrupt", timeout=5)
                print("REUSED ok", flush=True)
            except Exception as exc:
                print(f"REUSED {exc!r}", flush=True)
        started = time.monotonic()
        client.close()
        print(f"CLOSED {time.monotonic() - started:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
