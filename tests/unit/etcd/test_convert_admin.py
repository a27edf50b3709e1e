"""Cluster, Maintenance, Auth, Lock and Election without a server (etcdwire._etcd.convert_admin
and the error table): responses as etcd 3.5 fills them, requests built from user input, the
snapshot stream checked byte by byte, and etcd's errors resolved by name."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire._etcd import convert_admin as ca
from etcdwire._pb import auth_pb2, kv_pb2, rpc_pb2, v3election_pb2, v3lock_pb2
from etcdwire.errors import (
    AuthFailed,
    BadLeaderTransferee,
    ElectionNoLeader,
    ElectionNotLeader,
    Internal,
    LeaseNotFound,
    MemberNotLearner,
    NoInflightDowngrade,
    NoLeader,
    NotFound,
    PermissionDenied,
    RoleNotGranted,
    SnapshotChecksumMismatch,
    StatusCode,
    Unavailable,
    Unknown,
    UsageError,
    error_from_status,
)
from etcdwire.types import (
    Alarm,
    AlarmType,
    DowngradeAction,
    KeyValue,
    LeaderKey,
    Member,
    Permission,
    PermissionType,
    ResponseHeader,
)

PB_HEADER = rpc_pb2.ResponseHeader(cluster_id=1, member_id=2, revision=3, raft_term=4)
HEADER = ResponseHeader(1, 2, 3, 4)


def test_member_changes_keep_every_member() -> None:
    learner = rpc_pb2.Member(ID=9, peerURLs=["http://p:2380"], isLearner=True)
    voter = rpc_pb2.Member(ID=1, name="m1", peerURLs=["http://a"], clientURLs=["http://c"])
    added = ca.member_add(
        rpc_pb2.MemberAddResponse(header=PB_HEADER, member=learner, members=[voter, learner])
    )
    assert added.header == HEADER
    assert added.member == Member(9, "", ("http://p:2380",), (), True)
    assert added.members[0] == Member(1, "m1", ("http://a",), ("http://c",), False)
    removed = ca.member_remove(rpc_pb2.MemberRemoveResponse(members=[voter]))
    assert removed.header == ResponseHeader() and [m.id for m in removed.members] == [1]
    assert ca.member_promote(rpc_pb2.MemberPromoteResponse(members=[voter])).members[0].id == 1
    assert ca.member_update(rpc_pb2.MemberUpdateResponse(header=PB_HEADER)).members == ()


def test_peer_urls_must_be_non_empty_strings() -> None:
    assert ca.peer_urls("http://a:1") == ["http://a:1"]
    assert ca.peer_urls(("http://a:1", "http://b:1")) == ["http://a:1", "http://b:1"]
    for bad in ([], [""], [1], ""):
        with pytest.raises(UsageError):
            ca.peer_urls(bad)  # type: ignore[arg-type]


def test_status_and_alarms() -> None:
    message = rpc_pb2.StatusResponse(
        header=PB_HEADER,
        version="3.5.1",
        dbSize=100,
        leader=2,
        raftIndex=7,
        raftTerm=4,
        raftAppliedIndex=7,
        errors=["memberID:2 alarm:NOSPACE "],
        dbSizeInUse=60,
        isLearner=False,
    )
    status = ca.status(message, "http://127.0.0.1:2379")
    assert status.is_leader and status.member_id == 2
    assert (status.db_size, status.db_size_in_use, status.errors) == (
        100,
        60,
        ("memberID:2 alarm:NOSPACE ",),
    )
    assert not ca.status(rpc_pb2.StatusResponse(header=PB_HEADER, leader=5), None).is_leader
    assert not ca.status(rpc_pb2.StatusResponse(), None).is_leader  # no leader, no header

    alarms = ca.alarm_response(
        rpc_pb2.AlarmResponse(alarms=[rpc_pb2.AlarmMember(memberID=2, alarm="NOSPACE")])
    )
    assert alarms.alarms == (Alarm(2, AlarmType.NOSPACE),)
    request = ca.alarm_request("DEACTIVATE", 2, "corrupt")
    assert (request.action, request.memberID, request.alarm) == (
        rpc_pb2.AlarmRequest.DEACTIVATE,
        2,
        rpc_pb2.CORRUPT,
    )
    assert ca.alarm_request("GET").alarm == rpc_pb2.NONE
    with pytest.raises(UsageError):
        ca.alarm_request("DEACTIVATE", 2, "fire")
    with pytest.raises(UsageError):
        ca.alarm_request("DEACTIVATE", -1)
    unknown = rpc_pb2.AlarmResponse()
    unknown.alarms.add(memberID=1).alarm = 7  # type: ignore[assignment]
    with pytest.raises(Internal):
        ca.alarm_response(unknown)


def test_hashes_and_downgrade() -> None:
    assert ca.hash_response(rpc_pb2.HashResponse(hash=42)).hash == 42
    kv = ca.hash_kv_response(rpc_pb2.HashKVResponse(hash=1, compact_revision=-1))
    assert (kv.hash, kv.compact_revision, kv.hash_revision) == (1, -1, 0)
    assert ca.downgrade_action("Enable") is DowngradeAction.ENABLE
    assert ca.downgrade_action(DowngradeAction.CANCEL) is DowngradeAction.CANCEL
    with pytest.raises(UsageError):
        ca.downgrade_action("upgrade")
    assert ca.downgrade_response(rpc_pb2.DowngradeResponse(version="3.5.0")).version == "3.5.0"


def snapshot_messages(db: bytes, trailer: bytes, chunk: int) -> list[rpc_pb2.SnapshotResponse]:
    """Chunks as etcd sends them (remaining bytes after each), then the digest message."""
    messages = []
    for start in range(0, len(db), chunk):
        blob = db[start : start + chunk]
        messages.append(
            rpc_pb2.SnapshotResponse(remaining_bytes=len(db) - start - len(blob), blob=blob)
        )
    messages.append(rpc_pb2.SnapshotResponse(blob=trailer))
    return messages


@given(db=st.binary(min_size=1, max_size=3000), chunk=st.integers(1, 700))
def test_snapshot_receiver_passes_every_byte_and_checks_the_digest(db: bytes, chunk: int) -> None:
    digest = hashlib.sha256(db).digest()
    receiver = ca.SnapshotReceiver()
    written = b""
    for message in snapshot_messages(db, digest, chunk):
        written += receiver.feed(message)
        assert receiver.total == len(db) + ca.SHA256_SIZE
    info = receiver.finish("ep")
    assert written == db + digest
    assert (info.size, info.db_size, info.sha256, info.endpoint) == (
        len(db) + 32,
        len(db),
        digest.hex(),
        "ep",
    )


@given(db=st.binary(min_size=1, max_size=2000), flip=st.integers(0, 10**6))
def test_snapshot_receiver_refuses_a_corrupt_stream(db: bytes, flip: int) -> None:
    digest = hashlib.sha256(db).digest()
    index = flip % len(db)
    corrupt = db[:index] + bytes([db[index] ^ 0x01]) + db[index + 1 :]
    receiver = ca.SnapshotReceiver()
    for message in snapshot_messages(corrupt, digest, 512):
        receiver.feed(message)
    with pytest.raises(SnapshotChecksumMismatch) as raised:
        receiver.finish()
    assert raised.value.expected == digest.hex()
    assert raised.value.actual == hashlib.sha256(corrupt).hexdigest()
    assert raised.value.code is StatusCode.DATA_LOSS


def test_snapshot_receiver_refuses_a_truncated_or_digestless_stream() -> None:
    db = b"x" * 1000
    receiver = ca.SnapshotReceiver()
    receiver.feed(snapshot_messages(db, b"", 400)[0])  # 400 of 1000 bytes, then the end
    with pytest.raises(SnapshotChecksumMismatch, match="ended after 400 of 1000 bytes"):
        receiver.finish()
    receiver = ca.SnapshotReceiver()
    for message in snapshot_messages(db, b"", 400)[:-1]:
        receiver.feed(message)
    with pytest.raises(SnapshotChecksumMismatch, match="0-byte trailer"):
        receiver.finish()
    receiver = ca.SnapshotReceiver()
    for message in snapshot_messages(db, hashlib.sha256(db).digest() + b"!", 400):
        receiver.feed(message)
    with pytest.raises(SnapshotChecksumMismatch, match="33-byte trailer"):
        receiver.finish()


def test_permission_ranges_follow_etcdctl() -> None:
    """etcdctl role grant-permission: a key, [key, end), --prefix, --from-key; an empty key
    with --prefix or --from-key is every key (["\\0", "\\0"))."""
    assert ca.permission_range("k") == (b"k", b"")
    assert ca.permission_range("a", "c") == (b"a", b"c")
    assert ca.permission_range("app/", prefix=True) == (b"app/", b"app0")
    assert ca.permission_range(b"\xff", prefix=True) == (b"\xff", b"\0")
    assert ca.permission_range("z", from_key=True) == (b"z", b"\0")
    assert ca.permission_range("", prefix=True) == (b"\0", b"\0")
    assert ca.permission_range("", from_key=True) == (b"\0", b"\0")
    for args, kwargs in (
        (("",), {}),
        (("a", "b"), {"prefix": True}),
        (("a",), {"prefix": True, "from_key": True}),
        ((1,), {}),
    ):
        with pytest.raises(UsageError):
            ca.permission_range(*args, **kwargs)  # type: ignore[arg-type]
    assert ca.permission_type("readWrite") is PermissionType.READWRITE
    with pytest.raises(UsageError):
        ca.permission_type("admin")


def test_auth_responses() -> None:
    role = ca.role_get(
        rpc_pb2.AuthRoleGetResponse(
            header=PB_HEADER,
            perm=[auth_pb2.Permission(permType="WRITE", key=b"a", range_end=b"b")],
        ),
        "r",
    )
    assert role.name == "r" and role.permissions == (Permission(PermissionType.WRITE, b"a", b"b"),)
    assert ca.user_get(rpc_pb2.AuthUserGetResponse(roles=["x", "y"]), "u").roles == ("x", "y")
    assert ca.user_list(rpc_pb2.AuthUserListResponse(users=["u"])).users == ("u",)
    assert ca.role_list(rpc_pb2.AuthRoleListResponse(roles=["r"])).roles == ("r",)
    status = ca.auth_status(rpc_pb2.AuthStatusResponse(enabled=True, authRevision=5))
    assert status.enabled and status.auth_revision == 5
    token = ca.authenticate(rpc_pb2.AuthenticateResponse(header=PB_HEADER, token="secret.1"))
    assert token.token == "secret.1" and "secret" not in repr(token)
    assert ca.auth_header(rpc_pb2.AuthEnableResponse(header=PB_HEADER)).header == HEADER


def test_lock_and_election_messages() -> None:
    assert ca.lock_response(v3lock_pb2.LockResponse(header=PB_HEADER, key=b"l/1")).key == b"l/1"
    pb_leader = v3election_pb2.LeaderKey(name=b"e", key=b"e/1", rev=7, lease=9)
    leader = ca.leader_key(pb_leader)
    assert leader == LeaderKey(b"e", b"e/1", 7, 9)
    assert ca.leader_key_message(leader) == pb_leader
    with pytest.raises(UsageError):
        ca.leader_key_message(b"e/1")  # type: ignore[arg-type]
    response = ca.leader_response(
        v3election_pb2.LeaderResponse(
            header=PB_HEADER, kv=kv_pb2.KeyValue(key=b"e/1", value=b"v", create_revision=7)
        )
    )
    assert response.kv == KeyValue(b"e/1", b"v", 7)
    assert (response.key, response.value) == (b"e/1", b"v")
    assert ca.as_bytes("é") == "é".encode()
    with pytest.raises(UsageError):
        ca.as_bytes(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "message", "cls"),
    [
        # v3lock and v3election relay their client's errors with code UNKNOWN
        (2, "etcdserver: requested lease not found", LeaseNotFound),
        (2, "etcdserver: no leader", NoLeader),
        (2, "election: no leader", ElectionNoLeader),
        (2, "election: not leader", ElectionNotLeader),
        (2, "auth: authentication failed, password was given for no password user", AuthFailed),
        # the codes etcd's rpctypes/error.go gives them
        (9, "etcdserver: can only promote a learner member", MemberNotLearner),
        (9, "etcdserver: bad leader transferee", BadLeaderTransferee),
        (9, "etcdserver: no inflight downgrade job", NoInflightDowngrade),
        (9, "etcdserver: role is not granted to the user", RoleNotGranted),
        (7, "etcdserver: permission denied", PermissionDenied),
        # an unknown message keeps the code's class; a known one under a foreign code too
        (2, "something else", Unknown),
        (14, "etcdserver: requested lease not found", Unavailable),
        (5, "election: no leader", NotFound),
    ],
)
def test_etcd_errors_resolve_by_name(code: int, message: str, cls: type) -> None:
    error = error_from_status(code, message, endpoint="ep")
    assert type(error) is cls
    assert error.code == code  # type: ignore[attr-defined]
    assert error.message == message and error.endpoint == "ep"
