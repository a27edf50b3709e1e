"""The read-write mutex recipe (issue 6, "RWMutex with the same fairness") against real etcd:
Go's key layout, shared readers, exclusive writers, and requests served in order (a waiting
writer holds back later readers)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, AsyncRWMutex, AsyncSession, DeadlineExceeded, LockNotHeld
from etcdwire._compat import asleep, aspawn

pytestmark = pytest.mark.etcd

IS_ASYNC = True
WRITERS = 6 if IS_ASYNC else 3
READERS = 6 if IS_ASYNC else 3
ROUNDS = 10


def name() -> str:
    return f"rw-{uuid.uuid4().hex[:8]}"


async def test_rwmutex_readers_share_writers_wait_and_order_is_kept(etcd: Any) -> None:
    lock = name()
    events: list[str] = []
    async with (
        AsyncClient(etcd.url) as client,
        AsyncSession(client) as s1,
        AsyncSession(client) as s2,
        AsyncSession(client) as s3,
        AsyncSession(client) as s4,
    ):
        first, second = AsyncRWMutex(s1, lock), AsyncRWMutex(s2, lock)
        writer, late = AsyncRWMutex(s3, lock), AsyncRWMutex(s4, lock)
        await first.rlock()
        await second.rlock(timeout=2)  # readers share
        assert first.key.startswith(f"{lock}/read/".encode())  # Go's layout
        with pytest.raises(DeadlineExceeded):
            await writer.lock(timeout=0.5)
        assert not writer.held  # the timed-out request withdrew its key

        async def write() -> None:
            await writer.lock(timeout=15)
            events.append("writer")
            await asleep(0.3)
            events.append("writer done")
            await writer.unlock()

        async def read_late() -> None:
            await late.rlock(timeout=15)
            events.append("late reader")
            await late.runlock()

        w = aspawn(write)
        await asleep(0.3)
        assert writer.key.startswith(f"{lock}/write/".encode())
        r = aspawn(read_late)
        await asleep(0.3)
        assert events == []  # the writer waits for the readers, the late reader for it
        await first.runlock()
        await second.runlock()
        await w.join(15)
        await r.join(15)
        assert events == ["writer", "writer done", "late reader"]
        with pytest.raises(LockNotHeld):
            await first.runlock()
        assert (await client.get(f"{lock}/", prefix=True, count_only=True)).count == 0


async def test_rwmutex_writers_exclude_everyone_readers_see_whole_updates(etcd: Any) -> None:
    lock, base = name(), name()
    torn: list[tuple[bytes, bytes]] = []
    async with AsyncClient(etcd.url) as client:
        await client.put(f"{base}/x", "0")
        await client.put(f"{base}/y", "0")

        async def writer() -> None:
            async with AsyncSession(client) as session:
                rw = AsyncRWMutex(session, lock)
                for _ in range(ROUNDS):
                    await rw.lock()
                    value = int((await client.get(f"{base}/x")).kvs[0].value) + 1
                    await client.put(f"{base}/x", str(value))
                    await client.put(f"{base}/y", str(value))  # x and y move together
                    await rw.unlock()

        async def reader() -> None:
            async with AsyncSession(client) as session:
                rw = AsyncRWMutex(session, lock)
                for _ in range(ROUNDS):
                    await rw.rlock()
                    x = (await client.get(f"{base}/x")).kvs[0].value
                    y = (await client.get(f"{base}/y")).kvs[0].value
                    if x != y:
                        torn.append((x, y))
                    await rw.runlock()

        tasks = [aspawn(writer) for _ in range(WRITERS)] + [aspawn(reader) for _ in range(READERS)]
        for task in tasks:
            await task.join(120)
        assert torn == []
        assert int((await client.get(f"{base}/x")).kvs[0].value) == WRITERS * ROUNDS
