"""The user-facing values in etcdwire.types: immutability, helpers, enum numbering."""

from __future__ import annotations

import ast
import dataclasses
import pathlib

import pytest

from etcdwire import types
from etcdwire._pb import kv_pb2, rpc_pb2
from etcdwire.types import (
    EventType,
    GetResponse,
    KeyValue,
    LeaseKeepAliveReply,
    LeaseTimeToLive,
    ResponseHeader,
    SortOrder,
    SortTarget,
)

HEADER = ResponseHeader(cluster_id=1, member_id=2, revision=3, raft_term=4)


def _dataclasses() -> list[type]:
    return [
        getattr(types, name)
        for name in types.__all__
        if dataclasses.is_dataclass(getattr(types, name))
    ]


@pytest.mark.parametrize("cls", _dataclasses(), ids=lambda c: c.__name__)
def test_every_value_is_a_frozen_slotted_dataclass(cls: type) -> None:
    """STYLE.md: types.py holds frozen dataclasses handed to users; slots keep them small."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in cls.__dict__


def test_values_cannot_be_changed_and_are_hashable() -> None:
    kv = KeyValue(b"k", b"v", 1, 2, 3, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        kv.value = b"x"  # type: ignore[misc]
    response = GetResponse(HEADER, (kv,), more=False, count=1)
    same = GetResponse(HEADER, (KeyValue(b"k", b"v", 1, 2, 3, 0),), False, 1)
    assert response == same and hash(response) == hash(same)


def test_key_value_str_helpers_decode_utf8() -> None:
    kv = KeyValue("schlüssel".encode(), "wert✓".encode())
    assert (kv.key_str, kv.value_str) == ("schlüssel", "wert✓")


def test_key_value_str_helpers_refuse_non_utf8() -> None:
    """Keys and values are bytes in etcd; decoding is strict rather than lossy."""
    kv = KeyValue(b"\xff", b"\xfe")
    with pytest.raises(UnicodeDecodeError):
        _ = kv.key_str
    with pytest.raises(UnicodeDecodeError):
        _ = kv.value_str


def test_get_response_iterates_and_measures_its_kvs() -> None:
    kvs = (KeyValue(b"a", b"1"), KeyValue(b"b", b"2"))
    response = GetResponse(HEADER, kvs, more=True, count=5)
    assert list(response) == list(kvs)
    assert len(response) == 2
    assert response.count == 5  # the whole range, not just what the limit let through
    assert response.first == kvs[0]
    assert response.value == b"1"


def test_get_response_single_key_helpers_return_none_when_absent() -> None:
    response = GetResponse(HEADER)
    assert (response.first, response.value, len(response), bool(response)) == (None, None, 0, False)


def test_get_response_value_of_an_empty_value_is_empty_not_none() -> None:
    """An existing key with an empty value is different from a missing key."""
    assert GetResponse(HEADER, (KeyValue(b"k", b""),), count=1).value == b""


def test_lease_expiry_helpers() -> None:
    """Go lease.go: a keep-alive reply with TTL <= 0 means the lease is gone; TimeToLive
    reports -1 for an expired or unknown lease."""
    assert LeaseKeepAliveReply(HEADER, 1, 0).expired
    assert LeaseKeepAliveReply(HEADER, 1, -1).expired
    assert not LeaseKeepAliveReply(HEADER, 1, 1).expired
    assert LeaseTimeToLive(HEADER, 1, -1).expired
    assert not LeaseTimeToLive(HEADER, 1, 0).expired


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (SortOrder.NONE, rpc_pb2.RangeRequest.NONE),
        (SortOrder.ASCEND, rpc_pb2.RangeRequest.ASCEND),
        (SortOrder.DESCEND, rpc_pb2.RangeRequest.DESCEND),
        (SortTarget.KEY, rpc_pb2.RangeRequest.KEY),
        (SortTarget.VERSION, rpc_pb2.RangeRequest.VERSION),
        (SortTarget.CREATE_REVISION, rpc_pb2.RangeRequest.CREATE),
        (SortTarget.MOD_REVISION, rpc_pb2.RangeRequest.MOD),
        (SortTarget.VALUE, rpc_pb2.RangeRequest.VALUE),
        (EventType.PUT, kv_pb2.Event.PUT),
        (EventType.DELETE, kv_pb2.Event.DELETE),
    ],
)
def test_enum_values_are_etcds_wire_numbers(
    ours: SortOrder | SortTarget | EventType, theirs: int
) -> None:
    assert ours.value == theirs


def test_types_module_is_layer_zero() -> None:
    """STYLE.md §1: types.py is L0 and imports only the standard library."""
    tree = ast.parse(pathlib.Path(types.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and not node.level
    }
    assert imported <= {"__future__", "enum", "collections", "dataclasses", "typing"}
