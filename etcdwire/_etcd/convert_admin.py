"""Cluster, Maintenance, Auth, Lock and Election: requests built from user input, protobuf
responses converted to :mod:`etcdwire.types`, and the snapshot stream checked as it arrives.

Everything here is sans-IO: the services in ``_async``/``_sync`` only send what these functions
build and convert what comes back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol

from .._pb import auth_pb2, rpc_pb2, v3election_pb2, v3lock_pb2
from ..errors import Internal, SnapshotChecksumMismatch, UsageError
from ..types import (
    Alarm,
    AlarmResponse,
    AlarmType,
    AuthenticateResponse,
    AuthResponse,
    AuthStatus,
    DefragmentResponse,
    DowngradeAction,
    DowngradeResponse,
    HashKVResponse,
    HashResponse,
    LeaderKey,
    LeaderResponse,
    LockResponse,
    MemberAddResponse,
    MemberPromoteResponse,
    MemberRemoveResponse,
    MemberStatus,
    MemberUpdateResponse,
    MoveLeaderResponse,
    Permission,
    PermissionType,
    ProclaimResponse,
    ResignResponse,
    ResponseHeader,
    RoleGetResponse,
    RoleListResponse,
    SnapshotInfo,
    UnlockResponse,
    UserGetResponse,
    UserListResponse,
)
from .convert import header, key_value, member
from .ops import prefix_range_end, utf8

__all__ = [
    "SHA256_SIZE",
    "SnapshotReceiver",
    "alarm_request",
    "alarm_response",
    "as_bytes",
    "auth_header",
    "auth_status",
    "authenticate",
    "defragment",
    "downgrade_action",
    "downgrade_response",
    "hash_kv_response",
    "hash_response",
    "leader_key",
    "leader_key_message",
    "leader_response",
    "lock_response",
    "member_add",
    "member_promote",
    "member_remove",
    "member_update",
    "move_leader",
    "peer_urls",
    "permission_range",
    "permission_type",
    "proclaim_response",
    "resign_response",
    "role_get",
    "role_list",
    "status",
    "unlock_response",
    "user_get",
    "user_list",
]

#: etcd ends every snapshot stream with the SHA-256 of the database (server/etcdserver/api/
#: v3rpc/maintenance.go); ``etcdutl snapshot restore`` checks it when the file carries it.
SHA256_SIZE = 32

_EMPTY_HEADER = ResponseHeader()


class _HasHeader(Protocol):
    @property
    def header(self) -> rpc_pb2.ResponseHeader: ...

    def HasField(self, field_name: str) -> bool: ...


def _header_of(message: _HasHeader) -> ResponseHeader:
    return header(message.header) if message.HasField("header") else _EMPTY_HEADER


def as_bytes(value: bytes | str, what: str = "key") -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return utf8(value, what)
    raise UsageError(f"{what} must be bytes or str, got {type(value).__name__}")


# --- cluster ---------------------------------------------------------------------------------


def peer_urls(urls: str | Iterable[str]) -> list[str]:
    """A non-empty list of peer URLs (a single string is one URL)."""
    result = [urls] if isinstance(urls, str) else list(urls)
    if not result or not all(isinstance(u, str) and u for u in result):
        raise UsageError(f"peer URLs must be non-empty strings, got {urls!r}")
    return result


def member_add(message: rpc_pb2.MemberAddResponse) -> MemberAddResponse:
    return MemberAddResponse(
        header=_header_of(message),
        member=member(message.member),
        members=tuple(member(m) for m in message.members),
    )


def member_remove(message: rpc_pb2.MemberRemoveResponse) -> MemberRemoveResponse:
    return MemberRemoveResponse(
        header=_header_of(message), members=tuple(member(m) for m in message.members)
    )


def member_update(message: rpc_pb2.MemberUpdateResponse) -> MemberUpdateResponse:
    return MemberUpdateResponse(
        header=_header_of(message), members=tuple(member(m) for m in message.members)
    )


def member_promote(message: rpc_pb2.MemberPromoteResponse) -> MemberPromoteResponse:
    return MemberPromoteResponse(
        header=_header_of(message), members=tuple(member(m) for m in message.members)
    )


# --- maintenance -----------------------------------------------------------------------------


def _alarm_type(value: int) -> AlarmType:
    try:
        return AlarmType(value)
    except ValueError:
        raise Internal(f"etcd sent an alarm of unknown type {value}") from None


def alarm_request(
    action: str, member_id: int = 0, alarm: AlarmType | str | None = None
) -> rpc_pb2.AlarmRequest:
    """``action``: "GET", "ACTIVATE" or "DEACTIVATE"."""
    if alarm is None:
        kind = AlarmType.NONE
    elif isinstance(alarm, AlarmType):
        kind = alarm
    else:
        try:
            kind = AlarmType[str(alarm).upper()]
        except KeyError:
            raise UsageError(f"unknown alarm {alarm!r}") from None
    if member_id < 0:
        raise UsageError(f"member id must not be negative, got {member_id!r}")
    return rpc_pb2.AlarmRequest(action=action, memberID=member_id, alarm=kind.name)


def alarm_response(message: rpc_pb2.AlarmResponse) -> AlarmResponse:
    return AlarmResponse(
        header=_header_of(message),
        alarms=tuple(Alarm(a.memberID, _alarm_type(a.alarm)) for a in message.alarms),
    )


def status(message: rpc_pb2.StatusResponse, endpoint: str | None) -> MemberStatus:
    return MemberStatus(
        header=_header_of(message),
        endpoint=endpoint,
        version=message.version,
        db_size=message.dbSize,
        leader=message.leader,
        raft_index=message.raftIndex,
        raft_term=message.raftTerm,
        raft_applied_index=message.raftAppliedIndex,
        errors=tuple(message.errors),
        db_size_in_use=message.dbSizeInUse,
        is_learner=message.isLearner,
    )


def defragment(message: rpc_pb2.DefragmentResponse, endpoint: str | None) -> DefragmentResponse:
    return DefragmentResponse(header=_header_of(message), endpoint=endpoint)


def hash_response(message: rpc_pb2.HashResponse) -> HashResponse:
    return HashResponse(header=_header_of(message), hash=message.hash)


def hash_kv_response(message: rpc_pb2.HashKVResponse) -> HashKVResponse:
    return HashKVResponse(
        header=_header_of(message),
        hash=message.hash,
        compact_revision=message.compact_revision,
        hash_revision=message.hash_revision,
    )


def move_leader(message: rpc_pb2.MoveLeaderResponse) -> MoveLeaderResponse:
    return MoveLeaderResponse(header=_header_of(message))


def downgrade_action(action: DowngradeAction | str) -> DowngradeAction:
    if isinstance(action, DowngradeAction):
        return action
    try:
        return DowngradeAction[str(action).upper()]
    except KeyError:
        raise UsageError(
            f"unknown downgrade action {action!r} (validate, enable or cancel)"
        ) from None


def downgrade_response(message: rpc_pb2.DowngradeResponse) -> DowngradeResponse:
    return DowngradeResponse(header=_header_of(message), version=message.version)


class SnapshotReceiver:
    """Checks a Maintenance.Snapshot stream as it arrives, in constant memory.

    etcd sends the database in chunks, each with the number of bytes still to come after it,
    then one last message holding the SHA-256 of the database. :meth:`feed` returns the bytes
    to write (everything, digest included, as ``etcdctl snapshot save`` writes it);
    :meth:`finish` checks the digest and raises :class:`SnapshotChecksumMismatch` when it is
    wrong or missing."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.db_size: int | None = None
        self.received = 0
        self._digest = bytearray()

    @property
    def total(self) -> int | None:
        """Bytes the whole stream will carry, once the first chunk told the database size."""
        return None if self.db_size is None else self.db_size + SHA256_SIZE

    def feed(self, message: rpc_pb2.SnapshotResponse) -> bytes:
        blob = message.blob
        if self.db_size is None:
            self.db_size = message.remaining_bytes + len(blob)
        in_db = max(0, min(len(blob), self.db_size - self.received))
        if in_db:
            self._hash.update(blob[:in_db] if in_db < len(blob) else blob)
        if in_db < len(blob):
            self._digest += blob[in_db:]
        self.received += len(blob)
        return blob

    def finish(self, endpoint: str | None = None) -> SnapshotInfo:
        db_size = self.db_size or 0
        actual = self._hash.hexdigest()
        expected = bytes(self._digest).hex()
        if self.received < db_size:
            raise SnapshotChecksumMismatch(
                f"snapshot stream ended after {self.received} of {db_size} bytes",
                expected=expected,
                actual=actual,
                size=self.received,
                endpoint=endpoint,
            )
        if len(self._digest) != SHA256_SIZE or expected != actual:
            what = (
                f"a {len(self._digest)}-byte trailer instead of a SHA-256 digest"
                if len(self._digest) != SHA256_SIZE
                else f"digest {expected} but the data hashes to {actual}"
            )
            raise SnapshotChecksumMismatch(
                f"snapshot of {db_size} bytes is corrupt: etcd sent {what}",
                expected=expected,
                actual=actual,
                size=self.received,
                endpoint=endpoint,
            )
        return SnapshotInfo(size=self.received, db_size=db_size, sha256=actual, endpoint=endpoint)


