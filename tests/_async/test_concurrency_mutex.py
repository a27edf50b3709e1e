"""Session and Mutex recipes (issue 6, points 1-3) against real etcd: mutual exclusion of
many contenders with a read-modify-write that is not atomic by itself, acquisition in request
order, try_lock / is_owner / timeouts, and interop with ``etcdctl lock`` both ways (etcdctl
uses Go's client/v3/concurrency, so the key layout and the algorithm must match)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    AsyncMutex,
    AsyncSession,
    DeadlineExceeded,
    LockNotHeld,
    Op,
    SessionExpired,
    UsageError,
)
from etcdwire._compat import aspawn, monotonic
from tests.etcdctl_process import EtcdctlProcess as Ctl

pytestmark = pytest.mark.etcd

IS_ASYNC = True
WORKERS = 64 if IS_ASYNC else 8
ROUNDS = 50


def name() -> str:
    return f"mx-{uuid.uuid4().hex[:8]}"


# --- session ---------------------------------------------------------------------------------


async def test_session_keeps_its_lease_and_revokes_it_on_close(etcd: Any) -> None:
    async with AsyncClient(etcd.url) as client:
        async with AsyncSession(client, ttl=5) as session:
            assert session.alive and not session.done.is_set()
            status = await client.lease.time_to_live(session.lease_id)
            assert status.granted_ttl == 5 and status.ttl > 0
            await client.put(f"{name()}/k", "v", lease=session.lease_id)
        assert session.done.is_set() and not session.alive
        assert (await client.lease.time_to_live(session.lease_id)).ttl == -1
        with pytest.raises(UsageError):
            AsyncSession(client, ttl=0)


async def test_session_on_an_existing_lease_and_done_when_it_is_revoked(etcd: Any) -> None:
    async with AsyncClient(etcd.url) as client:
        grant = await client.lease.grant(4)
        session = await AsyncSession(client, lease_id=grant.id).start()
        assert session.lease_id == grant.id and session.ttl == 4
        assert not await session.wait_done(0.2)
        await client.lease.revoke(grant.id)  # someone else ends it: the keeper sees it gone
        assert await session.wait_done(6)
        await session.aclose()
        with pytest.raises(SessionExpired):
            await AsyncSession(client, lease_id=grant.id).start()


# --- mutex -----------------------------------------------------------------------------------


async def test_mutex_mutual_exclusion_and_request_order(etcd: Any) -> None:
    """Issue 6 point 1: every contender increments one counter with get-then-put under the
    mutex; the total is exact, and the lock went out in create-revision (request) order."""
    lock, counter = name(), f"{name()}/counter"
    acquired: list[int] = []
    async with AsyncClient(etcd.url) as client:
        await client.put(counter, "0")

        async def worker() -> None:
            async with AsyncSession(client, ttl=30) as session:
                mutex = AsyncMutex(session, lock)
                for _ in range(ROUNDS):
                    async with mutex:
                        acquired.append(mutex.revision)
                        value = int((await client.get(counter)).kvs[0].value)
                        await client.put(counter, str(value + 1))

        tasks = [aspawn(worker) for _ in range(WORKERS)]
        for task in tasks:
            await task.join(300)
        assert int((await client.get(counter)).kvs[0].value) == WORKERS * ROUNDS
        assert len(acquired) == WORKERS * ROUNDS
        assert acquired == sorted(acquired) and len(set(acquired)) == len(acquired)
        assert (await client.get(f"{lock}/", prefix=True, count_only=True)).count == 0


async def test_mutex_key_layout_try_lock_is_owner_and_unlock(etcd: Any) -> None:
    lock = name()
    async with AsyncClient(etcd.url) as client:
        async with AsyncSession(client) as one, AsyncSession(client) as two:
            first, second = AsyncMutex(one, lock), AsyncMutex(two, lock)
            assert await first.try_lock()
            assert first.key == f"{lock}/{one.lease_id:x}".encode()  # Go's layout
            stored = (await client.get(first.key)).kvs[0]
            assert stored.lease == one.lease_id and stored.create_revision == first.revision
            assert first.header is not None and first.header.revision == first.revision
            assert not await second.try_lock()
            assert not second.held  # its key was withdrawn
            assert (await client.get(f"{lock}/", prefix=True, count_only=True)).count == 1

            guarded = Op.txn([first.is_owner()], [Op.put(f"{lock}-data", "x")])
            assert (await client.kv.do(guarded)).succeeded
            await first.lock()  # the session's key is reused: still the owner
            await first.unlock()
            assert not (await client.kv.do(guarded)).succeeded
            with pytest.raises(LockNotHeld):
                await first.unlock()

            assert await second.try_lock()
            with pytest.raises(DeadlineExceeded):
                await first.lock(timeout=0.5)
            assert not first.held  # the timed-out request withdrew its key
            keys = await client.get(f"{lock}/", prefix=True)
            assert [kv.key for kv in keys.kvs] == [second.key]
            await second.unlock()
        with pytest.raises(UsageError):
            AsyncMutex(one, "")


async def test_mutex_waiter_whose_session_ends_gets_session_expired(etcd: Any) -> None:
    lock = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as holder_session:
        holder = AsyncMutex(holder_session, lock)
        await holder.lock()
        waiter_session = await AsyncSession(client, ttl=30).start()
        waiter = AsyncMutex(waiter_session, lock)
        outcome: list[BaseException | None] = []

        async def wait() -> None:
            try:
                await waiter.lock(timeout=20)
                outcome.append(None)
            except Exception as exc:
                outcome.append(exc)

        task = aspawn(wait)
        deadline = monotonic() + 5
        while (await client.get(f"{lock}/", prefix=True, count_only=True)).count < 2:
            assert monotonic() < deadline
        await client.lease.revoke(waiter_session.lease_id)  # the waiter's key goes
        await holder.unlock()
        await task.join(20)
        assert len(outcome) == 1 and isinstance(outcome[0], SessionExpired)
        await waiter_session.aclose()


# --- interop with etcdctl lock ----------------------------------------------------------------


async def test_mutex_held_by_etcdwire_blocks_etcdctl_lock_until_unlocked(etcd: Any) -> None:
    """Issue 6 point 2, first half."""
    lock = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as session:
        mutex = AsyncMutex(session, lock)
        await mutex.lock()
        ctl = Ctl(etcd, "lock", lock)
        try:
            assert ctl.read_line(2.0) is None  # etcdctl waits behind our key
            waiting = await client.get(f"{lock}/", prefix=True)
            assert len(waiting.kvs) == 2 and waiting.kvs[0].key == mutex.key
            await mutex.unlock()
            line = ctl.read_line(10.0)
            assert line is not None and line == waiting.kvs[1].key.decode()
        finally:
            ctl.stop()


async def test_etcdctl_lock_blocks_etcdwire_until_it_releases(etcd: Any) -> None:
    """Issue 6 point 2, second half."""
    lock = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as session:
        mutex = AsyncMutex(session, lock)
        ctl = Ctl(etcd, "lock", lock)
        try:
            line = ctl.read_line(10.0)
            assert line is not None and line.startswith(f"{lock}/")
            assert not await mutex.try_lock()
            with pytest.raises(DeadlineExceeded):
                await mutex.lock(timeout=1.0)
            got: list[float] = []

            async def take() -> None:
                await mutex.lock(timeout=15)
                got.append(monotonic())

            task = aspawn(take)
            assert not got
            released = monotonic()
        finally:
            ctl.stop()  # etcdctl revokes its session: its key goes
        await task.join(15)
        assert got and got[0] >= released
        owner = await client.get(f"{lock}/", prefix=True)
        assert [kv.key for kv in owner.kvs] == [mutex.key]
        await mutex.unlock()
