"""Endpoint handling against real etcd (issue "The client"): round robin across members,
endpoint sync from MemberList, and the status table."""

from __future__ import annotations

from typing import Any

import pytest

from etcdwire import AsyncClient, EndpointState

pytestmark = [pytest.mark.etcd, pytest.mark.cluster]


async def test_round_robin_spreads_calls_over_every_member(etcd_cluster: Any) -> None:
    async with AsyncClient(etcd_cluster.urls, policy="round_robin") as client:
        for _ in range(9):
            await client.get("rr", serializable=True)
        rows = client.info()
    assert all(row.connects == 1 and row.state is EndpointState.READY for row in rows)


async def test_sync_endpoints_learns_the_members_from_one(etcd_cluster: Any) -> None:
    """Go's Client.Sync: start from one endpoint, learn every member's client URL."""
    first = etcd_cluster.members[0]
    async with AsyncClient(first.url) as client:
        endpoints = await client.sync_endpoints(timeout=10)
        assert sorted(endpoints) == sorted(etcd_cluster.urls)
        assert sorted(row.endpoint for row in client.info()) == sorted(etcd_cluster.urls)
        assert (await client.put("synced", "yes")).header.revision > 0


async def test_info_reports_state_errors_and_streams(etcd_cluster: Any) -> None:
    down = "http://127.0.0.1:1"  # nothing listens there
    async with AsyncClient([down, *etcd_cluster.urls], timeout=10) as client:
        await client.put("info", "x")
        async with client.watch("info"):
            rows = {row.endpoint: row for row in client.info()}
    assert rows[down].failures >= 1 and rows[down].last_error
    assert rows[down].state in (EndpointState.BACKING_OFF, EndpointState.FAILED)
    active = [row for row in rows.values() if row.active]
    assert len(active) == 1 and active[0].state is EndpointState.READY
