"""Protobuf responses -> etcdwire.types (etcdwire._etcd.convert).

Messages are populated the way etcd 3.5 fills them (api/etcdserverpb/rpc.proto); every field
must arrive in the user-facing value, including the header and revisions that some Python
clients drop (etcetra returns bare values).
"""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire._etcd import convert
from etcdwire._pb import kv_pb2, rpc_pb2
from etcdwire.errors import Internal
from etcdwire.types import (
    CompactResponse,
    DeleteResponse,
    Event,
    EventType,
    GetResponse,
    KeyValue,
    LeaseGrant,
    LeaseKeepAliveReply,
    LeaseLeasesResponse,
    LeaseRevokeResponse,
    LeaseStatus,
    LeaseTimeToLive,
    Member,
    MemberListResponse,
    PutResponse,
    ResponseHeader,
    TxnResponse,
)

U64 = 2**64 - 1
I64 = 2**63 - 1

PB_HEADER = rpc_pb2.ResponseHeader(
    cluster_id=0xCDEF_0123_4567_89AB, member_id=U64, revision=I64, raft_term=7
)
HEADER = ResponseHeader(cluster_id=0xCDEF_0123_4567_89AB, member_id=U64, revision=I64, raft_term=7)


def _pb_kv(key: bytes, value: bytes = b"v", lease: int = 0) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(
        key=key, value=value, create_revision=3, mod_revision=9, version=4, lease=lease
    )


def _kv(key: bytes, value: bytes = b"v", lease: int = 0) -> KeyValue:
    return KeyValue(key, value, create_revision=3, mod_revision=9, version=4, lease=lease)


def test_header_keeps_every_field_at_full_width() -> None:
    """cluster_id/member_id/raft_term are uint64, revision int64: no truncation."""
    assert convert.header(PB_HEADER) == HEADER


_i64 = st.integers(0, I64)


@given(
    key=st.binary(min_size=1),
    value=st.binary(),
    create=_i64,
    mod=_i64,
    version=_i64,
    lease=_i64,
)
def test_key_value_round_trip(
    key: bytes, value: bytes, create: int, mod: int, version: int, lease: int
) -> None:
    """mvccpb.KeyValue -> KeyValue keeps key, value, both revisions, version and lease."""
    message = kv_pb2.KeyValue(
        key=key,
        value=value,
        create_revision=create,
        mod_revision=mod,
        version=version,
        lease=lease,
    )
    wire = kv_pb2.KeyValue.FromString(message.SerializeToString())
    assert convert.key_value(wire) == KeyValue(key, value, create, mod, version, lease)


def test_get_response() -> None:
    message = rpc_pb2.RangeResponse(
        header=PB_HEADER, kvs=[_pb_kv(b"a"), _pb_kv(b"b", lease=5)], more=True, count=10
    )
    assert convert.get_response(message) == GetResponse(
        HEADER, (_kv(b"a"), _kv(b"b", lease=5)), more=True, count=10
    )


def test_get_response_without_keys_or_header() -> None:
    """An unset header converts to an all-zero one (proto3 defaults), no kvs to ()."""
    assert convert.get_response(rpc_pb2.RangeResponse()) == GetResponse(ResponseHeader())


def test_count_only_response_keeps_the_count() -> None:
    message = rpc_pb2.RangeResponse(header=PB_HEADER, count=42)
    result = convert.get_response(message)
    assert (result.count, result.kvs, result.first) == (42, (), None)


def test_put_response_prev_kv_present_and_absent() -> None:
    """PutResponse.prev_kv is only set when asked for and the key existed: absent -> None,
    while an existing key with an empty value stays a KeyValue."""
    assert convert.put_response(rpc_pb2.PutResponse(header=PB_HEADER)) == PutResponse(HEADER)
    with_prev = rpc_pb2.PutResponse(header=PB_HEADER, prev_kv=_pb_kv(b"k", b""))
    assert convert.put_response(with_prev) == PutResponse(HEADER, _kv(b"k", b""))