# --- auth ------------------------------------------------------------------------------------


def permission_type(perm: PermissionType | str) -> PermissionType:
    if isinstance(perm, PermissionType):
        return perm
    try:
        return PermissionType[str(perm).upper()]
    except KeyError:
        raise UsageError(f"unknown permission {perm!r} (read, write or readwrite)") from None


def permission_range(
    key: bytes | str,
    range_end: bytes | str | None = None,
    *,
    prefix: bool = False,
    from_key: bool = False,
) -> tuple[bytes, bytes]:
    """``(key, range_end)`` of a permission on one key, a range, a prefix or a key onwards."""
    raw = as_bytes(key)
    if sum((range_end is not None, prefix, from_key)) > 1:
        raise UsageError("give at most one of range_end, prefix and from_key")
    if not raw:
        # etcd reads the range ["\0", "\0") as every key; a lone empty key means nothing.
        if not (prefix or from_key):
            raise UsageError("a permission needs a key (an empty one only with prefix or from_key)")
        return b"\0", b"\0"
    if prefix:
        return raw, prefix_range_end(raw)
    if from_key:
        return raw, b"\0"
    return raw, b"" if range_end is None else as_bytes(range_end, "range_end")


def auth_header(message: _HasHeader) -> AuthResponse:
    return AuthResponse(header=_header_of(message))


