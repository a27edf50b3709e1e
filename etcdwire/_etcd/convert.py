"""Protobuf responses -> :mod:`etcdwire.types`.

One function per etcd response message. Unset message fields convert to their defaults
(``ResponseHeader()`` for a missing header, None for a missing ``prev_kv``); repeated fields
become tuples. A txn's nested responses are converted by their oneof case, recursively.

These run once per response, so they pass fields by position and reuse the last header when
the next one is equal (headers are frozen; most responses in a row share one).
"""

from __future__ import annotations

from typing import Protocol

from .._pb import kv_pb2, rpc_pb2
from ..errors import Internal
from ..types import (
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

__all__ = [
    "compact_response",
    "delete_response",
    "event",
    "get_response",
    "header",
    "key_value",
    "lease_grant",
    "lease_keep_alive",
    "lease_leases",
    "lease_revoke",
    "lease_time_to_live",
    "member",
    "member_list",
    "put_response",
    "txn_response",
]


class _HasHeader(Protocol):
    """Any etcd response message: each has a ``header`` field."""

    @property
    def header(self) -> rpc_pb2.ResponseHeader: ...


#: The last header converted, with its fields; the entry is replaced as a whole, so threads
#: may share it.
_last_header = [((0, 0, 0, 0), ResponseHeader())]


def header(message: rpc_pb2.ResponseHeader) -> ResponseHeader:
    fields = (message.cluster_id, message.member_id, message.revision, message.raft_term)
    last_fields, last = _last_header[0]
    if fields == last_fields:
        return last
    converted = ResponseHeader(*fields)
    _last_header[0] = (fields, converted)
    return converted


def _header_of(message: _HasHeader) -> ResponseHeader:
    # An unset header reads as all zeros, the defaults of ResponseHeader().
    return header(message.header)


def key_value(message: kv_pb2.KeyValue) -> KeyValue:
    # KeyValue(key, value, create_revision, mod_revision, version, lease)
    return KeyValue(
        message.key,
        message.value,
        message.create_revision,
        message.mod_revision,
        message.version,
        message.lease,
    )


_EVENT_TYPES = {kind.value: kind for kind in EventType}


def event(message: kv_pb2.Event) -> Event:
    kind = _EVENT_TYPES.get(message.type)
    if kind is None:
        raise Internal(f"etcd sent a watch event of unknown type {message.type}")
    prev_kv = key_value(message.prev_kv) if message.HasField("prev_kv") else None
    return Event(kind, key_value(message.kv), prev_kv)  # Event(type, kv, prev_kv)


def get_response(message: rpc_pb2.RangeResponse) -> GetResponse:
    # GetResponse(header, kvs, more, count)
    return GetResponse(
        header(message.header), tuple(map(key_value, message.kvs)), message.more, message.count
    )


def put_response(message: rpc_pb2.PutResponse) -> PutResponse:
    prev_kv = key_value(message.prev_kv) if message.HasField("prev_kv") else None
    return PutResponse(header(message.header), prev_kv)


def delete_response(message: rpc_pb2.DeleteRangeResponse) -> DeleteResponse:
    # DeleteResponse(header, deleted, prev_kvs)
    return DeleteResponse(
        header(message.header), message.deleted, tuple(map(key_value, message.prev_kvs))
    )


def compact_response(message: rpc_pb2.CompactionResponse) -> CompactResponse:
    return CompactResponse(header=_header_of(message))


def _response_op(
    message: rpc_pb2.ResponseOp,
) -> GetResponse | PutResponse | DeleteResponse | TxnResponse:
    case = message.WhichOneof("response")
    if case == "response_range":
        return get_response(message.response_range)
    if case == "response_put":
        return put_response(message.response_put)
    if case == "response_delete_range":
        return delete_response(message.response_delete_range)
    if case == "response_txn":
        return txn_response(message.response_txn)
    # gRPC's rule for a response the client cannot interpret: INTERNAL (statuscodes.md).
    raise Internal("etcd sent a txn response entry with no response set")


def txn_response(message: rpc_pb2.TxnResponse) -> TxnResponse:
    # TxnResponse(header, succeeded, responses)
    return TxnResponse(
        header(message.header), message.succeeded, tuple(map(_response_op, message.responses))
    )


def lease_grant(message: rpc_pb2.LeaseGrantResponse) -> LeaseGrant:
    return LeaseGrant(header=_header_of(message), id=message.ID, ttl=message.TTL)


def lease_revoke(message: rpc_pb2.LeaseRevokeResponse) -> LeaseRevokeResponse:
    return LeaseRevokeResponse(header=_header_of(message))


def lease_keep_alive(message: rpc_pb2.LeaseKeepAliveResponse) -> LeaseKeepAliveReply:
    return LeaseKeepAliveReply(header=_header_of(message), id=message.ID, ttl=message.TTL)


def lease_time_to_live(message: rpc_pb2.LeaseTimeToLiveResponse) -> LeaseTimeToLive:
    return LeaseTimeToLive(
        header=_header_of(message),
        id=message.ID,
        ttl=message.TTL,
        granted_ttl=message.grantedTTL,
        keys=tuple(message.keys),
    )


def lease_leases(message: rpc_pb2.LeaseLeasesResponse) -> LeaseLeasesResponse:
    return LeaseLeasesResponse(
        header=_header_of(message),
        leases=tuple(LeaseStatus(id=lease.ID) for lease in message.leases),
    )


def member(message: rpc_pb2.Member) -> Member:
    return Member(
        id=message.ID,
        name=message.name,
        peer_urls=tuple(message.peerURLs),
        client_urls=tuple(message.clientURLs),
        is_learner=message.isLearner,
    )


def member_list(message: rpc_pb2.MemberListResponse) -> MemberListResponse:
    return MemberListResponse(
        header=_header_of(message),
        members=tuple(member(m) for m in message.members),
    )
