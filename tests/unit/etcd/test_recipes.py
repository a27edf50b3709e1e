"""The pure parts of the concurrency recipes: Go's key layout and range reads
(client/v3/concurrency mutex.go, key.go) and the STM guards (stm.go)."""

from __future__ import annotations

import pytest

from etcdwire import UsageError
from etcdwire._etcd.ops import CompareResult, CompareTarget, DeleteOp, PutOp
from etcdwire._etcd.recipes import (
    ReadSet,
    WriteSet,
    first_created,
    key_prefix,
    last_created_before,
    session_key,
)
from etcdwire.types import GetResponse, KeyValue, ResponseHeader, SortOrder, SortTarget


def test_key_layout_is_name_slash_lease_in_lower_hex() -> None:
    assert key_prefix("jobs") == b"jobs/"
    assert session_key(key_prefix(b"jobs"), 0x694D8A1B2C3D4E5F) == b"jobs/694d8a1b2c3d4e5f"
    with pytest.raises(UsageError):
        key_prefix("")


def test_owner_and_predecessor_reads() -> None:
    owner = first_created(b"jobs/")
    assert (owner.key, owner.range_end, owner.limit) == (b"jobs/", b"jobs0", 1)
    assert owner.sort_target is SortTarget.CREATE_REVISION
    assert owner.sort_order is SortOrder.ASCEND
    before = last_created_before(b"jobs/", 41)
    assert before.sort_order is SortOrder.DESCEND and before.max_create_revision == 41


def test_read_set_guards_and_first_revision() -> None:
    rset = ReadSet()
    assert rset.first() == 2**63 - 2  # Go's math.MaxInt64 - 1 when nothing was read
    present = GetResponse(ResponseHeader(revision=9), (KeyValue(b"a", mod_revision=7),))
    absent = GetResponse(ResponseHeader(revision=12))
    rset.add([b"a", b"b"], (present, absent))
    assert rset.first() == 9
    guards = {c.key: c for c in rset.cmps()}
    assert guards[b"a"].target is CompareTarget.MOD_REVISION and guards[b"a"].operand == 7
    assert guards[b"b"].result is CompareResult.EQUAL and guards[b"b"].operand == 0


def test_write_set_ops_lookup_and_snapshot_guards() -> None:
    wset = WriteSet()
    wset.put(b"a", b"1", lease=5)
    wset.delete(b"b")
    assert wset.lookup((b"x", b"b")) is not None and wset.lookup((b"b",)).value == b""  # type: ignore[union-attr]
    assert wset.lookup((b"x",)) is None
    put, delete = wset.ops()
    assert isinstance(put, PutOp) and put.lease == 5 and isinstance(delete, DeleteOp)
    guard = wset.cmps(10)[0]
    assert guard.result is CompareResult.LESS and guard.operand == 10
