# Generated from tests/_async/test_client_connect.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Connecting (issue "The client", connection manager): ``unix://`` endpoints on a real etcd,
a DNS lookup bounded by its own timeout, and endpoint auto-sync from MemberList."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from etcdwire import Client
from etcdwire._compat import sleep
from etcdwire._options import ChannelOptions
from etcdwire.errors import (
    ConnectFailed,
    DeadlineExceeded,
    EtcdError,
    NoEndpointAvailable,
    UsageError,
)

pytestmark = pytest.mark.etcd


def test_unix_socket_endpoint_on_real_etcd(
    etcd_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """etcd listens on ``unix://host:port`` as a socket file named ``host:port`` in its working
    directory; the client reaches it as ``unix://<absolute path>``."""
    monkeypatch.chdir(tmp_path)
    member = etcd_factory(start=False)
    member.extra_args.append(f"--listen-client-urls={member.url},unix://etcd.sock:0")
    member.start()
    path = tmp_path / "etcd.sock:0"
    assert path.is_socket()
    with Client(f"unix://{path}", timeout=10) as client:
        put = client.put("over/unix", "socket")
        got = client.get("over/unix")
        assert got.kvs[0].value == b"socket"
        assert got.header.revision == put.header.revision
        (row,) = client.info()
        assert row.endpoint == f"unix://{path}" and row.active
    with Client(member.url, timeout=10) as tcp:  # the same store over TCP
        assert (tcp.get("over/unix")).kvs[0].value == b"socket"


def test_dns_lookup_has_its_own_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver that hangs costs ``dns_timeout``, not the connect timeout or the call's."""
    real = socket.getaddrinfo

    def stalled(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "stalled.example":
            time.sleep(3)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    options = ChannelOptions(dns_timeout=0.3, connect_timeout=20.0)
    with Client("stalled.example:2379", options=options, timeout=2.5) as client:
        started = time.monotonic()
        with pytest.raises(EtcdError) as caught:
            client.get("k")
        took = time.monotonic() - started
    assert isinstance(caught.value, DeadlineExceeded | NoEndpointAvailable)
    assert "DNS lookup timed out" in str(caught.value)
    assert took < 2.5 + 0.5
    (row,) = client.info()
    assert "DNS lookup timed out" in (row.last_error or "")


def test_dns_failure_is_a_typed_connect_error() -> None:
    with Client("no-such-host.invalid:2379", timeout=3) as client:
        with pytest.raises(EtcdError) as caught:
            client.get("k")
    assert isinstance(caught.value, NoEndpointAvailable | ConnectFailed)
    assert str(caught.value).count("DNS lookup failed") == 1  # said once, not per attempt
    (row,) = client.info()
    assert "DNS lookup failed" in (row.last_error or "")


@pytest.mark.cluster
def test_auto_sync_learns_every_member_from_one(etcd_cluster: Any) -> None:
    """Go's AutoSyncInterval: start from one member, the list grows to all of them."""
    first = etcd_cluster.members[0]
    with Client(first.url, auto_sync_interval=0.3, timeout=10) as client:
        client.put("auto/sync", "1")
        for _ in range(100):
            if sorted(client.endpoints) == sorted(etcd_cluster.urls):
                break
            sleep(0.1)
        assert sorted(client.endpoints) == sorted(etcd_cluster.urls)
        assert (client.get("auto/sync")).kvs[0].value == b"1"


def test_auto_sync_interval_must_be_positive() -> None:
    with pytest.raises(UsageError):
        Client("127.0.0.1:2379", auto_sync_interval=0)


def test_channel_for_reuses_the_clients_channel_and_reaches_other_members(
    etcd: Any, etcd_factory: Any
) -> None:
    """``manager.channel_for(endpoint)``: the client's own channel for one of its endpoints
    (however the URL is spelled), a kept extra one for any other member."""
    other = etcd_factory()
    with Client(etcd.url, timeout=10) as client:
        client.get("k")
        manager = client.manager
        own = manager.channel_for(etcd.url)
        assert own is manager.channel_for(etcd.endpoint)  # host:port names the same channel
        assert own.connection is not None and own.connection.usable
        extra = manager.channel_for(other.url)
        assert extra is not own and extra.endpoint == other.url
        status = client.maintenance.status(endpoint=other.url)
        assert extra.connection is not None and extra.connection.usable
        assert status.header.member_id != (client.maintenance.status()).header.member_id
    with pytest.raises(UsageError):
        manager.channel_for(etcd.url)
