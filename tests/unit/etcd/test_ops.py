"""KV operations as data: option -> protobuf field mapping, validation, comparisons, txns,
server limits, helpers and paging (etcdwire._etcd.ops).

Semantics follow etcd's Go client (client/v3/op.go, compare.go, txn.go) and the server's request
checks (server/etcdserver/api/v3rpc/key.go). Rules marked "etcd 3.5.1" were also checked by
sending the same requests to a real etcd 3.5.1 server while this module was written.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire._etcd import methods
from etcdwire._etcd.ops import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_TXN_OPS,
    GRPC_OVERHEAD_BYTES,
    MAX_LEASE_TTL,
    RAFT_ENVELOPE_BYTES,
    Compare,
    CompareResult,
    CompareSubject,
    CompareTarget,
    DeleteOp,
    GetOp,
    Op,
    PutOp,
    TxnOp,
    compact_request,
    compare_and_delete,
    compare_and_swap,
    key_exists,
    key_missing,
    lease_grant_request,
    lease_keep_alive_request,
    lease_revoke_request,
    lease_time_to_live_request,
    next_page,
    parse_compact_response,
    prefix_range_end,
    put_if_absent,
)
from etcdwire._pb import kv_pb2, rpc_pb2
from etcdwire.errors import UsageError
from etcdwire.types import (
    CompactResponse,
    DeleteResponse,
    GetResponse,
    KeyValue,
    PutResponse,
    ResponseHeader,
    SortOrder,
    SortTarget,
    TxnResponse,
)

RR = rpc_pb2.RangeRequest

# ============================================================================ prefix range end


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        (b"foo", b"fop"),
        (b"a", b"b"),
        (b"\x00", b"\x01"),
        (b"\xfe", b"\xff"),
        (b"a\xff", b"b"),
        (b"a\xff\xff", b"b"),
        (b"ab\xfe\xff", b"ab\xff"),
        (b"\xff", b"\x00"),
        (b"\xff\xff\xff", b"\x00"),
        (b"", b"\x00"),
        ("foo", b"fop"),
        ("é", "é".encode()[:-1] + bytes(["é".encode()[-1] + 1])),
    ],
)
def test_prefix_range_end_follows_go_get_prefix_range_end(prefix: bytes | str, end: bytes) -> None:
    """Go op.go getPrefix: increment the last byte below 0xFF and cut after it; with no such
    byte the end is b"\\0" ("noPrefixEnd", read by etcd as the end of the key space)."""
    assert prefix_range_end(prefix) == end


def _in_range(key: bytes, start: bytes, end: bytes) -> bool:
    """etcd's range semantics: b"" = the single key, b"\\0" = no upper bound."""
    if end == b"":
        return key == start
    if end == b"\x00":
        return key >= start
    return start <= key < end


# Bytes near the interesting edges (0x00, 0xFE, 0xFF) appear far more often than uniformly.
_edge_bytes = st.lists(st.sampled_from([0x00, 0x01, 0x61, 0x7F, 0xFE, 0xFF]), max_size=6).map(bytes)
_keys = st.one_of(_edge_bytes, st.binary(max_size=6))


@given(prefix=_keys.filter(bool), key=_keys, suffix=_keys, use_suffix=st.booleans())
def test_prefix_range_end_selects_exactly_the_prefixed_keys(
    prefix: bytes, key: bytes, suffix: bytes, use_suffix: bool
) -> None:
    """For every prefix p and key k: k starts with p iff p <= k < prefix_range_end(p), with
    b"\\0" as an unbounded end (the property etcd's WithPrefix relies on)."""
    if use_suffix:
        key = prefix + suffix
    end = prefix_range_end(prefix)
    assert key.startswith(prefix) == _in_range(key, prefix, end)


def test_prefix_range_end_rejects_other_types() -> None:
    with pytest.raises(UsageError, match="bytes or str"):
        prefix_range_end(5)  # type: ignore[arg-type]


# ============================================================================ Op.get mapping


def test_get_single_key_builds_a_bare_range_request() -> None:
    """Defaults send only the key: linearizable, latest revision, no limit, no sort."""
    op = Op.get(b"k")
    assert op.to_request() == RR(key=b"k")
    assert op.range_end == b""


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"range_end": b"z"}, RR(key=b"k", range_end=b"z")),
        ({"range_end": "z"}, RR(key=b"k", range_end=b"z")),
        ({"range_end": b"\x00"}, RR(key=b"k", range_end=b"\x00")),
        ({"prefix": True}, RR(key=b"k", range_end=b"l")),
        ({"from_key": True}, RR(key=b"k", range_end=b"\x00")),
        ({"limit": 7, "prefix": True}, RR(key=b"k", range_end=b"l", limit=7)),
        ({"revision": 42}, RR(key=b"k", revision=42)),
        ({"serializable": True}, RR(key=b"k", serializable=True)),
        ({"keys_only": True}, RR(key=b"k", keys_only=True)),
        ({"count_only": True}, RR(key=b"k", count_only=True)),
        ({"keys_only": True, "count_only": True}, RR(key=b"k", keys_only=True, count_only=True)),
        ({"min_mod_revision": 3}, RR(key=b"k", min_mod_revision=3)),
        ({"max_mod_revision": 4}, RR(key=b"k", max_mod_revision=4)),
        ({"min_create_revision": 5}, RR(key=b"k", min_create_revision=5)),
        ({"max_create_revision": 6}, RR(key=b"k", max_create_revision=6)),
        (
            {"min_mod_revision": 2, "max_mod_revision": 2},
            RR(key=b"k", min_mod_revision=2, max_mod_revision=2),
        ),
    ],
)
def test_get_option_maps_to_its_range_request_field(
    kwargs: dict[str, Any], expected: rpc_pb2.RangeRequest
) -> None:
    """Every option reaches its own RangeRequest field and nothing else (released python-etcd3
    dropped limit/revision/count_only; master mapped min/max_create_revision onto the mod
    fields; etcetra forced serializable)."""
    assert Op.get(b"k", **kwargs).to_request() == expected


