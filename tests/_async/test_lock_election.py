"""The v3lock and v3election services through the client against real etcd: locks held by a
lease, elections with proclaim / leader / observe / resign, the errors by name, and interop
with ``etcdctl lock`` and ``etcdctl elect`` in both directions (issue "Administration",
points 1 and 3)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    DeadlineExceeded,
    ElectionNoLeader,
    ElectionNotLeader,
    LeaseNotFound,
    UsageError,
)
from etcdwire._compat import asleep, aspawn, monotonic
from etcdwire.types import LeaderKey, LeaderResponse
from tests.etcdctl_process import EtcdctlProcess as Ctl

pytestmark = pytest.mark.etcd


def name() -> str:
    return f"le-{uuid.uuid4().hex[:8]}"


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    end = monotonic() + timeout
    while not await predicate():
        if monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asleep(0.1)


# --- lock ------------------------------------------------------------------------------------


async def test_lock_is_exclusive_until_unlocked_or_its_lease_ends(etcd: Any) -> None:
    lock = name()
    async with AsyncClient(etcd.url) as client:
        first = await client.lease.grant(30)
        second = await client.lease.grant(30)
        held = await client.lock.lock(lock, lease=first.id)
        assert held.key.startswith(f"{lock}/".encode())
        stored = (await client.get(held.key)).first
        assert stored is not None and stored.lease == first.id

        with pytest.raises(DeadlineExceeded):
            await client.lock.lock(lock, lease=second.id, timeout=0.5)

        async def waiter_gone() -> bool:  # the server withdrew the timed-out request
            return (await client.get(f"{lock}/", prefix=True, count_only=True)).count == 1

        await wait_until(waiter_gone, 5, "the abandoned waiter's key to go")

        await client.lock.unlock(held)
        taken = await client.lock.lock(lock, lease=second.id, timeout=5)
        assert taken.key != held.key

        got: list[bytes] = []

        async def wait_for_lock() -> None:
            got.append((await client.lock.lock(lock, lease=first.id, timeout=15)).key)

        task = aspawn(wait_for_lock)
        await asleep(0.5)
        assert got == []  # still held by the second lease
        await client.lease.revoke(second.id)  # the holder's lease ends: the lock is free
        await task.join(15)
        assert len(got) == 1 and got[0].startswith(f"{lock}/".encode())
        await client.lock.unlock(got[0])
        assert (await client.get(f"{lock}/", prefix=True, count_only=True)).count == 0
        await client.lease.revoke(first.id)


async def test_lock_with_a_kept_lease_and_bad_input(etcd: Any) -> None:
    lock = name()
    async with AsyncClient(etcd.url) as client:
        async with client.lease(10) as kept:
            held = await client.lock.lock(lock, lease=kept)
            assert (await client.get(held.key)).first.lease == kept.id  # type: ignore[union-attr]
            await client.lock.unlock(held.key)
        with pytest.raises(LeaseNotFound, match="requested lease not found"):
            await client.lock.lock(lock, lease=0x7E57_0000_DEAD)
        with pytest.raises(UsageError):
            await client.lock.lock(lock, lease=0)
        with pytest.raises(UsageError):
            await client.lock.lock("", lease=1)
        with pytest.raises(UsageError):
            await client.lock.unlock(b"")


async def test_lock_held_by_etcdwire_blocks_etcdctl_lock_until_released(etcd: Any) -> None:
    lock = name()
    async with AsyncClient(etcd.url) as client:
        lease = await client.lease.grant(30)
        held = await client.lock.lock(lock, lease=lease.id)
        ctl = Ctl(etcd, "lock", lock)
        try:
            assert ctl.read_line(2.0) is None  # etcdctl waits: it has not printed its key
            await client.lock.unlock(held)
            line = ctl.read_line(10.0)
            assert line is not None and line.startswith(f"{lock}/") and line != held.key.decode()
            owner = await client.get(f"{lock}/", prefix=True)
            assert [kv.key.decode() for kv in owner.kvs] == [line]
        finally:
            ctl.stop()
        await client.lease.revoke(lease.id)


async def test_lock_held_by_etcdctl_blocks_etcdwire_until_released(etcd: Any) -> None:
    lock = name()
    async with AsyncClient(etcd.url) as client:
        lease = await client.lease.grant(30)
        ctl = Ctl(etcd, "lock", lock)
        try:
            line = ctl.read_line(10.0)
            assert line is not None and line.startswith(f"{lock}/")
            with pytest.raises(DeadlineExceeded):
                await client.lock.lock(lock, lease=lease.id, timeout=1.0)
        finally:
            ctl.stop()  # etcdctl revokes its session's lease: the lock is free
        held = await client.lock.lock(lock, lease=lease.id, timeout=10)
        owner = await client.get(f"{lock}/", prefix=True)
        assert [kv.key for kv in owner.kvs] == [held.key]
        await client.lock.unlock(held)
        await client.lease.revoke(lease.id)


# --- election --------------------------------------------------------------------------------


async def test_campaign_proclaim_leader_and_resign(etcd: Any) -> None:
    election = name()
    async with AsyncClient(etcd.url) as client:
        first_lease = await client.lease.grant(30)
        second_lease = await client.lease.grant(30)
        with pytest.raises(ElectionNoLeader, match="election: no leader"):
            await client.election.leader(election)
        first = await client.election.campaign(election, "one", lease=first_lease.id)
        assert first.name == election.encode() and first.lease == first_lease.id
        assert first.key.startswith(f"{election}/".encode()) and first.rev > 0
        current = await client.election.leader(election)
        assert current.key == first.key and current.value == b"one"

        elected: list[LeaderKey] = []

        async def second_candidate() -> None:
            elected.append(
                await client.election.campaign(election, "two", lease=second_lease.id, timeout=15)
            )

        task = aspawn(second_candidate)
        await asleep(0.5)
        assert elected == []  # waits behind the leader
        await client.election.proclaim(first, "uno")
        assert (await client.election.leader(election)).value == b"uno"
        await client.election.resign(first)
        await task.join(15)
        assert len(elected) == 1 and elected[0].key != first.key
        assert (await client.election.leader(election)).value == b"two"
        with pytest.raises(ElectionNotLeader, match="election: not leader"):
            await client.election.proclaim(first, "usurper")
        await client.election.resign(first)  # no longer leading: nothing happens
        assert (await client.election.leader(election)).value == b"two"
        await client.election.resign(elected[0])
        with pytest.raises(ElectionNoLeader):
            await client.election.leader(election)
        with pytest.raises(LeaseNotFound):
            await client.election.campaign(election, "x", lease=0x7E57_0000_DEAD)
        with pytest.raises(UsageError):
            await client.election.proclaim("not a leader key", "x")  # type: ignore[arg-type]
        await client.lease.revoke(first_lease.id)
        await client.lease.revoke(second_lease.id)


async def test_observe_streams_leaders_and_values_until_cancelled(etcd: Any) -> None:
    election = name()
    async with AsyncClient(etcd.url) as client:
        lease = await client.lease.grant(30)
        other = await client.lease.grant(30)
        leader = await client.election.campaign(election, "a", lease=lease.id)
        seen: list[LeaderResponse] = []
        observer = client.election.observe(election)

        async def consume() -> None:
            async with observer:
                async for response in observer:
                    seen.append(response)

        task = aspawn(consume)

        async def seen_values(*values: bytes) -> bool:
            return [r.value for r in seen] == list(values)

        await wait_until(lambda: seen_values(b"a"), 5, "the current leader")
        await client.election.proclaim(leader, "b")
        await wait_until(lambda: seen_values(b"a", b"b"), 5, "the proclaimed value")
        await client.election.resign(leader)
        successor = await client.election.campaign(election, "c", lease=other.id)
        await wait_until(lambda: seen_values(b"a", b"b", b"c"), 5, "the next leader")
        assert seen[0].key == seen[1].key == leader.key and seen[2].key == successor.key
        await observer.cancel()
        await task.join(5)
        assert task.done() and observer.cancelled
        assert [r.value async for r in observer] == []  # a cancelled observer yields nothing
        await client.lease.revoke(lease.id)
        await client.lease.revoke(other.id)


async def test_election_won_by_etcdctl_is_seen_by_leader_and_observe(etcd: Any) -> None:
    election = name()
    async with AsyncClient(etcd.url) as client:
        ctl = Ctl(etcd, "elect", election, "ctl-value")
        try:
            key_line, value_line = ctl.read_line(10.0), ctl.read_line(5.0)
            assert key_line is not None and key_line.startswith(f"{election}/")
            assert value_line == "ctl-value"
            current = await client.election.leader(election)
            assert current.key.decode() == key_line and current.value == b"ctl-value"
            async with client.election.observe(election) as observer:
                async for response in observer:
                    assert response.key.decode() == key_line
                    assert response.value == b"ctl-value"
                    break
            lease = await client.lease.grant(30)
            won: list[LeaderKey] = []

            async def campaign() -> None:
                won.append(await client.election.campaign(election, "py", lease=lease.id))

            task = aspawn(campaign)
            await asleep(0.5)
            assert won == []  # etcdctl leads
        finally:
            ctl.stop()  # etcdctl resigns on SIGTERM
        await task.join(10)
        assert len(won) == 1
        assert (await client.election.leader(election)).value == b"py"
        await client.election.resign(won[0])
        await client.lease.revoke(lease.id)


async def test_election_won_by_etcdwire_is_seen_by_etcdctl_observe(etcd: Any) -> None:
    election = name()
    async with AsyncClient(etcd.url) as client:
        lease = await client.lease.grant(30)
        leader = await client.election.campaign(election, "py-1", lease=lease.id)
        ctl = Ctl(etcd, "elect", "-l", election)
        try:
            assert ctl.read_line(10.0) == leader.key.decode()
            assert ctl.read_line(5.0) == "py-1"
            await client.election.proclaim(leader, "py-2")
            assert ctl.read_line(5.0) == leader.key.decode()
            assert ctl.read_line(5.0) == "py-2"
            await client.election.resign(leader)
            other = await client.election.campaign(election, "py-3", lease=lease.id)
            assert ctl.read_line(5.0) == other.key.decode()
            assert ctl.read_line(5.0) == "py-3"
        finally:
            ctl.stop()
        await client.lease.revoke(lease.id)