def auth_status(message: rpc_pb2.AuthStatusResponse) -> AuthStatus:
    return AuthStatus(
        header=_header_of(message), enabled=message.enabled, auth_revision=message.authRevision
    )


def authenticate(message: rpc_pb2.AuthenticateResponse) -> AuthenticateResponse:
    return AuthenticateResponse(header=_header_of(message), token=message.token)


def _permission(message: auth_pb2.Permission) -> Permission:
    try:
        kind = PermissionType(message.permType)
    except ValueError:
        raise Internal(f"etcd sent a permission of unknown type {message.permType}") from None
    return Permission(perm_type=kind, key=message.key, range_end=message.range_end)


def user_get(message: rpc_pb2.AuthUserGetResponse, name: str) -> UserGetResponse:
    return UserGetResponse(header=_header_of(message), name=name, roles=tuple(message.roles))


def user_list(message: rpc_pb2.AuthUserListResponse) -> UserListResponse:
    return UserListResponse(header=_header_of(message), users=tuple(message.users))


def role_get(message: rpc_pb2.AuthRoleGetResponse, name: str) -> RoleGetResponse:
    return RoleGetResponse(
        header=_header_of(message),
        name=name,
        permissions=tuple(_permission(p) for p in message.perm),
    )


def role_list(message: rpc_pb2.AuthRoleListResponse) -> RoleListResponse:
    return RoleListResponse(header=_header_of(message), roles=tuple(message.roles))


# --- lock and election -----------------------------------------------------------------------


def lock_response(message: v3lock_pb2.LockResponse) -> LockResponse:
    return LockResponse(header=_header_of(message), key=message.key)


def unlock_response(message: v3lock_pb2.UnlockResponse) -> UnlockResponse:
    return UnlockResponse(header=_header_of(message))


def leader_key(message: v3election_pb2.LeaderKey) -> LeaderKey:
    return LeaderKey(name=message.name, key=message.key, rev=message.rev, lease=message.lease)


def leader_key_message(leader: LeaderKey) -> v3election_pb2.LeaderKey:
    if not isinstance(leader, LeaderKey):
        raise UsageError(f"expected the LeaderKey returned by campaign, got {leader!r}")
    return v3election_pb2.LeaderKey(
        name=leader.name, key=leader.key, rev=leader.rev, lease=leader.lease
    )


def leader_response(message: v3election_pb2.LeaderResponse) -> LeaderResponse:
    return LeaderResponse(header=_header_of(message), kv=key_value(message.kv))


def proclaim_response(message: v3election_pb2.ProclaimResponse) -> ProclaimResponse:
    return ProclaimResponse(header=_header_of(message))


def resign_response(message: v3election_pb2.ResignResponse) -> ResignResponse:
    return ResignResponse(header=_header_of(message))
