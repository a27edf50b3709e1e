# Generated from tests/_async/test_client_kv.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""KV and Txn through the client against real etcd: every RangeRequest option, put and delete
options, compaction, txn compares and nested txns, helpers, the paging iterator, and bad input
rejected before anything is sent (issue "The client", point 1)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import (
    Client,
    ChannelOptions,
    Compacted,
    Compare,
    EmptyKey,
    Op,
    ResourceExhausted,
    UsageError,
)
from etcdwire.types import DeleteResponse, GetResponse, PutResponse, TxnResponse

pytestmark = pytest.mark.etcd


def prefix() -> str:
    return f"kv-{uuid.uuid4().hex[:8]}/"


def test_get_put_delete_basics(etcd: Any) -> None:
    p = prefix()
    with Client(etcd.url) as client:
        put = client.put(p + "a", b"\x00\xffbinary")
        assert put.header.revision > 0 and put.prev_kv is None
        again = client.put(p + "a", "text", prev_kv=True)
        assert again.prev_kv is not None and again.prev_kv.value == b"\x00\xffbinary"
        got = client.get(p + "a")
        assert got.value == b"text"
        assert got.first is not None and got.first.version == 2
        assert got.first.create_revision == put.header.revision
        assert got.first.mod_revision == again.header.revision
        assert got.header.revision == again.header.revision
        assert (client.get(p + "missing")).value is None
        gone = client.delete(p + "a", prev_kv=True)
        assert gone.deleted == 1 and gone.prev_kvs[0].value == b"text"


def test_range_options(etcd: Any) -> None:
    """Every RangeRequest option is honoured (python-etcd3 #1716: options silently dropped)."""
    p = prefix()
    with Client(etcd.url) as client:
        revisions = {}
        for name in ["c", "a", "b", "d"]:
            revisions[name] = (client.put(p + name, name * 3)).header.revision
        client.put(p + "a", "aaaa")  # a: version 2
        keys = lambda r: [kv.key.decode()[len(p) :] for kv in r.kvs]  # noqa: E731
        assert keys(client.get(p, prefix=True)) == ["a", "b", "c", "d"]
        assert keys(client.get(p + "b", range_end=p + "d")) == ["b", "c"]
        assert keys(client.get(p + "c", from_key=True, limit=2)) == ["c", "d"]
        limited = client.get(p, prefix=True, limit=2)
        assert keys(limited) == ["a", "b"] and limited.more and limited.count == 4
        by_create = client.get(p, prefix=True, sort_target="create_revision")
        assert keys(by_create) == ["c", "a", "b", "d"]
        by_version_desc = client.get(
            p, prefix=True, sort_target="version", sort_order="descend"
        )
        assert keys(by_version_desc)[0] == "a"
        assert keys(client.get(p, prefix=True, sort_order="descend")) == [
            "d", "c", "b", "a",
        ]
        old = client.get(p + "a", revision=revisions["d"])
        assert old.value == b"aaa"
        serial = client.get(p, prefix=True, serializable=True)
        assert serial.count == 4
        only_keys = client.get(p, prefix=True, keys_only=True)
        assert all(kv.value == b"" for kv in only_keys.kvs) and len(only_keys.kvs) == 4
        counted = client.get(p, prefix=True, count_only=True)
        assert counted.count == 4 and counted.kvs == ()
        recent = client.get(p, prefix=True, min_mod_revision=revisions["d"])
        assert keys(recent) == ["a", "d"]
        early = client.get(p, prefix=True, max_create_revision=revisions["a"])
        assert keys(early) == ["a", "c"]
        late = client.get(p, prefix=True, min_create_revision=revisions["b"])
        assert keys(late) == ["b", "d"]
        unmodified = client.get(p, prefix=True, max_mod_revision=revisions["b"])
        assert keys(unmodified) == ["b", "c"]


def test_prefix_ending_in_0xff_gets_the_right_range_end(etcd: Any) -> None:
    """A prefix ending in 0xFF bytes: the range end increments the last byte below 0xFF
    (Go's GetPrefixRangeEnd), so siblings after the prefix are not matched."""
    base = prefix().encode()
    with Client(etcd.url) as client:
        client.put(base + b"\xff", "in")
        client.put(base + b"\xff\xff\x01", "in")
        client.put(base + b"\xfe", "out")
        sibling = base[:-1] + bytes([base[-1] + 1])
        client.put(sibling, "out")
        got = client.get(base + b"\xff", prefix=True)
        assert sorted(kv.key for kv in got.kvs) == [base + b"\xff", base + b"\xff\xff\x01"]


def test_put_ignore_value_and_lease(etcd: Any) -> None:
    p = prefix()
    with Client(etcd.url) as client:
        grant = client.lease.grant(60)
        client.put(p + "k", "v1", lease=grant.id)
        client.put(p + "k", "", ignore_value=True, lease=0)
        kv = (client.get(p + "k")).first
        assert kv is not None and kv.value == b"v1" and kv.lease == 0
        client.put(p + "k", "v2", lease=grant.id)
        client.put(p + "k", "v3", ignore_lease=True)
        kv = (client.get(p + "k")).first
        assert kv is not None and kv.value == b"v3" and kv.lease == grant.id
        client.lease.revoke(grant.id)
        assert (client.get(p + "k")).count == 0


