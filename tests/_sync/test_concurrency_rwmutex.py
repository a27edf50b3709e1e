# Generated from tests/_async/test_concurrency_rwmutex.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""The read-write mutex recipe (issue 6, "RWMutex with the same fairness") against real etcd:
Go's key layout, shared readers, exclusive writers, and requests served in order (a waiting
writer holds back later readers)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import Client, RWMutex, Session, DeadlineExceeded, LockNotHeld
from etcdwire._compat import sleep, spawn

pytestmark = pytest.mark.etcd

IS_ASYNC = False
WRITERS = 6 if IS_ASYNC else 3
READERS = 6 if IS_ASYNC else 3
ROUNDS = 10


def name() -> str:
    return f"rw-{uuid.uuid4().hex[:8]}"


def test_rwmutex_readers_share_writers_wait_and_order_is_kept(etcd: Any) -> None:
    lock = name()
    events: list[str] = []
    with (
        Client(etcd.url) as client,
        Session(client) as s1,
        Session(client) as s2,
        Session(client) as s3,
        Session(client) as s4,
    ):
        first, second = RWMutex(s1, lock), RWMutex(s2, lock)
        writer, late = RWMutex(s3, lock), RWMutex(s4, lock)
        first.rlock()
        second.rlock(timeout=2)  # readers share
        assert first.key.startswith(f"{lock}/read/".encode())  # Go's layout
        with pytest.raises(DeadlineExceeded):
            writer.lock(timeout=0.5)
        assert not writer.held  # the timed-out request withdrew its key

        def write() -> None:
            writer.lock(timeout=15)
            events.append("writer")
            sleep(0.3)
            events.append("writer done")
            writer.unlock()

        def read_late() -> None:
            late.rlock(timeout=15)
            events.append("late reader")
            late.runlock()

        w = spawn(write)
        sleep(0.3)
        assert writer.key.startswith(f"{lock}/write/".encode())
        r = spawn(read_late)
        sleep(0.3)
        assert events == []  # the writer waits for the readers, the late reader for it
        first.runlock()
        second.runlock()
        w.join(15)
        r.join(15)
        assert events == ["writer", "writer done", "late reader"]
        with pytest.raises(LockNotHeld):
            first.runlock()
        assert (client.get(f"{lock}/", prefix=True, count_only=True)).count == 0


def test_rwmutex_writers_exclude_everyone_readers_see_whole_updates(etcd: Any) -> None:
    lock, base = name(), name()
    torn: list[tuple[bytes, bytes]] = []
    with Client(etcd.url) as client:
        client.put(f"{base}/x", "0")
        client.put(f"{base}/y", "0")

        def writer() -> None:
            with Session(client) as session:
                rw = RWMutex(session, lock)
                for _ in range(ROUNDS):
                    rw.lock()
                    value = int((client.get(f"{base}/x")).kvs[0].value) + 1
                    client.put(f"{base}/x", str(value))
                    client.put(f"{base}/y", str(value))  # x and y move together
                    rw.unlock()

        def reader() -> None:
            with Session(client) as session:
                rw = RWMutex(session, lock)
                for _ in range(ROUNDS):
                    rw.rlock()
                    x = (client.get(f"{base}/x")).kvs[0].value
                    y = (client.get(f"{base}/y")).kvs[0].value
                    if x != y:
                        torn.append((x, y))
                    rw.runlock()

        tasks = [spawn(writer) for _ in range(WRITERS)] + [spawn(reader) for _ in range(READERS)]
        for task in tasks:
            task.join(120)
        assert torn == []
        assert int((client.get(f"{base}/x")).kvs[0].value) == WRITERS * ROUNDS
