"""Namespaces (issue 6, "Namespace") against real etcd: every key of KV, txn, watch and lease
key lists lives under the prefix, is given and returned without it, and ranges stay inside
it (after Go's client/v3/namespace)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, AsyncNamespace, Compare, Op, UsageError
from etcdwire.types import Event, EventType

pytestmark = pytest.mark.etcd


async def test_namespace_kv_txn_and_ranges_stay_under_the_prefix(etcd: Any) -> None:
    root = f"ns-{uuid.uuid4().hex[:8]}"
    async with AsyncClient(etcd.url) as client:
        ns = AsyncNamespace(client, f"{root}/app/")
        await client.put(f"{root}/outside", "no")
        await client.put(f"{root}/app", "the prefix without its slash")
        await ns.put("a", "1")
        await ns.put("b", "2")
        assert (await client.get(f"{root}/app/a")).kvs[0].value == b"1"
        got = await ns.get("a")
        assert [(kv.key, kv.value) for kv in got.kvs] == [(b"a", b"1")]
        everything = await ns.get("", prefix=True)
        assert [kv.key for kv in everything.kvs] == [b"a", b"b"]
        onwards = await ns.get("b", from_key=True)
        assert [kv.key for kv in onwards.kvs] == [b"b"]
        between = await ns.get("a", range_end="b")
        assert [kv.key for kv in between.kvs] == [b"a"]
        previous = await ns.put("a", "1b", prev_kv=True)
        assert previous.prev_kv is not None and previous.prev_kv.key == b"a"

        result = await ns.txn(
            [Compare.value("a") == b"1b"],
            [Op.put("c", "3"), Op.get("", prefix=True), Op.txn((), [Op.get("c")])],
        )
        assert result.succeeded
        listing, nested = result.responses[1], result.responses[2]
        assert [kv.key for kv in listing.kvs] == [b"a", b"b", b"c"]  # type: ignore[union-attr]
        assert nested.responses[0].kvs[0].key == b"c"  # type: ignore[union-attr]

        gone = await ns.delete("", prefix=True, prev_kv=True)
        assert gone.deleted == 3 and sorted(kv.key for kv in gone.prev_kvs) == [b"a", b"b", b"c"]
        assert (await client.get(f"{root}/outside")).kvs[0].value == b"no"
        assert (await client.get(f"{root}/app")).kvs  # the bare prefix is not in the namespace
        with pytest.raises(UsageError):
            AsyncNamespace(client, "")


async def test_namespace_watch_and_lease_keys(etcd: Any) -> None:
    root = f"ns-{uuid.uuid4().hex[:8]}"
    async with AsyncClient(etcd.url) as client:
        ns = AsyncNamespace(client, f"{root}/")
        async with ns.watch("", prefix=True, prev_kv=True) as watch:
            await client.put(f"{root}-sibling/x", "not ours")
            await ns.put("k", "v1")
            await ns.put("k", "v2")
            await ns.delete("k")
            events: list[Event] = []
            while len(events) < 3:
                response = await watch.receive(timeout=5)
                assert response is not None
                events.extend(response.events)
        assert [(e.type, e.kv.key) for e in events] == [
            (EventType.PUT, b"k"),
            (EventType.PUT, b"k"),
            (EventType.DELETE, b"k"),
        ]
        assert events[1].prev_kv is not None and events[1].prev_kv.key == b"k"

        grant = await ns.lease.grant(30)
        await ns.put("leased", "x", lease=grant.id)
        await client.put(f"{root}-other", "y", lease=grant.id)
        status = await ns.time_to_live(grant.id, keys=True)
        assert status.keys == (b"leased",)
        await ns.lease.revoke(grant.id)