@pytest.mark.parametrize(
    ("order", "target", "pb_order", "pb_target"),
    [
        (SortOrder.DESCEND, None, RR.DESCEND, RR.KEY),
        (SortOrder.DESCEND, SortTarget.MOD_REVISION, RR.DESCEND, RR.MOD),
        (SortOrder.ASCEND, SortTarget.VERSION, RR.ASCEND, RR.VERSION),
        (SortOrder.ASCEND, SortTarget.CREATE_REVISION, RR.ASCEND, RR.CREATE),
        (SortOrder.DESCEND, SortTarget.VALUE, RR.DESCEND, RR.VALUE),
        (SortOrder.NONE, SortTarget.VALUE, RR.NONE, RR.VALUE),
        ("descend", "create_revision", RR.DESCEND, RR.CREATE),
        ("DESCEND", "KEY", RR.DESCEND, RR.KEY),
    ],
)
def test_get_sort_maps_to_sort_fields(
    order: Any, target: Any, pb_order: int, pb_target: int
) -> None:
    """Sort order and target map to RangeRequest.sort_order/sort_target (enum or name)."""
    request = Op.get(b"k", prefix=True, sort_order=order, sort_target=target).to_request()
    assert (request.sort_order, request.sort_target) == (pb_order, pb_target)


def test_get_sort_by_key_ascending_is_sent_as_no_sort() -> None:
    """Go op.go WithSort: KEY+ASCEND becomes SortNone, because keys already come back in
    ascending order and a sort order makes the server fetch the whole range (apply.go
    Range ignores limit when sorting)."""
    op = Op.get(b"k", prefix=True, sort_order=SortOrder.ASCEND, sort_target=SortTarget.KEY)
    assert op.sort_order is SortOrder.NONE
    assert op.to_request().sort_order == RR.NONE


def test_get_sort_target_alone_sorts_ascending() -> None:
    """etcd apply.go Range: a target other than KEY with order NONE is sorted ascending; the
    op says so explicitly."""
    op = Op.get(b"k", prefix=True, sort_target=SortTarget.MOD_REVISION)
    assert (op.sort_order, op.sort_target) == (SortOrder.ASCEND, SortTarget.MOD_REVISION)


def test_get_str_key_is_utf8_encoded() -> None:
    assert Op.get("ключ").key == "ключ".encode()
    assert Op.get("ключ", prefix=True).range_end == prefix_range_end("ключ".encode())


@pytest.mark.parametrize("option", [{"from_key": True}, {"prefix": True}])
def test_get_empty_key_with_from_key_or_prefix_means_every_key(option: dict[str, Any]) -> None:
    """Go op.go WithFromKey / WithPrefix: an empty key becomes b"\\0" with range end b"\\0",
    i.e. the whole key space."""
    assert Op.get(b"", **option).to_request() == RR(key=b"\x00", range_end=b"\x00")
    assert Op.delete("", **option).to_request() == rpc_pb2.DeleteRangeRequest(
        key=b"\x00", range_end=b"\x00"
    )


def test_get_prefix_of_ff_bytes_reads_to_the_end_of_the_key_space() -> None:
    """A prefix with no successor (all 0xFF) uses range end b"\\0" rather than a wrong end."""
    assert Op.get(b"\xff\xff", prefix=True).to_request() == RR(key=b"\xff\xff", range_end=b"\x00")


# ============================================================================ put / delete mapping


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((b"k", b"v"), {}, rpc_pb2.PutRequest(key=b"k", value=b"v")),
        (("k", "ü"), {}, rpc_pb2.PutRequest(key=b"k", value="ü".encode())),
        ((b"k", b""), {}, rpc_pb2.PutRequest(key=b"k")),
        ((b"k", b"v"), {"lease": 0x1234}, rpc_pb2.PutRequest(key=b"k", value=b"v", lease=0x1234)),
        ((b"k", b"v"), {"prev_kv": True}, rpc_pb2.PutRequest(key=b"k", value=b"v", prev_kv=True)),
        ((b"k", b""), {"ignore_value": True}, rpc_pb2.PutRequest(key=b"k", ignore_value=True)),
        (
            (b"k", b"v"),
            {"ignore_lease": True},
            rpc_pb2.PutRequest(key=b"k", value=b"v", ignore_lease=True),
        ),
        (
            (b"k", b""),
            {"ignore_value": True, "lease": 9},
            rpc_pb2.PutRequest(key=b"k", lease=9, ignore_value=True),
        ),
    ],
)
def test_put_option_maps_to_its_put_request_field(
    args: tuple[Any, Any], kwargs: dict[str, Any], expected: rpc_pb2.PutRequest
) -> None:
    """Go kv.go Do(tPut): key, value, lease, prev_kv, ignore_value, ignore_lease."""
    assert Op.put(*args, **kwargs).to_request() == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, rpc_pb2.DeleteRangeRequest(key=b"k")),
        ({"range_end": b"m"}, rpc_pb2.DeleteRangeRequest(key=b"k", range_end=b"m")),
        ({"prefix": True}, rpc_pb2.DeleteRangeRequest(key=b"k", range_end=b"l")),
        ({"from_key": True}, rpc_pb2.DeleteRangeRequest(key=b"k", range_end=b"\x00")),
        ({"prev_kv": True}, rpc_pb2.DeleteRangeRequest(key=b"k", prev_kv=True)),
    ],
)
def test_delete_option_maps_to_its_delete_range_request_field(
    kwargs: dict[str, Any], expected: rpc_pb2.DeleteRangeRequest
) -> None:
    """Go kv.go Do(tDeleteRange): key, range_end, prev_kv."""
    assert Op.delete(b"k", **kwargs).to_request() == expected


