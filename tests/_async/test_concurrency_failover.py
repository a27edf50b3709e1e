"""Election failover (issue 6, point 5): on a 3-member cluster, killing the member that the
leading client talks to (the raft leader too) does not cost the client its leadership when it
fails over within its session's TTL: the lease is kept alive through another member, so the
leader key stays and the election keeps answering to it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, AsyncElection, AsyncSession, DeadlineExceeded
from etcdwire._compat import asleep

pytestmark = [pytest.mark.etcd, pytest.mark.cluster]

TTL = 5


async def test_election_leadership_survives_the_loss_of_its_member(fresh_cluster: Any) -> None:
    cluster = fresh_cluster(3)
    raft_leader = cluster.wait_leader()
    others = [m for m in cluster.members if m is not raft_leader]
    name = f"fo-el-{uuid.uuid4().hex[:8]}"
    endpoints = [raft_leader.url, *(m.url for m in others)]
    async with (
        AsyncClient(endpoints, timeout=10) as client,
        AsyncSession(client, ttl=TTL) as session,
    ):
        election = AsyncElection(session, name)
        await election.campaign("before")
        pinned = next(row.endpoint for row in client.info() if row.active)
        assert pinned == raft_leader.url
        raft_leader.kill()

        await asleep(TTL + 2)  # longer than the lease would live without refreshes
        assert session.alive and not session.done.is_set()
        await election.proclaim("after")  # guarded by our key's create revision
        leader = await election.leader()
        assert leader is not None and leader.key == election.key
        assert leader.value == b"after" and leader.lease == session.lease_id
        assert next(row.endpoint for row in client.info() if row.active) != pinned

        async with (
            AsyncClient([m.url for m in others], timeout=10) as rival_client,
            AsyncSession(rival_client, ttl=TTL) as rival_session,
        ):
            rival = AsyncElection(rival_session, name)
            with pytest.raises(DeadlineExceeded):
                await rival.campaign("rival", timeout=1.0)
        await election.resign()
