# Generated from tests/_async/test_client_auth.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Authentication against real etcd: the token is fetched before the first call, sent as
metadata, and refreshed without user action when the server's simple token expires
(``--auth-token-ttl``) (issue "The client", point 4; etcd-clients.md: the #1 Python complaint)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from etcdwire import Client, AuthFailed, Compare, Op
from etcdwire._compat import sleep
from etcdwire.trace import TraceWriter

pytestmark = pytest.mark.etcd


@pytest.fixture
def auth_member(etcd_factory: Any, etcdctl: Any) -> Any:
    member = etcd_factory("--auth-token-ttl=3")
    etcdctl("user", "add", "root", "--new-user-password=rootpw", member=member, check=True)
    etcdctl("user", "add", "alice", "--new-user-password=s3cret", member=member, check=True)
    etcdctl("role", "add", "app", member=member, check=True)
    etcdctl("role", "grant-permission", "app", "readwrite", "app/", "--prefix=true",
            member=member, check=True)
    etcdctl("user", "grant-role", "alice", "app", member=member, check=True)
    etcdctl("auth", "enable", member=member, check=True)
    return member


def test_idle_past_token_ttl_then_get_txn_and_keepalive_succeed(auth_member: Any) -> None:
    """With --auth-token-ttl 3, a client idle for 10 s then does a get, a txn and a lease
    keep-alive without any action from the user."""
    out = io.StringIO()
    with Client(
        auth_member.url, username="alice", password="s3cret", trace=TraceWriter(out)
    ) as client:
        client.put("app/k", "v1")
        lease = client.lease.grant(60)
        sleep(10)
        assert (client.get("app/k")).value == b"v1"
        result = client.txn(
            [Compare.value("app/k") == "v1"], [Op.put("app/k", "v2")], []
        )
        assert result.succeeded
        assert (client.lease.keep_alive_once(lease.id)).ttl > 0
        sleep(4)
        with client.lease(5) as kept:
            sleep(1)
            assert kept.alive
        assert (client.get("app/k")).value == b"v2"
    trace = out.getvalue()
    assert "s3cret" not in trace
    assert trace.count("/etcdserverpb.Auth/Authenticate") >= 2  # fetched, then refreshed


def test_wrong_password_is_auth_failed(auth_member: Any) -> None:
    with Client(auth_member.url, username="alice", password="wrong") as client:
        with pytest.raises(AuthFailed) as info:
            client.get("app/k")
    assert "wrong" not in str(info.value)


def test_static_token_is_sent_and_never_refreshed(auth_member: Any) -> None:
    with Client(auth_member.url, username="root", password="rootpw") as root:
        root.put("app/static", "s")
        token = root.manager.tokens.token_for_request()
    assert token
    with Client(auth_member.url, token=token) as client:
        assert (client.get("app/static")).value == b"s"