@pytest.mark.parametrize(
    ("op", "field", "inner"),
    [
        (Op.get(b"k", limit=2), "request_range", RR(key=b"k", limit=2)),
        (Op.put(b"k", b"v"), "request_put", rpc_pb2.PutRequest(key=b"k", value=b"v")),
        (Op.delete(b"k"), "request_delete_range", rpc_pb2.DeleteRangeRequest(key=b"k")),
        (Op.txn(), "request_txn", rpc_pb2.TxnRequest()),
    ],
)
def test_to_request_op_wraps_the_request_in_its_oneof_case(op: Any, field: str, inner: Any) -> None:
    """Go op.go toRequestOp: one RequestOp case per operation type."""
    request_op = op.to_request_op()
    assert request_op.WhichOneof("request") == field
    assert getattr(request_op, field) == inner


# ============================================================================ invalid input


# Untyped handles: the cases below pass wrong types on purpose.
_Op: Any = Op
_GetOp: Any = GetOp
_PutOp: Any = PutOp


def _cases() -> list[Any]:
    return [
        # key and value types
        (lambda: _Op.get(5), "key must be bytes or str"),
        (lambda: _Op.get(None), "key must be bytes or str"),
        (lambda: _Op.get(bytearray(b"k")), "key must be bytes or str"),
        (lambda: _Op.put(b"k", 5), "value must be bytes or str"),
        (lambda: _Op.put(b"k", None), "value must be bytes or str"),
        (lambda: _Op.get(b"a", range_end=5), "range_end must be bytes or str"),
        # empty keys: checkRangeRequest / checkPutRequest / checkDeleteRequest ErrGRPCEmptyKey
        (lambda: _Op.get(b""), "key is not provided"),
        (lambda: _Op.get(""), "key is not provided"),
        (lambda: _Op.put(b"", b"v"), "key is not provided"),
        (lambda: _Op.delete(b""), "key is not provided"),
        (lambda: _Op.get(b"", range_end=b"z"), "key is not provided"),
        # conflicting range options (Go op.go OpGet/OpDelete panic on prefix + from_key)
        (lambda: _Op.get(b"a", prefix=True, from_key=True), "prefix and from_key cannot"),
        (lambda: _Op.get(b"a", prefix=True, range_end=b"z"), "range_end and prefix cannot"),
        (lambda: _Op.get(b"a", from_key=True, range_end=b"z"), "range_end and from_key cannot"),
        (lambda: _Op.delete(b"a", prefix=True, from_key=True), "prefix and from_key cannot"),
        (lambda: _Op.delete(b"a", prefix=True, range_end=b"b"), "range_end and prefix cannot"),
        (lambda: _Op.get(b"a", range_end=b""), "range_end must not be empty"),
        (lambda: _Op.get(b"b", range_end=b"a"), "must sort after key"),
        (lambda: _Op.get(b"b", range_end=b"b"), "must sort after key"),
        (lambda: _Op.delete(b"b", range_end=b"a"), "must sort after key"),
        # flags must be booleans
        (lambda: _Op.get(b"a", prefix=1), "prefix must be True or False"),
        (lambda: _Op.get(b"a", serializable="yes"), "serializable must be True or False"),
        (lambda: _Op.put(b"a", b"v", prev_kv=None), "prev_kv must be True or False"),
        (lambda: _Op.delete(b"a", prev_kv=1), "prev_kv must be True or False"),
        # numbers: ints, not bools, not negative, within int64
        (lambda: _Op.get(b"a", limit=-1), "limit must not be negative"),
        (lambda: _Op.get(b"a", revision=-1), "revision must not be negative"),
        (lambda: _Op.get(b"a", limit=1.5), "limit must be an int"),
        (lambda: _Op.get(b"a", limit=True), "limit must be an int"),
        (lambda: _Op.get(b"a", revision=2**63), "int64"),
        (lambda: _Op.get(b"a", min_mod_revision=-2), "min_mod_revision must not be negative"),
        (lambda: _Op.get(b"a", max_mod_revision=-2), "max_mod_revision must not be negative"),
        (lambda: _Op.get(b"a", min_create_revision=-2), "min_create_revision must not be neg"),
        (lambda: _Op.get(b"a", max_create_revision=-2), "max_create_revision must not be neg"),
        (lambda: _Op.put(b"a", b"v", lease=-5), "lease must not be negative"),
        # revision filters that select nothing
        (
            lambda: _Op.get(b"a", prefix=True, min_mod_revision=5, max_mod_revision=4),
            "min_mod_revision 5 > max_mod_revision 4",
        ),
        (
            lambda: _Op.get(b"a", prefix=True, min_create_revision=9, max_create_revision=1),
            "min_create_revision 9 > max_create_revision 1",
        ),
        # sort: valid members only (Go kv.go IsSortOptionValid) and only over a range
        (lambda: _Op.get(b"a", prefix=True, sort_order=3), "sort_order must be a SortOrder"),
        (lambda: _Op.get(b"a", prefix=True, sort_order="up"), "sort_order must be a SortOrder"),
        (lambda: _Op.get(b"a", prefix=True, sort_target="size"), "sort_target must be a Sort"),
        (lambda: _Op.get(b"a", sort_order=SortOrder.DESCEND), "sorting needs a range"),
        (lambda: _Op.get(b"a", sort_target=SortTarget.VALUE), "sorting needs a range"),
        # put: checkPutRequest ErrGRPCValueProvided / ErrGRPCLeaseProvided
        (lambda: _Op.put(b"a", b"v", ignore_value=True), "value is provided"),
        (lambda: _Op.put(b"a", b"", lease=7, ignore_lease=True), "lease is provided"),
        # txn shapes
        (lambda: _Op.txn(Compare.version(b"a"), [], []), "must be a list or tuple"),
        (lambda: _Op.txn([Compare.version(b"a")]), "unfinished comparison"),
        (lambda: _Op.txn(["a"]), r"compare\[0\] must be a Compare"),
        (lambda: _Op.txn([], [rpc_pb2.RequestOp()]), r"success\[0\] must be an Op"),
        (lambda: _Op.txn([], [], [_Op.get(b"a"), "x"]), r"failure\[1\] must be an Op"),
        (lambda: _Op.txn([], "abc"), "must be a list or tuple"),
        # direct construction is validated too
        (lambda: _GetOp(key=b""), "key is not provided"),
        (lambda: _GetOp(key="k"), "key must be bytes"),
        (lambda: _GetOp(key=b"k", range_end="z"), "range_end must be bytes"),
        (lambda: _PutOp(key=b"k", value="v"), "value must be bytes"),
        (lambda: DeleteOp(key=b"k", range_end=b"a"), "must sort after key"),
        (
            lambda: Compare(b"k", CompareTarget.VALUE, CompareResult.EQUAL, 5),
            "compared with bytes",
        ),
        (
            lambda: Compare(b"k", CompareTarget.VERSION, CompareResult.EQUAL, b"1"),
            "must be an int",
        ),
        (lambda: Compare(b"", CompareTarget.VERSION, CompareResult.EQUAL, 0), "not provided"),
    ]


