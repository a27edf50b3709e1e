"""Protobuf responses -> :mod:`etcdwire.types`.

One function per etcd response message. Unset message fields convert to their defaults
(``ResponseHeader()`` for a missing header, None for a missing ``prev_kv``); repeated fields
become tuples. A txn's nested responses are converted by their oneof case, recursively.

These run once per response, so they pass fields by position and reuse the last header when
the next one is equal (headers are frozen; most responses in a row share one).
"""

from __future__ import annotations

from typing import NoReturn, Protocol

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
    "event_without_prev",
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


# Key-values and events are the objects built by the thousand (ranges, watch catch-up), so
# they skip the frozen dataclass __init__, which sets each field through object.__setattr__:
# a new instance gets its slots filled through their descriptors (about 40% less time). The
# result is the same object the constructor makes (the unit tests compare them).
_new = object.__new__
_set_key = KeyValue.__dict__["key"].__set__
_set_value = KeyValue.__dict__["value"].__set__
_set_create_revision = KeyValue.__dict__["create_revision"].__set__
_set_mod_revision = KeyValue.__dict__["mod_revision"].__set__
_set_version = KeyValue.__dict__["version"].__set__
_set_lease = KeyValue.__dict__["lease"].__set__
_set_type = Event.__dict__["type"].__set__
_set_kv = Event.__dict__["kv"].__set__
_set_prev_kv = Event.__dict__["prev_kv"].__set__


def key_value(message: kv_pb2.KeyValue) -> KeyValue:
    kv: KeyValue = _new(KeyValue)
    _set_key(kv, message.key)
    _set_value(kv, message.value)
    _set_create_revision(kv, message.create_revision)
    _set_mod_revision(kv, message.mod_revision)
    _set_version(kv, message.version)
    _set_lease(kv, message.lease)
    return kv


_EVENT_TYPES = {0: EventType.PUT, 1: EventType.DELETE}


def _unknown_event_type(kind: int) -> NoReturn:
    raise Internal(f"etcd sent a watch event of unknown type {kind}")


def event(message: kv_pb2.Event) -> Event:
    kind = _EVENT_TYPES.get(message.type)
    if kind is None:
        _unknown_event_type(message.type)
    converted: Event = _new(Event)
    _set_type(converted, kind)
    _set_kv(converted, key_value(message.kv))
    _set_prev_kv(converted, key_value(message.prev_kv) if message.HasField("prev_kv") else None)
    return converted


def event_without_prev(message: kv_pb2.Event) -> Event:
    """:func:`event` for a watch that did not ask for ``prev_kv`` (the server then never sends
    one): the key-value is built inline, the cheapest form, for catch-ups of many thousands."""
    kind = _EVENT_TYPES.get(message.type)
    if kind is None:
        _unknown_event_type(message.type)
    converted: Event = _new(Event)
    _set_type(converted, kind)
    message_kv = message.kv
    kv: KeyValue = _new(KeyValue)
    _set_key(kv, message_kv.key)
    _set_value(kv, message_kv.value)
    _set_create_revision(kv, message_kv.create_revision)
    _set_mod_revision(kv, message_kv.mod_revision)
    _set_version(kv, message_kv.version)
    _set_lease(kv, message_kv.lease)
    _set_kv(converted, kv)
    _set_prev_kv(converted, None)
    return converted


_set_get_header = GetResponse.__dict__["header"].__set__
_set_get_kvs = GetResponse.__dict__["kvs"].__set__
_set_get_more = GetResponse.__dict__["more"].__set__
_set_get_count = GetResponse.__dict__["count"].__set__


def get_response(message: rpc_pb2.RangeResponse) -> GetResponse:
    # The answer of every get: built by filling its slots, as key-values are.
    converted: GetResponse = _new(GetResponse)
    _set_get_header(converted, header(message.header))
    _set_get_kvs(converted, tuple(map(key_value, message.kvs)))
    _set_get_more(converted, message.more)
    _set_get_count(converted, message.count)
    return converted


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
