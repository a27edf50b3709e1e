"""Values handed to users: frozen, slotted dataclasses built from etcd's responses.

Field names and meanings follow etcd's API (api/etcdserverpb/rpc.proto, api/mvccpb/kv.proto);
every response keeps its :class:`ResponseHeader`, so the revision a read was served at is always
at hand (for example to start a watch right after a get). Keys and values stay ``bytes``; the
``*_str`` properties decode UTF-8 for the common case of text keys.

This module is layer 0: it imports only the standard library.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "CompactResponse",
    "DeleteResponse",
    "Event",
    "EventType",
    "GetResponse",
    "KeyValue",
    "LeaseGrant",
    "LeaseKeepAliveReply",
    "LeaseLeasesResponse",
    "LeaseRevokeResponse",
    "LeaseStatus",
    "LeaseTimeToLive",
    "Member",
    "MemberListResponse",
    "PutResponse",
    "ResponseHeader",
    "SortOrder",
    "SortTarget",
    "TxnResponse",
]


class SortOrder(enum.Enum):
    """Order of a range read's results (RangeRequest.SortOrder)."""

    NONE = 0
    ASCEND = 1
    DESCEND = 2


class SortTarget(enum.Enum):
    """What a range read sorts by (RangeRequest.SortTarget)."""

    KEY = 0
    VERSION = 1
    CREATE_REVISION = 2
    MOD_REVISION = 3
    VALUE = 4


class EventType(enum.Enum):
    """Kind of a watch event (mvccpb.Event.EventType)."""

    PUT = 0
    DELETE = 1


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    """Which cluster and member answered, and the store revision and raft term it saw.

    Inside a txn response, etcd fills only ``revision`` of the nested responses' headers (and
    leaves the header of a nested txn empty); the top-level header is always complete.
    """

    cluster_id: int = 0
    member_id: int = 0
    revision: int = 0
    raft_term: int = 0


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key as stored by etcd.

    ``version`` counts modifications since the key was (re)created; ``lease`` is 0 when the key
    has no lease. With ``keys_only`` reads, ``value`` is empty.
    """

    key: bytes
    value: bytes = b""
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    lease: int = 0

    @property
    def key_str(self) -> str:
        """The key decoded as UTF-8 (raises UnicodeDecodeError if it is not)."""
        return self.key.decode("utf-8")

    @property
    def value_str(self) -> str:
        """The value decoded as UTF-8 (raises UnicodeDecodeError if it is not)."""
        return self.value.decode("utf-8")


@dataclass(frozen=True, slots=True)
class Event:
    """One change seen by a watch. ``prev_kv`` is set only when the watch asked for it (and
    the previous version was not compacted away)."""

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class GetResponse:
    """Result of a range read.

    Iterating or taking ``len()`` covers the returned ``kvs``; ``count`` is the number of keys
    in the whole range (ignoring ``limit``) and ``more`` says whether ``limit`` cut the result.
    For a single-key read, ``first`` and ``value`` return None when the key does not exist.
    """

    header: ResponseHeader
    kvs: tuple[KeyValue, ...] = ()
    more: bool = False
    count: int = 0

    def __iter__(self) -> Iterator[KeyValue]:
        return iter(self.kvs)

    def __len__(self) -> int:
        return len(self.kvs)

    @property
    def first(self) -> KeyValue | None:
        """The first key-value returned, or None if there is none."""
        return self.kvs[0] if self.kvs else None

    @property
    def value(self) -> bytes | None:
        """The value of the first key returned, or None if there is none."""
        return self.kvs[0].value if self.kvs else None


@dataclass(frozen=True, slots=True)
class PutResponse:
    """Result of a put; ``prev_kv`` is set when asked for and the key existed before."""

    header: ResponseHeader
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class DeleteResponse:
    """Result of a delete: how many keys went, and their last versions when asked for."""

    header: ResponseHeader
    deleted: int = 0
    prev_kvs: tuple[KeyValue, ...] = ()


@dataclass(frozen=True, slots=True)
class CompactResponse:
    """Result of a compaction."""

    header: ResponseHeader


@dataclass(frozen=True, slots=True)
class TxnResponse:
    """Result of a transaction.

    ``succeeded`` tells whether every compare held (so the success branch ran);
    ``responses`` holds one typed response per operation of the branch that ran, in order.
    """

    header: ResponseHeader
    succeeded: bool = False
    responses: tuple[GetResponse | PutResponse | DeleteResponse | TxnResponse, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """A granted lease: its ``id`` and the ``ttl`` in seconds the server settled on."""

    header: ResponseHeader
    id: int
    ttl: int


@dataclass(frozen=True, slots=True)
class LeaseRevokeResponse:
    """Result of revoking a lease (its keys are deleted)."""

    header: ResponseHeader


@dataclass(frozen=True, slots=True)
class LeaseKeepAliveReply:
    """One keep-alive answer: the lease's refreshed ``ttl``, or ``ttl <= 0`` if it is gone."""

    header: ResponseHeader
    id: int
    ttl: int

    @property
    def expired(self) -> bool:
        """True when the lease no longer exists (etcd answers with a TTL of zero or less)."""
        return self.ttl <= 0


@dataclass(frozen=True, slots=True)
class LeaseTimeToLive:
    """A lease's remaining ``ttl`` and ``granted_ttl`` in seconds; ``ttl`` is -1 when the lease
    expired or never existed. ``keys`` is filled only when asked for."""

    header: ResponseHeader
    id: int
    ttl: int
    granted_ttl: int = 0
    keys: tuple[bytes, ...] = ()

    @property
    def expired(self) -> bool:
        """True when etcd reports the lease as expired or unknown (TTL -1)."""
        return self.ttl < 0


@dataclass(frozen=True, slots=True)
class LeaseStatus:
    """One live lease in a lease listing."""

    id: int


@dataclass(frozen=True, slots=True)
class LeaseLeasesResponse:
    """Every live lease of the cluster."""

    header: ResponseHeader
    leases: tuple[LeaseStatus, ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(lease.id for lease in self.leases)


@dataclass(frozen=True, slots=True)
class Member:
    """One cluster member. ``name`` and ``client_urls`` are empty until the member has started."""

    id: int
    name: str = ""
    peer_urls: tuple[str, ...] = ()
    client_urls: tuple[str, ...] = ()
    is_learner: bool = False


@dataclass(frozen=True, slots=True)
class MemberListResponse:
    """The cluster's members as the answering member knows them."""

    header: ResponseHeader
    members: tuple[Member, ...] = ()