@pytest.mark.parametrize(("build", "message"), _cases())
def test_invalid_input_raises_usage_error_before_sending(build: Any, message: str) -> None:
    """Every invalid input is refused while building, with a reason (UsageError is also a
    ValueError)."""
    with pytest.raises(UsageError, match=message) as info:
        build()
    assert isinstance(info.value, ValueError)


def test_usage_error_for_empty_key_points_to_from_key() -> None:
    with pytest.raises(UsageError, match="from_key=True or prefix=True"):
        Op.get(b"")


def test_ops_are_frozen_hashable_values() -> None:
    op = Op.get(b"a", prefix=True, limit=3)
    assert op == Op.get("a", prefix=True, limit=3)
    assert hash(op) == hash(Op.get("a", prefix=True, limit=3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.limit = 4  # type: ignore[misc]
    assert not hasattr(op, "__dict__")


def test_txn_branches_given_as_lists_become_tuples() -> None:
    txn = TxnOp(compare=[key_missing(b"a")], success=[Op.get(b"a")])  # type: ignore[arg-type]
    assert isinstance(txn.compare, tuple) and isinstance(txn.success, tuple)
    hash(txn)


# ============================================================================ comparisons


@pytest.mark.parametrize(
    ("subject", "target", "field"),
    [
        (Compare.version, rpc_pb2.Compare.VERSION, "version"),
        (Compare.create_revision, rpc_pb2.Compare.CREATE, "create_revision"),
        (Compare.mod_revision, rpc_pb2.Compare.MOD, "mod_revision"),
        (Compare.lease, rpc_pb2.Compare.LEASE, "lease"),
    ],
)
@pytest.mark.parametrize(
    ("operator", "result"),
    [
        (lambda s, v: s == v, rpc_pb2.Compare.EQUAL),
        (lambda s, v: s != v, rpc_pb2.Compare.NOT_EQUAL),
        (lambda s, v: s < v, rpc_pb2.Compare.LESS),
        (lambda s, v: s > v, rpc_pb2.Compare.GREATER),
    ],
)
def test_numeric_compare_operators_build_the_compare_message(
    subject: Any, target: int, field: str, operator: Any, result: int
) -> None:
    """Go compare.go Compare(): "=", "!=", "<", ">" -> EQUAL, NOT_EQUAL, LESS, GREATER, with
    the operand in the target's oneof member."""
    message = operator(subject("k"), 7).to_pb()
    assert message.key == b"k"
    assert (message.target, message.result) == (target, result)
    assert message.WhichOneof("target_union") == field
    assert getattr(message, field) == 7
    assert message.range_end == b""


@pytest.mark.parametrize(
    ("operator", "result"),
    [
        (lambda s, v: s == v, rpc_pb2.Compare.EQUAL),
        (lambda s, v: s != v, rpc_pb2.Compare.NOT_EQUAL),
        (lambda s, v: s < v, rpc_pb2.Compare.LESS),
        (lambda s, v: s > v, rpc_pb2.Compare.GREATER),
    ],
)
def test_value_compare_operators_build_the_compare_message(operator: Any, result: int) -> None:
    """Value comparisons carry bytes (str is UTF-8 encoded) in Compare.value."""
    for operand in (b"v\x00", "v\x00"):
        message = operator(Compare.value(b"k"), operand).to_pb()
        assert (message.target, message.result) == (rpc_pb2.Compare.VALUE, result)
        assert message.WhichOneof("target_union") == "value"
        assert message.value == b"v\x00"


def test_compare_zero_operand_still_selects_the_oneof_member() -> None:
    """`version == 0` (key missing) is sent with the version member set, as Go's
    Compare_Version{Version: 0} is."""
    message = (Compare.version(b"k") == 0).to_pb()
    assert message.WhichOneof("target_union") == "version"
    assert message.SerializeToString() != rpc_pb2.Compare(key=b"k").SerializeToString()


def test_compare_reflected_operators() -> None:
    """Python reflects `b"v" == subject` and `3 < subject` onto the subject."""
    assert (b"v" == Compare.value(b"k")) == (  # type: ignore[comparison-overlap]  # noqa: SIM300
        Compare.value(b"k") == b"v"
    )
    assert (3 < Compare.version(b"k")) == (Compare.version(b"k") > 3)  # noqa: SIM300


@pytest.mark.parametrize(
    ("kwargs", "end"),
    [({"range_end": b"z"}, b"z"), ({"prefix": True}, b"l"), ({"range_end": b"\x00"}, b"\x00")],
)
def test_compare_over_a_range(kwargs: dict[str, Any], end: bytes) -> None:
    """Go compare.go WithRange/WithPrefix: the comparison covers every key of [key, end)."""
    message = (Compare.mod_revision(b"k", **kwargs) < 10).to_pb()
    assert message.range_end == end


def test_compare_empty_prefix_covers_every_key() -> None:
    assert (Compare.version(b"", prefix=True) > 0).to_pb().key == b"\x00"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Compare.version(b"k") <= 1, "for <= n use < n"),
        (lambda: Compare.version(b"k") >= 1, "for >= n use > n"),
        (lambda: Compare.version(b"k") == b"1", "compared with an int, not bytes"),
        (lambda: Compare.version(b"k") == True, "not bool"),  # noqa: E712
        (lambda: Compare.mod_revision(b"k") > -1, "must not be negative"),
        (lambda: Compare.lease(b"k") == 2**64, "int64"),
        (lambda: Compare.value(b"k") == 5, "must be bytes or str"),
        (lambda: Compare.value(b"") == b"v", "key is not provided"),
        (lambda: Compare.value(b"k", prefix=True, range_end=b"z"), "cannot be combined"),
        (lambda: Compare.value(b"k", range_end=b"a"), "must sort after key"),
        (lambda: bool(Compare.value(b"k") == b"v"), "evaluated by etcd"),
        (lambda: bool(Compare.value(b"k")), "no truth value"),
    ],
)
def test_compare_misuse_raises_usage_error(build: Any, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build()


def test_compare_subject_is_not_hashable() -> None:
    """A subject overloads == to build comparisons, so it cannot be a set member."""
    with pytest.raises(TypeError):
        hash(Compare.value(b"k"))
    assert isinstance(Compare.value(b"k"), CompareSubject)


def test_key_exists_and_key_missing_follow_clientv3util() -> None:
    """Go clientv3util: KeyExists = version > 0, KeyMissing = version == 0."""
    assert key_exists("k") == Compare(b"k", CompareTarget.VERSION, CompareResult.GREATER, 0)
    assert key_missing("k") == Compare(b"k", CompareTarget.VERSION, CompareResult.EQUAL, 0)


# ============================================================================ transactions


def test_txn_builds_compare_success_failure_in_order() -> None:
    """Go txn.go If/Then/Else -> TxnRequest{Compare, Success, Failure}."""
    txn = Op.txn(
        [Compare.value("a") == "1", Compare.version("b") > 2],
        [Op.put("a", "2"), Op.get("b", prefix=True)],
        [Op.delete("c", prev_kv=True)],
    )
    assert txn.to_request() == rpc_pb2.TxnRequest(
        compare=[
            rpc_pb2.Compare(key=b"a", target=rpc_pb2.Compare.VALUE, value=b"1"),
            rpc_pb2.Compare(
                key=b"b",
                target=rpc_pb2.Compare.VERSION,
                result=rpc_pb2.Compare.GREATER,
                version=2,
            ),
        ],
        success=[
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"a", value=b"2")),
            rpc_pb2.RequestOp(request_range=RR(key=b"b", range_end=b"c")),
        ],
        failure=[
            rpc_pb2.RequestOp(
                request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"c", prev_kv=True)
            )
        ],
    )


