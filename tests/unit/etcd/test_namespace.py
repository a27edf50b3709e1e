"""Namespace translation, pure (after Go's client/v3/namespace ``prefixInterval``)."""

from __future__ import annotations

from etcdwire import Compare, Op
from etcdwire._etcd.namespace import prefix_interval, prefix_op, strip
from etcdwire._etcd.ops import TxnOp
from etcdwire.types import GetResponse, KeyValue, ResponseHeader, TxnResponse


def test_prefix_interval_single_key_range_and_to_the_end() -> None:
    assert prefix_interval(b"p/", b"k", b"") == (b"p/k", b"")
    assert prefix_interval(b"p/", b"a", b"c") == (b"p/a", b"p/c")
    assert prefix_interval(b"p/", b"\0", b"\0") == (b"p/\0", b"p0")  # every key
    assert prefix_interval(b"\xff", b"k", b"\0") == (b"\xffk", b"\0")  # no end above 0xff


def test_prefix_op_reaches_nested_txns_and_compares() -> None:
    op = Op.txn([Compare.version("a") == 0], [Op.txn((), [Op.put("b", "")])], [Op.get("c")])
    prefixed = prefix_op(b"p/", op)
    assert isinstance(prefixed, TxnOp)
    assert prefixed.compare[0].key == b"p/a"
    inner = prefixed.success[0]
    assert isinstance(inner, TxnOp) and inner.success[0].key == b"p/b"  # type: ignore[union-attr]
    assert prefixed.failure[0].key == b"p/c"  # type: ignore[union-attr]


def test_strip_removes_the_prefix_from_nested_responses() -> None:
    header = ResponseHeader(revision=3)
    got = GetResponse(header, (KeyValue(b"p/x", b"1"),))
    response = strip(b"p/", TxnResponse(header, True, (got,)))
    assert response.responses[0].kvs[0].key == b"x"  # type: ignore[union-attr]
