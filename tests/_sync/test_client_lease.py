# Generated from tests/_async/test_client_lease.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Leases through the client against real etcd: the lease RPCs, kept leases on one shared
keep-alive stream, and explicit loss signals (issue "The client", points 1 and 3). The 30-second
holds across a failover and a restart run both clients at once: tests/test_lease_both_clients.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import Client, LeaseNotFound
from etcdwire._compat import sleep, monotonic

pytestmark = pytest.mark.etcd


def key() -> str:
    return f"lease-{uuid.uuid4().hex[:8]}"


def test_lease_rpcs(etcd: Any) -> None:
    with Client(etcd.url) as client:
        chosen = 0x5EED0000 + int(uuid.uuid4().hex[:4], 16)
        grant = client.lease.grant(30, lease_id=chosen)
        assert grant.id == chosen and grant.ttl == 30
        k = key()
        client.put(k, "v", lease=grant.id)
        ttl = client.lease.time_to_live(grant.id, keys=True)
        assert 0 < ttl.ttl <= 30 and ttl.granted_ttl == 30 and ttl.keys == (k.encode(),)
        assert grant.id in (client.lease.leases()).ids
        reply = client.lease.keep_alive_once(grant.id)
        assert reply.id == grant.id and reply.ttl == 30
        client.lease.revoke(grant.id)
        assert (client.get(k)).count == 0
        assert (client.lease.time_to_live(grant.id)).ttl == -1
        with pytest.raises(LeaseNotFound):
            client.lease.revoke(grant.id)
        gone = client.lease.keep_alive_once(grant.id)
        assert gone.ttl <= 0


def test_kept_leases_share_one_stream_and_outlive_their_ttl(etcd: Any) -> None:
    """Go's lease.go: one LeaseKeepAlive stream for all leases, each refreshed every TTL/3."""
    with Client(etcd.url) as client:
        with client.lease(2) as first, client.lease(3) as second:
            k = key()
            client.put(k, "v", lease=first.id)
            sleep(5)
            assert first.alive and second.alive
            assert (client.lease.time_to_live(first.id)).ttl > 0
            assert (client.lease.time_to_live(second.id)).ttl > 0
            assert client.lease.keeper.streams_opened == 1
            assert first.last_refresh is not None
            assert monotonic() - first.last_refresh < 2
            # refreshed every TTL/3: never less than a third of the TTL left, never more
            # than the TTL
            for lease in (first, second):
                assert lease.remaining is not None
                assert lease.ttl / 3 - 0.5 < lease.remaining <= lease.ttl
        # leaving the block revoked both
        assert (client.get(k)).count == 0
        assert not first.alive and first.lost_reason == "revoked by this client"
        assert first.remaining == 0.0
        assert client.lease(5).remaining is None  # not granted yet


def test_lease_revoked_elsewhere_is_signalled_lost(etcd: Any) -> None:
    """A kept lease that the server says is gone (TTL 0 in the keep-alive reply) is signalled:
    the event is set, the callback runs, and ``alive`` is False."""
    seen: list[str] = []
    with Client(etcd.url) as client, Client(etcd.url) as other:
        lease = client.lease(30).grant()
        lease.on_lost(lambda kept: seen.append(kept.lost_reason or ""))
        other.lease.revoke(lease.id)
        assert lease.wait_lost(timeout=15)
        assert not lease.alive
        assert seen == ["expired or revoked"]


def test_closing_the_client_lets_the_lease_expire_and_says_so(etcd: Any) -> None:
    with Client(etcd.url) as observer:
        client = Client(etcd.url)
        lease = client.lease(2).grant()
        client.close()
        assert lease.lost.is_set() and "closed" in (lease.lost_reason or "")
        sleep(3.5)
        assert (observer.lease.time_to_live(lease.id)).ttl == -1