def test_nested_txn_is_sent_as_request_txn() -> None:
    """Go op.go OpTxn: a txn inside a branch becomes RequestOp.request_txn (etcd >= 3.3)."""
    inner = Op.txn([key_missing("x")], [Op.put("x", "1")], [Op.get("x")])
    outer = Op.txn([], [Op.get("y"), inner])
    request = outer.to_request()
    assert request.success[1].WhichOneof("request") == "request_txn"
    assert request.success[1].request_txn == inner.to_request()


def test_empty_txn_is_valid() -> None:
    """etcd 3.5.1 accepts a txn with no compares and no ops (it succeeds)."""
    assert Op.txn().to_request() == rpc_pb2.TxnRequest()


def test_txn_is_write_follows_go_is_write() -> None:
    """Go op.go isWrite: a txn writes if any op of either branch (recursively) writes."""
    assert not Op.txn([], [Op.get("a")], [Op.txn([], [Op.get("b")])]).is_write
    assert Op.txn([], [Op.get("a")], [Op.txn([], [Op.delete("b")])]).is_write
    assert Op.put("a", "b").is_write and Op.delete("a").is_write and not Op.get("a").is_write


def _gets(n: int, prefix: str = "k") -> list[Any]:
    return [Op.get(f"{prefix}{i}") for i in range(n)]


@pytest.mark.parametrize("branch", ["compare", "success", "failure"])
def test_txn_list_of_max_txn_ops_is_accepted_one_more_is_not(branch: str) -> None:
    """etcd checkTxnRequest: each of compare, success and failure may hold --max-txn-ops
    entries (default 128); etcd 3.5.1 refuses 129 with 'too many operations in txn request'."""
    items: dict[str, list[Any]] = {
        "compare": [Compare.version(f"k{i}") > 0 for i in range(DEFAULT_MAX_TXN_OPS)],
        "success": _gets(DEFAULT_MAX_TXN_OPS),
        "failure": _gets(DEFAULT_MAX_TXN_OPS),
    }
    chosen = {branch: items[branch]}
    Op.txn(**chosen).to_request()
    extra = Compare.version("z") > 0 if branch == "compare" else Op.get("z")
    chosen[branch] = [*items[branch], extra]
    with pytest.raises(UsageError, match="too many operations in txn request"):
        Op.txn(**chosen).to_request()