def test_delete_response() -> None:
    message = rpc_pb2.DeleteRangeResponse(
        header=PB_HEADER, deleted=2, prev_kvs=[_pb_kv(b"a"), _pb_kv(b"b")]
    )
    assert convert.delete_response(message) == DeleteResponse(HEADER, 2, (_kv(b"a"), _kv(b"b")))


def test_compact_response() -> None:
    message = rpc_pb2.CompactionResponse(header=PB_HEADER)
    assert convert.compact_response(message) == CompactResponse(HEADER)


def test_txn_response_types_each_nested_response_by_its_oneof_case() -> None:
    """TxnResponse.responses: one ResponseOp per op of the branch that ran, each converted by
    its case (range/put/delete_range/txn), recursively. As etcd 3.5.1 sends them, nested
    headers carry only the revision and a nested txn's header is unset."""
    nested = rpc_pb2.TxnResponse(
        succeeded=False,
        responses=[
            rpc_pb2.ResponseOp(
                response_range=rpc_pb2.RangeResponse(
                    header=rpc_pb2.ResponseHeader(revision=5), kvs=[_pb_kv(b"x")], count=1
                )
            )
        ],
    )
    message = rpc_pb2.TxnResponse(
        header=PB_HEADER,
        succeeded=True,
        responses=[
            rpc_pb2.ResponseOp(
                response_range=rpc_pb2.RangeResponse(
                    header=rpc_pb2.ResponseHeader(revision=5), kvs=[_pb_kv(b"a")], count=1
                )
            ),
            rpc_pb2.ResponseOp(
                response_put=rpc_pb2.PutResponse(
                    header=rpc_pb2.ResponseHeader(revision=6), prev_kv=_pb_kv(b"p")
                )
            ),
            rpc_pb2.ResponseOp(
                response_delete_range=rpc_pb2.DeleteRangeResponse(
                    header=rpc_pb2.ResponseHeader(revision=6), deleted=1
                )
            ),
            rpc_pb2.ResponseOp(response_txn=nested),
        ],
    )
    result = convert.txn_response(message)
    assert result == TxnResponse(
        HEADER,
        succeeded=True,
        responses=(
            GetResponse(ResponseHeader(revision=5), (_kv(b"a"),), count=1),
            PutResponse(ResponseHeader(revision=6), _kv(b"p")),
            DeleteResponse(ResponseHeader(revision=6), deleted=1),
            TxnResponse(
                ResponseHeader(),
                succeeded=False,
                responses=(GetResponse(ResponseHeader(revision=5), (_kv(b"x"),), count=1),),
            ),
        ),
    )
    assert [type(r) for r in result.responses] == [
        GetResponse,
        PutResponse,
        DeleteResponse,
        TxnResponse,
    ]


def test_txn_response_failure_branch_with_no_ops() -> None:
    message = rpc_pb2.TxnResponse(header=PB_HEADER, succeeded=False)
    assert convert.txn_response(message) == TxnResponse(HEADER, succeeded=False)


def test_txn_response_entry_without_a_case_is_internal() -> None:
    """A ResponseOp with no case set cannot be interpreted: gRPC's statuscodes.md makes a
    client-side failure to interpret a response INTERNAL."""
    message = rpc_pb2.TxnResponse(header=PB_HEADER, responses=[rpc_pb2.ResponseOp()])
    with pytest.raises(Internal, match="no response set"):
        convert.txn_response(message)


def test_txn_response_survives_the_wire() -> None:
    """The same conversion after a serialize/parse round trip (what the shell receives)."""
    message = rpc_pb2.TxnResponse(
        header=PB_HEADER,
        succeeded=True,
        responses=[rpc_pb2.ResponseOp(response_put=rpc_pb2.PutResponse(header=PB_HEADER))],
    )
    wire = rpc_pb2.TxnResponse.FromString(message.SerializeToString())
    assert convert.txn_response(wire) == TxnResponse(HEADER, True, (PutResponse(HEADER),))


