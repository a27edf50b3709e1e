"""Leases through the client against real etcd: the lease RPCs, kept leases on one shared
keep-alive stream, and explicit loss signals (issue "The client", points 1 and 3). The 30-second
holds across a failover and a restart run both clients at once: tests/test_lease_both_clients.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, LeaseNotFound
from etcdwire._compat import asleep, monotonic

pytestmark = pytest.mark.etcd


def key() -> str:
    return f"lease-{uuid.uuid4().hex[:8]}"


async def test_lease_rpcs(etcd: Any) -> None:
    async with AsyncClient(etcd.url) as client:
        chosen = 0x5EED0000 + int(uuid.uuid4().hex[:4], 16)
        grant = await client.lease.grant(30, lease_id=chosen)
        assert grant.id == chosen and grant.ttl == 30
        k = key()
        await client.put(k, "v", lease=grant.id)
        ttl = await client.lease.time_to_live(grant.id, keys=True)
        assert 0 < ttl.ttl <= 30 and ttl.granted_ttl == 30 and ttl.keys == (k.encode(),)
        assert grant.id in (await client.lease.leases()).ids
        reply = await client.lease.keep_alive_once(grant.id)
        assert reply.id == grant.id and reply.ttl == 30
        await client.lease.revoke(grant.id)
        assert (await client.get(k)).count == 0
        assert (await client.lease.time_to_live(grant.id)).ttl == -1
        with pytest.raises(LeaseNotFound):
            await client.lease.revoke(grant.id)
        gone = await client.lease.keep_alive_once(grant.id)
        assert gone.ttl <= 0


async def test_kept_leases_share_one_stream_and_outlive_their_ttl(etcd: Any) -> None:
    """Go's lease.go: one LeaseKeepAlive stream for all leases, each refreshed every TTL/3."""
    async with AsyncClient(etcd.url) as client:
        async with client.lease(2) as first, client.lease(3) as second:
            k = key()
            await client.put(k, "v", lease=first.id)
            await asleep(5)
            assert first.alive and second.alive
            assert (await client.lease.time_to_live(first.id)).ttl > 0
            assert (await client.lease.time_to_live(second.id)).ttl > 0
            assert client.lease.keeper.streams_opened == 1
            assert first.last_refresh is not None
            assert monotonic() - first.last_refresh < 2
            # refreshed every TTL/3: never less than a third of the TTL left, never more
            # than the TTL
            for lease in (first, second):
                assert lease.remaining is not None
                assert lease.ttl / 3 - 0.5 < lease.remaining <= lease.ttl
        # leaving the block revoked both
        assert (await client.get(k)).count == 0
        assert not first.alive and first.lost_reason == "revoked by this client"
        assert first.remaining == 0.0
        assert client.lease(5).remaining is None  # not granted yet


async def test_lease_revoked_elsewhere_is_signalled_lost(etcd: Any) -> None:
    """A kept lease that the server says is gone (TTL 0 in the keep-alive reply) is signalled:
    the event is set, the callback runs, and ``alive`` is False."""
    seen: list[str] = []
    async with AsyncClient(etcd.url) as client, AsyncClient(etcd.url) as other:
        lease = await client.lease(30).grant()
        lease.on_lost(lambda kept: seen.append(kept.lost_reason or ""))
        await other.lease.revoke(lease.id)
        assert await lease.wait_lost(timeout=15)
        assert not lease.alive
        assert seen == ["expired or revoked"]


async def test_closing_the_client_lets_the_lease_expire_and_says_so(etcd: Any) -> None:
    async with AsyncClient(etcd.url) as observer:
        client = AsyncClient(etcd.url)
        lease = await client.lease(2).grant()
        await client.aclose()
        assert lease.lost.is_set() and "closed" in (lease.lost_reason or "")
        await asleep(3.5)
        assert (await observer.lease.time_to_live(lease.id)).ttl == -1