def test_txn_lists_are_counted_separately_not_summed() -> None:
    """checkTxnRequest takes the longest list, not the sum: 128 + 128 + 128 is fine."""
    Op.txn(
        [Compare.version(f"k{i}") > 0 for i in range(128)], _gets(128), _gets(128, "x")
    ).to_request()


def test_nested_txn_gets_the_budget_its_parent_left() -> None:
    """checkTxnRequest passes maxTxnOps - opc to a nested txn: with 101 entries in the outer
    success list a nested txn may hold 27 per list; etcd 3.5.1 refused 28."""
    ok = Op.txn([], [*_gets(100), Op.txn([], _gets(27, "z"))])
    ok.to_request()
    bad = Op.txn([], [*_gets(100), Op.txn([], _gets(28, "z"))])
    with pytest.raises(UsageError, match="nested txn gets 27"):
        bad.to_request()


def test_max_txn_ops_is_configurable() -> None:
    txn = Op.txn([], _gets(5))
    txn.to_request(max_txn_ops=5)
    with pytest.raises(UsageError, match="--max-txn-ops is 4"):
        txn.to_request(max_txn_ops=4)
    Op.txn([], _gets(300)).to_request(max_txn_ops=1000)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_limits_must_be_positive_ints(bad: Any) -> None:
    with pytest.raises(UsageError, match="max_txn_ops"):
        Op.txn().to_request(max_txn_ops=bad)
    with pytest.raises(UsageError, match="max_request_bytes"):
        Op.get("a").to_request(max_request_bytes=bad)


def _put(key: str) -> PutOp:
    return Op.put(key, "v")


def _txn(success: list[Any] = (), failure: list[Any] = ()) -> TxnOp:  # type: ignore[assignment]
    return Op.txn([], success, failure)


# Each case was sent to etcd 3.5.1 as a txn success branch; "dup" means the server answered
# 'duplicate key given in txn request' (checkIntervals), "ok" that it accepted the txn.
DUPLICATE_CASES = [
    ("two puts of one key", [_put("a"), _put("a")], "dup"),
    ("put after a delete of that key", [Op.delete("a"), _put("a")], "dup"),
    ("put before a delete of that key", [_put("a"), Op.delete("a")], "dup"),
    ("put inside a deleted range", [Op.delete("a", range_end="c"), _put("b")], "dup"),
    ("put inside a deleted prefix", [Op.delete("a", prefix=True), _put("ab")], "dup"),
    ("put at a deleted range's end", [Op.delete("a", range_end="c"), _put("c")], "ok"),
    ("put under a from-key delete", [Op.delete("a", from_key=True), _put("b")], "ok"),
    ("overlapping deletes", [Op.delete("a", range_end="c"), Op.delete("b", range_end="d")], "ok"),
    ("two reads of one key", [Op.get("a"), Op.get("a")], "ok"),
    ("read and put of one key", [Op.get("a"), _put("a")], "ok"),
    ("distinct puts", [_put("a"), _put("b")], "ok"),
    ("nested then and else put one key", [_txn([_put("a")], [_put("a")])], "ok"),
    ("two nested txns put one key", [_txn([_put("a")]), _txn([_put("a")])], "dup"),
    ("nested put then outer put", [_txn([_put("a")]), _put("a")], "dup"),
    ("outer put then nested put", [_put("a"), _txn([_put("a")])], "dup"),
    ("nested delete then nested put", [_txn([Op.delete("a")]), _txn([_put("a")])], "dup"),
    ("nested put then nested delete", [_txn([_put("a")]), _txn([Op.delete("a")])], "ok"),
    ("outer delete, nested put", [Op.delete("a"), _txn([_put("a")])], "dup"),
    (
        "nested else put vs nested then put",
        [_txn([_put("b")], [_put("a")]), _txn([_put("a")])],
        "dup",
    ),
    ("deep nesting", [_txn([_txn([_put("a")])]), _put("a")], "dup"),
]


@pytest.mark.parametrize(
    ("ops", "outcome"),
    [pytest.param(ops, outcome, id=name) for name, ops, outcome in DUPLICATE_CASES],
)
def test_etcd_check_intervals_duplicate_keys_in_one_branch(ops: list[Any], outcome: str) -> None:
    """etcd key.go checkIntervals: a put may not meet another put or a delete of the same
    branch (nested txns included); the client refuses exactly what etcd 3.5.1 refused."""
    for branch in ("success", "failure"):
        if outcome == "dup":
            with pytest.raises(UsageError, match="duplicate key given in txn request"):
                Op.txn([], **{branch: ops})
        else:
            Op.txn([], **{branch: ops}).to_request()


def test_success_and_failure_may_write_the_same_key() -> None:
    """Only one branch runs, so etcd checks each branch on its own."""
    Op.txn([key_missing("a")], [_put("a")], [_put("a")]).to_request()


def test_duplicate_key_message_names_key_and_branch() -> None:
    with pytest.raises(UsageError, match=r"b'a' is written twice in the failure branch"):
        Op.txn([], [], [_put("a"), _put("a")])


# ============================================================================ request size


def test_write_size_limit_counts_the_raft_envelope() -> None:
    """etcd refuses a write whose raft proposal exceeds --max-request-bytes ('request is too
    large'); the proposal adds a header to the request (17 bytes measured on etcd 3.5.1, of
    which the client counts RAFT_ENVELOPE_BYTES)."""
    limit = DEFAULT_MAX_REQUEST_BYTES
    assert _put_of_size(limit - RAFT_ENVELOPE_BYTES).to_request().ByteSize() == limit - 16
    with pytest.raises(UsageError, match="request too large"):
        _put_of_size(limit - RAFT_ENVELOPE_BYTES + 1).to_request()
    # The largest PutRequest etcd 3.5.1 accepted at the default limit was 1,572,847 bytes (the
    # next one up was refused): the client must not refuse it.
    _put_of_size(1_572_847).to_request()


