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


# --- cluster, maintenance, auth, lock and election (etcdserverpb Cluster / Maintenance / Auth,
# --- v3lockpb, v3electionpb) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberAddResponse:
    """The member just added (``name`` empty until it starts) and the members after the
    change: what a new member needs for ``--initial-cluster``."""

    header: ResponseHeader
    member: Member
    members: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberRemoveResponse:
    """The members left after a removal."""

    header: ResponseHeader
    members: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberUpdateResponse:
    """The members after a member's peer URLs were changed."""

    header: ResponseHeader
    members: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberPromoteResponse:
    """The members after a learner was promoted to a voting member."""

    header: ResponseHeader
    members: tuple[Member, ...] = ()


class AlarmType(enum.Enum):
    """Kind of a cluster alarm (etcdserverpb.AlarmType)."""

    NONE = 0
    NOSPACE = 1
    CORRUPT = 2


@dataclass(frozen=True, slots=True)
class Alarm:
    """One raised alarm: which member raised it, and what kind it is."""

    member_id: int
    alarm: AlarmType


@dataclass(frozen=True, slots=True)
class AlarmResponse:
    """The alarms listed, or the alarms just disarmed."""

    header: ResponseHeader
    alarms: tuple[Alarm, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One member's view of itself (Maintenance.Status).

    ``endpoint`` is the endpoint asked, or None when the client chose it. ``db_size`` is the
    backend file size and ``db_size_in_use`` the part of it holding data (their difference is
    what a defragmentation gives back). ``errors`` lists the alarms the member reports."""

    header: ResponseHeader
    endpoint: str | None
    version: str
    db_size: int
    leader: int
    raft_index: int
    raft_term: int
    raft_applied_index: int = 0
    errors: tuple[str, ...] = ()
    db_size_in_use: int = 0
    is_learner: bool = False

    @property
    def member_id(self) -> int:
        return self.header.member_id

    @property
    def is_leader(self) -> bool:
        """True when the answering member is the raft leader."""
        return self.leader != 0 and self.leader == self.header.member_id


@dataclass(frozen=True, slots=True)
class DefragmentResponse:
    """Result of defragmenting one member's backend (etcd 3.5 leaves the header empty)."""

    header: ResponseHeader
    endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class HashResponse:
    """CRC-32 of one member's whole backend (Maintenance.Hash; for testing only)."""

    header: ResponseHeader
    hash: int


@dataclass(frozen=True, slots=True)
class HashKVResponse:
    """CRC-32 of one member's key-value history up to the revision asked (Maintenance.HashKV),
    comparable between members; ``compact_revision`` is the member's compaction point (-1 if
    it never compacted). ``hash_revision``, the revision hashed, is sent by etcd 3.5.5 and
    later only (0 otherwise)."""

    header: ResponseHeader
    hash: int
    compact_revision: int
    hash_revision: int = 0


@dataclass(frozen=True, slots=True)
class MoveLeaderResponse:
    """Result of a leadership transfer (etcd 3.5 leaves the header empty)."""

    header: ResponseHeader


class DowngradeAction(enum.Enum):
    """What a Downgrade request asks for (etcdserverpb.DowngradeRequest.DowngradeAction)."""

    VALIDATE = 0
    ENABLE = 1
    CANCEL = 2


@dataclass(frozen=True, slots=True)
class DowngradeResponse:
    """The cluster version reported by a Downgrade request."""

    header: ResponseHeader
    version: str


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A snapshot received and verified: ``size`` bytes were written (the database followed
    by its 32-byte SHA-256 digest, the layout ``etcdutl snapshot restore`` checks),
    ``db_size`` of them are the database, ``sha256`` is the digest in hex."""

    size: int
    db_size: int
    sha256: str
    endpoint: str | None = None


class PermissionType(enum.Enum):
    """What a role may do on a key range (authpb.Permission.Type)."""

    READ = 0
    WRITE = 1
    READWRITE = 2


@dataclass(frozen=True, slots=True)
class Permission:
    """A role's permission on ``key`` alone (``range_end`` empty), on ``[key, range_end)``, or
    on every key from ``key`` on (``range_end == b"\\0"``)."""

    perm_type: PermissionType
    key: bytes
    range_end: bytes = b""


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """Result of an auth change that returns nothing but its header (enable, disable, add,
    delete, grant, revoke, change password)."""

    header: ResponseHeader


@dataclass(frozen=True, slots=True)
class AuthStatus:
    """Whether authentication is enabled, and the auth store's revision."""

    header: ResponseHeader
    enabled: bool
    auth_revision: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class AuthenticateResponse:
    """A token for the user who authenticated (left out of the repr)."""

    header: ResponseHeader
    token: str

    def __repr__(self) -> str:
        return f"AuthenticateResponse(header={self.header!r}, token=<hidden>)"


@dataclass(frozen=True, slots=True)
class UserGetResponse:
    """A user and the roles granted to it."""

    header: ResponseHeader
    name: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserListResponse:
    """Every user name."""

    header: ResponseHeader
    users: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleGetResponse:
    """A role and its permissions."""

    header: ResponseHeader
    name: str
    permissions: tuple[Permission, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleListResponse:
    """Every role name."""

    header: ResponseHeader
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LockResponse:
    """A lock held: ``key`` is the lock's ownership key, to pass to ``unlock``; it lives as long
    as the lease given to ``lock``."""

    header: ResponseHeader
    key: bytes


@dataclass(frozen=True, slots=True)
class UnlockResponse:
    """Result of releasing a lock."""

    header: ResponseHeader


@dataclass(frozen=True, slots=True)
class LeaderKey:
    """Who leads an election: the election ``name``, the leader's ``key`` under it, its
    creation revision ``rev`` and its ``lease``. Pass it to ``proclaim`` and ``resign``."""

    name: bytes
    key: bytes
    rev: int
    lease: int


@dataclass(frozen=True, slots=True)
class LeaderResponse:
    """The current leader of an election: its key-value (the key is the leader key, the value
    what it proclaimed)."""

    header: ResponseHeader
    kv: KeyValue

    @property
    def key(self) -> bytes:
        return self.kv.key

    @property
    def value(self) -> bytes:
        return self.kv.value


@dataclass(frozen=True, slots=True)
class ProclaimResponse:
    """Result of a leader announcing a new value."""

    header: ResponseHeader


@dataclass(frozen=True, slots=True)
class ResignResponse:
    """Result of a leader giving up its leadership."""

    header: ResponseHeader


__all__ += [
    "Alarm",
    "AlarmResponse",
    "AlarmType",
    "AuthResponse",
    "AuthStatus",
    "AuthenticateResponse",
    "DefragmentResponse",
    "DowngradeAction",
    "DowngradeResponse",
    "HashKVResponse",
    "HashResponse",
    "LeaderKey",
    "LeaderResponse",
    "LockResponse",
    "MemberAddResponse",
    "MemberPromoteResponse",
    "MemberRemoveResponse",
    "MemberStatus",
    "MemberUpdateResponse",
    "MoveLeaderResponse",
    "Permission",
    "PermissionType",
    "ProclaimResponse",
    "ResignResponse",
    "RoleGetResponse",
    "RoleListResponse",
    "SnapshotInfo",
    "UnlockResponse",
    "UserGetResponse",
    "UserListResponse",
]
