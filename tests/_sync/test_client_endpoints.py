# Generated from tests/_async/test_client_endpoints.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Endpoint handling against real etcd (issue "The client"): round robin across members,
endpoint sync from MemberList, and the status table."""

from __future__ import annotations

from typing import Any

import pytest

from etcdwire import Client, EndpointState

pytestmark = [pytest.mark.etcd, pytest.mark.cluster]


def test_round_robin_spreads_calls_over_every_member(etcd_cluster: Any) -> None:
    with Client(etcd_cluster.urls, policy="round_robin") as client:
        for _ in range(9):
            client.get("rr", serializable=True)
        rows = client.info()
    assert all(row.connects == 1 and row.state is EndpointState.READY for row in rows)


def test_sync_endpoints_learns_the_members_from_one(etcd_cluster: Any) -> None:
    """Go's Client.Sync: start from one endpoint, learn every member's client URL."""
    first = etcd_cluster.members[0]
    with Client(first.url) as client:
        endpoints = client.sync_endpoints(timeout=10)
        assert sorted(endpoints) == sorted(etcd_cluster.urls)
        assert sorted(row.endpoint for row in client.info()) == sorted(etcd_cluster.urls)
        assert (client.put("synced", "yes")).header.revision > 0


def test_info_reports_state_errors_and_streams(etcd_cluster: Any) -> None:
    down = "http://127.0.0.1:1"  # nothing listens there
    with Client([down, *etcd_cluster.urls], timeout=10) as client:
        client.put("info", "x")
        with client.watch("info"):
            rows = {row.endpoint: row for row in client.info()}
    assert rows[down].failures >= 1 and rows[down].last_error
    assert rows[down].state in (EndpointState.BACKING_OFF, EndpointState.FAILED)
    active = [row for row in rows.values() if row.active]
    assert len(active) == 1 and active[0].state is EndpointState.READY
