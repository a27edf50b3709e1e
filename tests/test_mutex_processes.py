"""The blocking Mutex across processes (issue 6, points 1 and 3): eight processes increment
one counter under one Mutex with a get-then-put, and a holder killed with SIGKILL lets the
lock go to the next waiter once its session's TTL runs out."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from typing import Any

import pytest

from etcdwire import Client, Mutex, Session
from etcdwire._compat import monotonic

pytestmark = pytest.mark.etcd

PROCESSES = 8
ROUNDS = 50

WORKER = textwrap.dedent(
    """
    import sys
    from etcdwire import Client, Mutex, Session

    url, lock, counter, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with Client(url) as client, Session(client, ttl=10) as session:
        mutex = Mutex(session, lock)
        for _ in range(rounds):
            with mutex:
                value = int(client.get(counter).kvs[0].value)
                # the acquisition order: sequence number -> our key's create revision
                client.put(f"{counter}/order/{value:06d}", str(mutex.revision))
                client.put(counter, str(value + 1))
    """
)

HOLDER = textwrap.dedent(
    """
    import sys, time
    from etcdwire import Client, Mutex, Session

    url, lock = sys.argv[1], sys.argv[2]
    client = Client(url)
    session = Session(client, ttl=3).start()
    mutex = Mutex(session, lock)
    mutex.lock()
    print("locked", flush=True)
    time.sleep(600)
    """
)


def test_mutex_eight_processes_increment_one_counter_exactly(etcd: Any) -> None:
    """Issue 6 point 1 (processes): the total is exact and the lock went out in request
    (create revision) order."""
    lock, counter = f"mxp-{uuid.uuid4().hex[:8]}", f"mxp-{uuid.uuid4().hex[:8]}"
    with Client(etcd.url) as client:
        client.put(counter, "0")
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, etcd.url, lock, counter, str(ROUNDS)],
                stderr=subprocess.PIPE,
            )
            for _ in range(PROCESSES)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
        assert int(client.get(counter).kvs[0].value) == PROCESSES * ROUNDS
        order = client.get(f"{counter}/order/", prefix=True)
        revisions = [int(kv.value) for kv in order.kvs]  # keys sort by sequence number
        assert len(revisions) == PROCESSES * ROUNDS
        assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
        assert client.get(f"{lock}/", prefix=True, count_only=True).count == 0


def test_mutex_holder_killed_releases_the_lock_within_ttl_plus_one_second(etcd: Any) -> None:
    """Issue 6 point 3: the holder's session (TTL 3 s) is not refreshed once its process is
    killed; its key expires and the next waiter gets the lock within TTL + 1 s."""
    lock = f"mxk-{uuid.uuid4().hex[:8]}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, etcd.url, lock], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with Client(etcd.url) as client, Session(client, ttl=10) as session:
            mutex = Mutex(session, lock)
            assert not mutex.try_lock()
            holder.kill()
            holder.wait(10)
            killed = monotonic()
            mutex.lock(timeout=10)
            waited = monotonic() - killed
            assert waited <= 3 + 1, f"the lock came {waited:.2f}s after the kill"
            mutex.unlock()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