def _put_of_size(size: int) -> PutOp:
    """A put whose PutRequest is ``size`` bytes: key b"big" costs 5, the value's tag and
    3-byte length 4."""
    op = Op.put("big", b"x" * (size - 9))
    assert op.to_request(max_request_bytes=2 * size).ByteSize() == size
    return op


@pytest.mark.parametrize(
    "make",
    [
        lambda v: Op.put("k", v),
        lambda v: Op.delete(b"k" + v),
        lambda v: Op.txn([], [Op.put("k", v)]),
        lambda v: Op.txn([Compare.value("k") == v], [Op.delete("k")]),
    ],
)
def test_every_write_is_size_checked(make: Any) -> None:
    with pytest.raises(UsageError, match="--max-request-bytes is 1000"):
        make(b"x" * 1000).to_request(max_request_bytes=1000)
    make(b"x" * 10).to_request(max_request_bytes=1000)


@pytest.mark.parametrize(
    "make",
    [Op.get, lambda k: Op.txn([], [Op.get(k)]), lambda k: Op.txn([key_exists(k)])],
)
def test_reads_are_bounded_by_the_grpc_message_limit(make: Any) -> None:
    """A read is not proposed to raft; etcd only caps its gRPC message at --max-request-bytes
    + 512 KiB (v3rpc/grpc.go grpcOverheadBytes). etcd 3.5.1 accepted a 1.7 MB range key and a
    read-only txn larger than --max-request-bytes."""
    make(b"k" * 1_700_000).to_request()
    with pytest.raises(UsageError, match="per gRPC message"):
        make(b"k" * (DEFAULT_MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES)).to_request()


# ============================================================================ helpers


def test_put_if_absent() -> None:
    """Create only when missing (version == 0); the failure branch reads the existing key."""
    txn = put_if_absent("k", "v", lease=5, prev_kv=True)
    assert txn == Op.txn(
        [Compare.version("k") == 0], [Op.put("k", "v", lease=5, prev_kv=True)], [Op.get("k")]
    )
    assert txn.to_request().compare[0] == rpc_pb2.Compare(
        key=b"k", target=rpc_pb2.Compare.VERSION, result=rpc_pb2.Compare.EQUAL, version=0
    )


def test_compare_and_swap() -> None:
    txn = compare_and_swap(b"k", b"old", b"new", lease=3)
    assert txn == Op.txn(
        [Compare.value(b"k") == b"old"], [Op.put(b"k", b"new", lease=3)], [Op.get(b"k")]
    )
    request = txn.to_request()
    assert request.compare[0].value == b"old"
    assert request.success[0].request_put.value == b"new"


def test_compare_and_delete() -> None:
    txn = compare_and_delete("k", "v", prev_kv=True)
    assert txn == Op.txn([Compare.value("k") == "v"], [Op.delete("k", prev_kv=True)], [Op.get("k")])


def test_helpers_validate_their_input() -> None:
    with pytest.raises(UsageError):
        put_if_absent("", "v")
    with pytest.raises(UsageError):
        compare_and_swap("k", 1, "v")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        compare_and_delete("k", None)  # type: ignore[arg-type]


# ============================================================================ dispatch


@pytest.mark.parametrize(
    ("op", "method", "reply", "kind"),
    [
        (Op.get("a"), methods.KV_RANGE, rpc_pb2.RangeResponse(count=1), GetResponse),
        (Op.put("a", "b"), methods.KV_PUT, rpc_pb2.PutResponse(), PutResponse),
        (Op.delete("a"), methods.KV_DELETE_RANGE, rpc_pb2.DeleteRangeResponse(), DeleteResponse),
        (Op.txn(), methods.KV_TXN, rpc_pb2.TxnResponse(succeeded=True), TxnResponse),
    ],
)
def test_op_names_its_rpc_and_parses_its_reply(
    op: Any, method: Any, reply: Any, kind: type
) -> None:
    """One dispatcher: send op.to_request() on op.method, convert with op.parse_response."""
    assert op.method is method
    assert isinstance(op.to_request(), method.request_type)
    assert isinstance(op.parse_response(reply), kind)
    with pytest.raises(UsageError, match="expected a"):
        op.parse_response(rpc_pb2.CompactionResponse())


def test_compact_request_and_response() -> None:
    assert compact_request(10, physical=True) == rpc_pb2.CompactionRequest(
        revision=10, physical=True
    )
    reply = rpc_pb2.CompactionResponse(header=rpc_pb2.ResponseHeader(revision=11))
    assert parse_compact_response(reply) == CompactResponse(ResponseHeader(revision=11))
    for bad in (0, -1, "3"):
        with pytest.raises(UsageError):
            compact_request(bad)  # type: ignore[arg-type]


def test_lease_requests() -> None:
    assert lease_grant_request(10) == rpc_pb2.LeaseGrantRequest(TTL=10)
    assert lease_grant_request(10, lease_id=77) == rpc_pb2.LeaseGrantRequest(TTL=10, ID=77)
    assert lease_revoke_request(77) == rpc_pb2.LeaseRevokeRequest(ID=77)
    assert lease_keep_alive_request(77) == rpc_pb2.LeaseKeepAliveRequest(ID=77)
    assert lease_time_to_live_request(77, keys=True) == rpc_pb2.LeaseTimeToLiveRequest(
        ID=77, keys=True
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: lease_grant_request(-1), "ttl must not be negative"),
        (lambda: lease_grant_request(MAX_LEASE_TTL + 1), "exceeds etcd's maximum"),
        (lambda: lease_grant_request(5, lease_id=-3), "lease_id must not be negative"),
        (lambda: lease_revoke_request(0), "must not be 0"),
        (lambda: lease_keep_alive_request(-1), "must not be negative"),
        (lambda: lease_time_to_live_request(1, keys=1), "keys must be True or False"),  # type: ignore[arg-type]
    ],
)
def test_lease_request_misuse(build: Any, message: str) -> None:
    """etcd's lessor refuses TTLs over MaxLeaseTTL ('too large lease TTL'); lease ID 0 is
    'no lease'."""
    with pytest.raises(UsageError, match=message):
        build()