def test_events() -> None:
    """mvccpb.Event: PUT/DELETE, kv, and prev_kv only when the watch asked for it."""
    put = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=_pb_kv(b"k"))
    assert convert.event(put) == Event(EventType.PUT, _kv(b"k"), None)
    deleted = kv_pb2.Event(
        type=kv_pb2.Event.DELETE,
        kv=kv_pb2.KeyValue(key=b"k", mod_revision=10),
        prev_kv=_pb_kv(b"k"),
    )
    assert convert.event(deleted) == Event(
        EventType.DELETE, KeyValue(b"k", mod_revision=10), _kv(b"k")
    )


def test_event_of_unknown_type_is_internal() -> None:
    message = kv_pb2.Event.FromString(b"\x08\x07")  # type = 7, open enum in proto3
    with pytest.raises(Internal, match="unknown type 7"):
        convert.event(message)


def test_lease_grant() -> None:
    message = rpc_pb2.LeaseGrantResponse(header=PB_HEADER, ID=0x694D_8A1B_2C3D_4E5F, TTL=60)
    assert convert.lease_grant(message) == LeaseGrant(HEADER, 0x694D_8A1B_2C3D_4E5F, 60)


def test_lease_revoke() -> None:
    message = rpc_pb2.LeaseRevokeResponse(header=PB_HEADER)
    assert convert.lease_revoke(message) == LeaseRevokeResponse(HEADER)


def test_lease_keep_alive() -> None:
    message = rpc_pb2.LeaseKeepAliveResponse(header=PB_HEADER, ID=5, TTL=30)
    assert convert.lease_keep_alive(message) == LeaseKeepAliveReply(HEADER, 5, 30)
    gone = convert.lease_keep_alive(rpc_pb2.LeaseKeepAliveResponse(header=PB_HEADER, ID=5))
    assert gone.expired


def test_lease_time_to_live() -> None:
    message = rpc_pb2.LeaseTimeToLiveResponse(
        header=PB_HEADER, ID=5, TTL=12, grantedTTL=30, keys=[b"a", b"b"]
    )
    assert convert.lease_time_to_live(message) == LeaseTimeToLive(HEADER, 5, 12, 30, (b"a", b"b"))
    expired = rpc_pb2.LeaseTimeToLiveResponse(header=PB_HEADER, ID=5, TTL=-1)
    assert convert.lease_time_to_live(expired).expired


def test_lease_leases() -> None:
    message = rpc_pb2.LeaseLeasesResponse(
        header=PB_HEADER, leases=[rpc_pb2.LeaseStatus(ID=1), rpc_pb2.LeaseStatus(ID=2)]
    )
    result = convert.lease_leases(message)
    assert result == LeaseLeasesResponse(HEADER, (LeaseStatus(1), LeaseStatus(2)))
    assert result.ids == (1, 2)


def test_member_list() -> None:
    message = rpc_pb2.MemberListResponse(
        header=PB_HEADER,
        members=[
            rpc_pb2.Member(
                ID=U64,
                name="infra1",
                peerURLs=["http://10.0.0.1:2380"],
                clientURLs=["http://10.0.0.1:2379", "https://10.0.0.1:2379"],
            ),
            rpc_pb2.Member(ID=2, peerURLs=["http://10.0.0.2:2380"], isLearner=True),
        ],
    )
    assert convert.member_list(message) == MemberListResponse(
        HEADER,
        (
            Member(
                U64,
                "infra1",
                ("http://10.0.0.1:2380",),
                ("http://10.0.0.1:2379", "https://10.0.0.1:2379"),
            ),
            Member(2, "", ("http://10.0.0.2:2380",), (), is_learner=True),
        ),
    )


def test_fast_built_key_values_and_events_behave_as_constructed_ones() -> None:
    """key_value() and event() fill the slots directly instead of running the frozen
    __init__; the objects must be indistinguishable: equal, same hash and repr, still frozen,
    picklable."""
    message = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=_pb_kv(b"k"), prev_kv=_pb_kv(b"old"))
    built = convert.event(message)
    made = Event(EventType.PUT, _kv(b"k"), _kv(b"old"))
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert type(built) is Event and type(built.kv) is KeyValue
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.kv.value = b"changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.type = EventType.DELETE  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(built)) == made
    assert dataclasses.replace(built.kv, value=b"x") == dataclasses.replace(made.kv, value=b"x")