def test_delete_range_and_prefix(etcd: Any) -> None:
    p = prefix()
    with Client(etcd.url) as client:
        for name in "abcde":
            client.put(p + name, name)
        ranged = client.delete(p + "b", range_end=p + "d")
        assert ranged.deleted == 2
        rest = client.delete(p, prefix=True, prev_kv=True)
        assert rest.deleted == 3
        assert sorted(kv.value for kv in rest.prev_kvs) == [b"a", b"d", b"e"]


def test_txn_compares_nested_and_typed_responses(etcd: Any) -> None:
    p = prefix()
    with Client(etcd.url) as client:
        first = client.put(p + "x", "1")
        result = client.txn(
            [
                Compare.value(p + "x") == "1",
                Compare.version(p + "x") > 0,
                Compare.create_revision(p + "x") == first.header.revision,
                Compare.mod_revision(p + "x") < first.header.revision + 1,
                Compare.lease(p + "x") == 0,
                Compare.version(p, prefix=True) > 0,
            ],
            [
                Op.put(p + "y", "2"),
                Op.get(p + "x"),
                Op.delete(p + "x", prev_kv=True),
                # Nested compares see the store as it was before this txn (etcd's txn read
                # view), so x is still "1" here although the op before deletes it.
                Op.txn([Compare.value(p + "x") == "1"], [Op.put(p + "z", "3")], []),
            ],
            [Op.get(p + "x")],
        )
        assert result.succeeded
        kinds = [type(r) for r in result.responses]
        assert kinds == [PutResponse, GetResponse, DeleteResponse, TxnResponse]
        get = result.responses[1]
        assert isinstance(get, GetResponse) and get.value == b"1"
        nested = result.responses[3]
        assert isinstance(nested, TxnResponse) and nested.succeeded
        assert (client.get(p + "z")).value == b"3"
        failed = client.txn([Compare.value(p + "y") == "nope"], [], [Op.get(p + "y")])
        assert not failed.succeeded
        assert isinstance(failed.responses[0], GetResponse)
        assert failed.responses[0].value == b"2"


def test_txn_helpers(etcd: Any) -> None:
    p = prefix()
    with Client(etcd.url) as client:
        assert client.kv.put_if_absent(p + "k", "v")
        assert not client.kv.put_if_absent(p + "k", "w")
        assert not client.kv.compare_and_swap(p + "k", "wrong", "x")
        assert client.kv.compare_and_swap(p + "k", "v", "x")
        assert (client.get(p + "k")).value == b"x"
        assert not client.kv.compare_and_delete(p + "k", "v")
        assert client.kv.compare_and_delete(p + "k", "x")
        assert (client.get(p + "k")).count == 0


def test_compact_then_old_revision_is_compacted(etcd: Any) -> None:
    p = prefix()
    with Client(etcd.url) as client:
        old = client.put(p + "c", "1")
        new = client.put(p + "c", "2")
        client.kv.compact(new.header.revision, physical=True)
        with pytest.raises(Compacted):
            client.get(p + "c", revision=old.header.revision)
        assert (client.get(p + "c")).value == b"2"


def test_bad_input_is_usage_error_before_sending(etcd: Any) -> None:
    """Empty keys, wrong types, too many txn ops and oversized values raise UsageError
    before any request is sent; the server-side equivalent is the named etcd error."""
    calls: list[Any] = []
    with Client(etcd.url, trace=calls.append) as client:
        with pytest.raises(UsageError):
            client.put("", "v")
        with pytest.raises(UsageError):
            client.put(123, "v")  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            client.get("k", limit=-1)
        with pytest.raises(UsageError):
            client.txn([], [Op.put(f"k{i}", "v") for i in range(129)])
        with pytest.raises(UsageError):
            client.put("big", b"x" * (2 * 1024 * 1024))
        with pytest.raises(UsageError):
            client.get("k", timeout=-1)
        assert calls == []  # not even a connection was opened
        assert issubclass(EmptyKey, Exception)


def test_paging_iterator_walks_10000_keys_under_a_1_mib_message_limit(etcd: Any) -> None:
    """A range larger than the receive limit fails in one piece (RESOURCE_EXHAUSTED) but the
    paging iterator walks all 10,000 keys in bounded chunks, in order, at one revision."""
    p = prefix()
    value = b"v" * 200
    with Client(etcd.url) as writer:
        for start in range(0, 10_000, 100):
            writer.txn(
                [], [Op.put(f"{p}{i:05d}", value) for i in range(start, start + 100)]
            )
    options = ChannelOptions(max_receive_message_length=1024 * 1024)
    with Client(etcd.url, options=options) as client:
        with pytest.raises(ResourceExhausted):
            client.get(p, prefix=True)
        keys = [kv.key for kv in client.kv.get_all(p, prefix=True, page_size=1000)]
    assert len(keys) == 10_000
    assert keys == sorted(keys)
    assert keys[0] == f"{p}00000".encode() and keys[-1] == f"{p}09999".encode()