# ============================================================================ paging


def _kv(key: bytes) -> KeyValue:
    return KeyValue(key=key, value=b"v", create_revision=1, mod_revision=1, version=1)


def _page(keys: list[bytes], *, more: bool, revision: int = 50) -> GetResponse:
    return GetResponse(
        ResponseHeader(revision=revision), tuple(_kv(k) for k in keys), more, len(keys)
    )


def test_next_page_continues_after_the_last_key_at_a_pinned_revision() -> None:
    """Next chunk: key = last key + b"\\0", same range end; the first response's revision
    pins the rest (as etcd's mirror.Syncer pins SyncBase to one revision)."""
    op = Op.get("a/", prefix=True, limit=2)
    following = next_page(op, _page([b"a/1", b"a/2"], more=True, revision=50))
    assert following == dataclasses.replace(op, key=b"a/2\x00", revision=50)
    assert following is not None and following.range_end == b"a0"


def test_next_page_keeps_an_explicit_revision() -> None:
    op = Op.get("a/", prefix=True, limit=2, revision=7)
    following = next_page(op, _page([b"a/1", b"a/2"], more=True, revision=50))
    assert following is not None and following.revision == 7


def test_next_page_from_key_range() -> None:
    op = Op.get(b"", from_key=True, limit=1)
    following = next_page(op, _page([b"\xff"], more=True))
    assert following is not None
    assert (following.key, following.range_end) == (b"\xff\x00", b"\x00")


def test_next_page_descending_key_order_moves_the_range_end() -> None:
    """Sorted by key descending, the next chunk is [key, last key)."""
    op = Op.get("a", range_end="z", limit=2, sort_order="descend")
    following = next_page(op, _page([b"y", b"x"], more=True))
    assert following is not None
    assert (following.key, following.range_end, following.sort_order) == (
        b"a",
        b"x",
        SortOrder.DESCEND,
    )
    assert next_page(op, _page([b"b", b"a"], more=True)) is None


@pytest.mark.parametrize(
    ("op", "response"),
    [
        (Op.get("a", prefix=True, limit=2), _page([b"a1", b"a2"], more=False)),
        (Op.get("a", prefix=True, limit=2), _page([], more=True)),
        (Op.get("a", prefix=True), _page([b"a1", b"a2"], more=True)),
        (Op.get("a", limit=1), _page([b"a"], more=True)),
        (Op.get("a", prefix=True, limit=2, count_only=True), _page([], more=True)),
        (Op.get("a", range_end="a\x00", limit=1), _page([b"a"], more=True)),
    ],
    ids=["no-more", "empty", "no-limit", "single-key", "count-only", "end-reached"],
)
def test_next_page_returns_none_when_done(op: GetOp, response: GetResponse) -> None:
    assert next_page(op, response) is None


def test_next_page_refuses_non_key_sort_and_non_get_ops() -> None:
    op = Op.get("a", prefix=True, limit=2, sort_target="mod_revision", sort_order="descend")
    with pytest.raises(UsageError, match="sorted by mod_revision cannot be resumed"):
        next_page(op, _page([b"a1"], more=True))
    with pytest.raises(UsageError, match="pages a GetOp"):
        next_page(Op.put("a", "b"), _page([], more=True))  # type: ignore[arg-type]


def _serve(store: dict[bytes, int], request: rpc_pb2.RangeRequest) -> rpc_pb2.RangeResponse:
    """A model of etcd's range read: keys in [key, range_end), key order, limit, count."""
    keys = sorted(k for k in store if _in_range(k, request.key, request.range_end))
    if request.sort_order == RR.DESCEND:
        keys.reverse()
    chosen = keys[: request.limit] if request.limit else keys
    return rpc_pb2.RangeResponse(
        header=rpc_pb2.ResponseHeader(revision=99),
        kvs=[kv_pb2.KeyValue(key=k, value=b"%d" % store[k]) for k in chosen],
        more=len(chosen) < len(keys),
        count=len(keys),
    )


@given(
    keys=st.sets(_keys.filter(bool), max_size=25),
    prefix=_edge_bytes,
    limit=st.integers(1, 6),
    descending=st.booleans(),
)
def test_paging_visits_every_key_of_the_range_exactly_once(
    keys: set[bytes], prefix: bytes, limit: int, descending: bool
) -> None:
    """Driving next_page against a model of etcd's range read returns the same keys, in the
    same order, as one unlimited read; every chunk after the first is pinned to the first
    response's revision and holds at most ``limit`` keys."""
    store = {k: i for i, k in enumerate(sorted(keys))}
    order = SortOrder.DESCEND if descending else None
    op: GetOp | None = Op.get(prefix, prefix=True, limit=limit, sort_order=order)
    assert op is not None
    everything = _serve(store, dataclasses.replace(op, limit=0).to_request())
    seen: list[bytes] = []
    chunks = 0
    while op is not None:
        chunks += 1
        assert chunks <= len(keys) + 1
        response = op.parse_response(_serve(store, op.to_request()))
        assert len(response) <= limit
        if chunks > 1:
            assert op.revision == 99
        seen += [kv.key for kv in response]
        op = next_page(op, response)
    assert seen == [kv.key for kv in everything.kvs]
