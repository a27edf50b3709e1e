"""A lease with TTL 5 s kept alive for 30 s across a failover and across a restart of the only
member (issue "The client", point 3), by the blocking and the asyncio client at once.

Each scenario runs both clients side by side: one cluster, one fault, one 30-second window. Each
client keeps a lease of its own; both pin the first endpoint of the same list, so the member
stopped is the one both are pinned to. The blocking client's calls run in a worker thread, so
the event loop (and the asyncio keeper) never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from etcdwire import AsyncClient, AsyncKeptLease, Client, KeptLease
from etcdwire._compat import monotonic

pytestmark = [pytest.mark.etcd, pytest.mark.cluster]

TTL = 5


async def keep_for(leases: tuple[KeptLease, AsyncKeptLease], seconds: float) -> None:
    """Check every half second for ``seconds`` that neither lease was lost."""
    end = monotonic() + seconds
    while monotonic() < end:
        for lease in leases:
            assert lease.alive, lease.lost_reason
        await asyncio.sleep(0.5)


def active_endpoint(client: Client | AsyncClient) -> str:
    return next(row.endpoint for row in client.info() if row.active)


async def remaining_ttls(blocking: Client, client: AsyncClient, leases: Any) -> tuple[int, int]:
    """Each lease's remaining TTL as the server reports it."""
    ours, theirs = leases
    blocking_ttl = await asyncio.to_thread(blocking.lease.time_to_live, ours.id)
    asyncio_ttl = await client.lease.time_to_live(theirs.id)
    return blocking_ttl.ttl, asyncio_ttl.ttl


@contextlib.asynccontextmanager
async def both_clients(
    urls: Sequence[str],
) -> AsyncIterator[tuple[Client, AsyncClient, tuple[KeptLease, AsyncKeptLease]]]:
    """A blocking and an asyncio client of ``urls``, each keeping a lease of its own that has
    been alive for 10 s; the leases are revoked at the end."""
    with Client(urls, timeout=10) as blocking:
        async with AsyncClient(urls, timeout=10) as client:
            leases = (
                await asyncio.to_thread(blocking.lease(TTL).grant),
                await client.lease(TTL).grant(),
            )
            await keep_for(leases, 10)
            yield blocking, client, leases
            await asyncio.to_thread(leases[0].revoke)
            await leases[1].revoke()


def test_lease_kept_alive_30s_across_a_failover_by_both_clients(fresh_cluster: Any) -> None:
    """Stop the member both clients are pinned to after 10 s: each keep-alive stream moves to
    another member and neither lease lapses in the 30 s."""
    cluster = fresh_cluster(3)

    async def scenario() -> None:
        async with both_clients(cluster.urls) as (blocking, client, leases):
            pinned = active_endpoint(client)
            assert active_endpoint(blocking) == pinned
            victim = next(m for m in cluster.members if m.url == pinned)
            await asyncio.to_thread(victim.stop)
            await keep_for(leases, 20)
            assert min(await remaining_ttls(blocking, client, leases)) > 0
            assert blocking.lease.keeper.streams_opened >= 2
            assert client.lease.keeper.streams_opened >= 2
            assert active_endpoint(blocking) != pinned
            assert active_endpoint(client) != pinned

    asyncio.run(scenario())


def test_lease_kept_alive_30s_across_a_restart_of_the_only_member_by_both_clients(
    etcd_factory: Any,
) -> None:
    """Restart the only member after 10 s: each keeper reconnects with backoff within the TTL
    and both leases stay alive (etcd renews leases on restart)."""
    member = etcd_factory()

    async def scenario() -> None:
        async with both_clients([member.url]) as (blocking, client, leases):
            await asyncio.to_thread(member.stop)
            await asyncio.sleep(1)
            await asyncio.to_thread(member.restart)
            await keep_for(leases, 20)
            assert min(await remaining_ttls(blocking, client, leases)) > 0
            assert blocking.lease.keeper.streams_opened >= 2
            assert client.lease.keeper.streams_opened >= 2

    asyncio.run(scenario())
