"""The generated etcd 3.5 schema modules in ``etcdwire._pb``.

Checks that protoc's output, as rewritten by ``scripts/gen_protos.py``, (1) carries etcd's wire
contract (field numbers, types, enum values, gRPC methods and their streaming shape), (2)
round-trips every message, and (3) lives in a private descriptor pool so it can share a process
with another etcd client that registers ``etcdserverpb`` in protobuf's default pool.

Runs unchanged on protobuf 4.21 and on the newest runtime (7.x); nothing here uses API that
only one of them has without a fallback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from etcdwire import _pb
from etcdwire._pb import auth_pb2, kv_pb2, rpc_pb2, v3election_pb2, v3lock_pb2

ROOT = Path(__file__).resolve().parents[2]
MODULES: tuple[ModuleType, ...] = (kv_pb2, auth_pb2, rpc_pb2, v3lock_pb2, v3election_pb2)

F = FieldDescriptor


# ----------------------------------------------------------------------------- helpers


def is_repeated(field: Any) -> bool:
    """``label`` is gone from protobuf 7's upb descriptors; ``is_repeated`` is new in 6.x."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return bool(field.label == F.LABEL_REPEATED)


def all_descriptors() -> Iterator[Descriptor]:
    def walk(desc: Descriptor) -> Iterator[Descriptor]:
        yield desc
        for nested in desc.nested_types:
            yield from walk(nested)

    for module in MODULES:
        for desc in module.DESCRIPTOR.message_types_by_name.values():
            yield from walk(desc)


def message_class(desc: Descriptor) -> type[Message]:
    module = next(m for m in MODULES if m.DESCRIPTOR is desc.file)
    obj: Any = module
    for part in desc.full_name.removeprefix(desc.file.package + ".").split("."):
        obj = getattr(obj, part)
    assert isinstance(obj, type) and issubclass(obj, Message)
    return obj


def sample_scalar(field: Any, salt: int) -> Any:
    """A non-default value that exercises the field's wire encoding (sign, width)."""
    n = field.number + salt
    t = field.type
    if t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        return -(2**40) - n  # negative int64 varints take ten bytes
    if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return 2**64 - 1 - n
    if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return -(2**20) - n
    if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return 2**32 - 1 - n
    if t == F.TYPE_BOOL:
        return True
    if t == F.TYPE_STRING:
        return f"é-{field.name}-{n}"
    if t == F.TYPE_BYTES:
        return b"\x00\xff" + field.name.encode() + bytes([n % 256])
    if t == F.TYPE_ENUM:
        return field.enum_type.values[-1].number
    raise AssertionError(f"unexpected field type {t} for {field.full_name}")


def populate(msg: Message, depth: int = 0, oneof_pick: int = 0) -> Message:
    """Set every field of ``msg`` (one member per oneof) to a non-default value."""
    for field in msg.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None:
            members = list(oneof.fields)
            if field is not members[oneof_pick % len(members)]:
                continue
        if field.type == F.TYPE_MESSAGE:
            if is_repeated(field):
                for _ in range(2):
                    item = getattr(msg, field.name).add()
                    if depth < 3:
                        populate(item, depth + 1)
            else:
                getattr(msg, field.name).SetInParent()  # present even when empty
                if depth < 3:
                    populate(getattr(msg, field.name), depth + 1)
        elif is_repeated(field):
            getattr(msg, field.name).extend([sample_scalar(field, 0), sample_scalar(field, 1)])
        else:
            setattr(msg, field.name, sample_scalar(field, 0))
    return msg


def run_python(code: str, impl: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if impl is not None:
        env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = impl
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ----------------------------------------------------------------------------- message set

EXPECTED_MESSAGES = {
    "mvccpb": {"KeyValue", "Event"},
    "authpb": {"UserAddOptions", "User", "Permission", "Role"},
    "v3lockpb": {"LockRequest", "LockResponse", "UnlockRequest", "UnlockResponse"},
    "v3electionpb": {
        "CampaignRequest", "CampaignResponse", "LeaderKey", "LeaderRequest", "LeaderResponse",
        "ResignRequest", "ResignResponse", "ProclaimRequest", "ProclaimResponse",
    },
    "etcdserverpb": {
        "ResponseHeader",
        "RangeRequest", "RangeResponse", "PutRequest", "PutResponse",
        "DeleteRangeRequest", "DeleteRangeResponse", "RequestOp", "ResponseOp", "Compare",
        "TxnRequest", "TxnResponse", "CompactionRequest", "CompactionResponse",
        "HashRequest", "HashResponse", "HashKVRequest", "HashKVResponse",
        "SnapshotRequest", "SnapshotResponse",
        "WatchRequest", "WatchCreateRequest", "WatchCancelRequest", "WatchProgressRequest",
        "WatchResponse",
        "LeaseGrantRequest", "LeaseGrantResponse", "LeaseRevokeRequest", "LeaseRevokeResponse",
        "LeaseCheckpoint", "LeaseCheckpointRequest", "LeaseCheckpointResponse",
        "LeaseKeepAliveRequest", "LeaseKeepAliveResponse", "LeaseTimeToLiveRequest",
        "LeaseTimeToLiveResponse", "LeaseLeasesRequest", "LeaseStatus", "LeaseLeasesResponse",
        "Member", "MemberAddRequest", "MemberAddResponse", "MemberRemoveRequest",
        "MemberRemoveResponse", "MemberUpdateRequest", "MemberUpdateResponse",
        "MemberListRequest", "MemberListResponse", "MemberPromoteRequest",
        "MemberPromoteResponse",
        "DefragmentRequest", "DefragmentResponse", "MoveLeaderRequest", "MoveLeaderResponse",
        "AlarmRequest", "AlarmMember", "AlarmResponse", "DowngradeRequest", "DowngradeResponse",
        "StatusRequest", "StatusResponse",
        "AuthEnableRequest", "AuthDisableRequest", "AuthStatusRequest", "AuthenticateRequest",
        "AuthUserAddRequest", "AuthUserGetRequest", "AuthUserDeleteRequest",
        "AuthUserChangePasswordRequest", "AuthUserGrantRoleRequest", "AuthUserRevokeRoleRequest",
        "AuthRoleAddRequest", "AuthRoleGetRequest", "AuthUserListRequest", "AuthRoleListRequest",
        "AuthRoleDeleteRequest", "AuthRoleGrantPermissionRequest",
        "AuthRoleRevokePermissionRequest",
        "AuthEnableResponse", "AuthDisableResponse", "AuthStatusResponse", "AuthenticateResponse",
        "AuthUserAddResponse", "AuthUserGetResponse", "AuthUserDeleteResponse",
        "AuthUserChangePasswordResponse", "AuthUserGrantRoleResponse",
        "AuthUserRevokeRoleResponse", "AuthRoleAddResponse", "AuthRoleGetResponse",
        "AuthRoleListResponse", "AuthUserListResponse", "AuthRoleDeleteResponse",
        "AuthRoleGrantPermissionResponse", "AuthRoleRevokePermissionResponse",
    },
}  # fmt: skip


def test_each_package_has_exactly_etcd_3_5_top_level_messages() -> None:
    found: dict[str, set[str]] = {}
    for module in MODULES:
        found.setdefault(module.DESCRIPTOR.package, set()).update(
            module.DESCRIPTOR.message_types_by_name
        )
    assert found == EXPECTED_MESSAGES


# ----------------------------------------------------------------------------- wire contract

# (message, field) -> (number, type, repeated); numbers and types as in etcd 3.5's .proto files.
CRITICAL_FIELDS = {
    ("etcdserverpb.ResponseHeader", "cluster_id"): (1, F.TYPE_UINT64, False),
    ("etcdserverpb.ResponseHeader", "revision"): (3, F.TYPE_INT64, False),
    ("etcdserverpb.ResponseHeader", "raft_term"): (4, F.TYPE_UINT64, False),
    ("etcdserverpb.RangeRequest", "sort_order"): (5, F.TYPE_ENUM, False),
    ("etcdserverpb.RangeRequest", "sort_target"): (6, F.TYPE_ENUM, False),
    ("etcdserverpb.RangeRequest", "serializable"): (7, F.TYPE_BOOL, False),
    ("etcdserverpb.RangeRequest", "keys_only"): (8, F.TYPE_BOOL, False),
    ("etcdserverpb.RangeRequest", "count_only"): (9, F.TYPE_BOOL, False),
    ("etcdserverpb.RangeRequest", "min_mod_revision"): (10, F.TYPE_INT64, False),
    ("etcdserverpb.RangeRequest", "max_create_revision"): (13, F.TYPE_INT64, False),
    ("etcdserverpb.RangeResponse", "kvs"): (2, F.TYPE_MESSAGE, True),
    ("etcdserverpb.RangeResponse", "count"): (4, F.TYPE_INT64, False),
    ("etcdserverpb.PutRequest", "ignore_lease"): (6, F.TYPE_BOOL, False),
    ("etcdserverpb.DeleteRangeResponse", "prev_kvs"): (3, F.TYPE_MESSAGE, True),
    ("etcdserverpb.RequestOp", "request_txn"): (4, F.TYPE_MESSAGE, False),
    ("etcdserverpb.Compare", "lease"): (8, F.TYPE_INT64, False),
    ("etcdserverpb.Compare", "range_end"): (64, F.TYPE_BYTES, False),
    ("etcdserverpb.CompactionRequest", "physical"): (2, F.TYPE_BOOL, False),
    ("etcdserverpb.WatchRequest", "progress_request"): (3, F.TYPE_MESSAGE, False),
    ("etcdserverpb.WatchCreateRequest", "progress_notify"): (4, F.TYPE_BOOL, False),
    ("etcdserverpb.WatchCreateRequest", "filters"): (5, F.TYPE_ENUM, True),
    ("etcdserverpb.WatchCreateRequest", "prev_kv"): (6, F.TYPE_BOOL, False),
    ("etcdserverpb.WatchCreateRequest", "watch_id"): (7, F.TYPE_INT64, False),
    ("etcdserverpb.WatchCreateRequest", "fragment"): (8, F.TYPE_BOOL, False),
    ("etcdserverpb.WatchResponse", "cancel_reason"): (6, F.TYPE_STRING, False),
    ("etcdserverpb.WatchResponse", "fragment"): (7, F.TYPE_BOOL, False),
    ("etcdserverpb.WatchResponse", "events"): (11, F.TYPE_MESSAGE, True),
    ("etcdserverpb.LeaseGrantRequest", "TTL"): (1, F.TYPE_INT64, False),
    ("etcdserverpb.LeaseGrantResponse", "error"): (4, F.TYPE_STRING, False),
    ("etcdserverpb.LeaseTimeToLiveResponse", "grantedTTL"): (4, F.TYPE_INT64, False),
    ("etcdserverpb.LeaseTimeToLiveResponse", "keys"): (5, F.TYPE_BYTES, True),
    ("etcdserverpb.LeaseCheckpoint", "remaining_TTL"): (2, F.TYPE_INT64, False),
    ("etcdserverpb.Member", "ID"): (1, F.TYPE_UINT64, False),
    ("etcdserverpb.Member", "isLearner"): (5, F.TYPE_BOOL, False),
    ("etcdserverpb.MemberListRequest", "linearizable"): (1, F.TYPE_BOOL, False),
    ("etcdserverpb.MoveLeaderRequest", "targetID"): (1, F.TYPE_UINT64, False),
    ("etcdserverpb.AlarmMember", "alarm"): (2, F.TYPE_ENUM, False),
    ("etcdserverpb.StatusResponse", "raftAppliedIndex"): (7, F.TYPE_UINT64, False),
    ("etcdserverpb.StatusResponse", "errors"): (8, F.TYPE_STRING, True),
    ("etcdserverpb.StatusResponse", "dbSizeInUse"): (9, F.TYPE_INT64, False),
    ("etcdserverpb.StatusResponse", "isLearner"): (10, F.TYPE_BOOL, False),
    ("etcdserverpb.HashResponse", "hash"): (2, F.TYPE_UINT32, False),
    ("etcdserverpb.HashKVResponse", "compact_revision"): (3, F.TYPE_INT64, False),
    ("etcdserverpb.HashKVResponse", "hash_revision"): (4, F.TYPE_INT64, False),
    ("etcdserverpb.SnapshotResponse", "remaining_bytes"): (2, F.TYPE_UINT64, False),
    ("etcdserverpb.SnapshotResponse", "blob"): (3, F.TYPE_BYTES, False),
    ("etcdserverpb.DowngradeRequest", "version"): (2, F.TYPE_STRING, False),
    ("etcdserverpb.AuthStatusResponse", "authRevision"): (3, F.TYPE_UINT64, False),
    ("etcdserverpb.AuthUserAddRequest", "options"): (3, F.TYPE_MESSAGE, False),
    ("etcdserverpb.AuthUserAddRequest", "hashedPassword"): (4, F.TYPE_STRING, False),
    ("etcdserverpb.AuthUserChangePasswordRequest", "hashedPassword"): (3, F.TYPE_STRING, False),
    ("etcdserverpb.AuthUserGrantRoleRequest", "user"): (1, F.TYPE_STRING, False),
    ("etcdserverpb.AuthRoleGrantPermissionRequest", "perm"): (2, F.TYPE_MESSAGE, False),
    ("etcdserverpb.AuthRoleRevokePermissionRequest", "range_end"): (3, F.TYPE_BYTES, False),
    ("etcdserverpb.AuthRoleGetResponse", "perm"): (2, F.TYPE_MESSAGE, True),
    ("mvccpb.KeyValue", "create_revision"): (2, F.TYPE_INT64, False),
    ("mvccpb.KeyValue", "lease"): (6, F.TYPE_INT64, False),
    ("mvccpb.Event", "type"): (1, F.TYPE_ENUM, False),
    ("mvccpb.Event", "prev_kv"): (3, F.TYPE_MESSAGE, False),
    ("authpb.UserAddOptions", "no_password"): (1, F.TYPE_BOOL, False),
    ("authpb.User", "options"): (4, F.TYPE_MESSAGE, False),
    ("authpb.Permission", "permType"): (1, F.TYPE_ENUM, False),
    ("authpb.Role", "keyPermission"): (2, F.TYPE_MESSAGE, True),
    ("v3lockpb.LockRequest", "lease"): (2, F.TYPE_INT64, False),
    ("v3lockpb.LockResponse", "key"): (2, F.TYPE_BYTES, False),
    ("v3electionpb.CampaignRequest", "value"): (3, F.TYPE_BYTES, False),
    ("v3electionpb.LeaderKey", "rev"): (3, F.TYPE_INT64, False),
    ("v3electionpb.LeaderKey", "lease"): (4, F.TYPE_INT64, False),
    ("v3electionpb.LeaderResponse", "kv"): (2, F.TYPE_MESSAGE, False),
    ("v3electionpb.ProclaimRequest", "value"): (2, F.TYPE_BYTES, False),
}


@pytest.mark.parametrize(("message", "field"), sorted(CRITICAL_FIELDS))
def test_field_number_and_type_match_etcd_3_5(message: str, field: str) -> None:
    desc = _pb.POOL.FindMessageTypeByName(message)
    fd = desc.fields_by_name[field]
    assert (fd.number, fd.type, is_repeated(fd)) == CRITICAL_FIELDS[(message, field)]


def test_message_field_types_point_at_etcd_messages() -> None:
    refs = {
        ("etcdserverpb.RangeResponse", "kvs"): "mvccpb.KeyValue",
        ("etcdserverpb.WatchResponse", "events"): "mvccpb.Event",
        ("etcdserverpb.AuthUserAddRequest", "options"): "authpb.UserAddOptions",
        ("etcdserverpb.AuthRoleGetResponse", "perm"): "authpb.Permission",
        ("v3lockpb.LockResponse", "header"): "etcdserverpb.ResponseHeader",
        ("v3electionpb.LeaderResponse", "kv"): "mvccpb.KeyValue",
        ("v3electionpb.ResignRequest", "leader"): "v3electionpb.LeaderKey",
        ("etcdserverpb.AlarmMember", "alarm"): "etcdserverpb.AlarmType",
        ("etcdserverpb.WatchCreateRequest", "filters"): (
            "etcdserverpb.WatchCreateRequest.FilterType"
        ),
    }
    for (message, field), target in refs.items():
        fd: Any = _pb.POOL.FindMessageTypeByName(message).fields_by_name[field]
        ref = fd.message_type if fd.type == F.TYPE_MESSAGE else fd.enum_type
        assert ref.full_name == target, (message, field)


def test_oneofs_group_the_etcd_union_members() -> None:
    unions = {
        "etcdserverpb.RequestOp": ("request", [1, 2, 3, 4]),
        "etcdserverpb.ResponseOp": ("response", [1, 2, 3, 4]),
        "etcdserverpb.Compare": ("target_union", [4, 5, 6, 7, 8]),
        "etcdserverpb.WatchRequest": ("request_union", [1, 2, 3]),
    }
    for message, (name, numbers) in unions.items():
        oneof = _pb.POOL.FindMessageTypeByName(message).oneofs_by_name[name]
        assert [f.number for f in oneof.fields] == numbers


ENUMS = {
    "mvccpb.Event.EventType": {"PUT": 0, "DELETE": 1},
    "authpb.Permission.Type": {"READ": 0, "WRITE": 1, "READWRITE": 2},
    "etcdserverpb.RangeRequest.SortOrder": {"NONE": 0, "ASCEND": 1, "DESCEND": 2},
    "etcdserverpb.RangeRequest.SortTarget": {
        "KEY": 0, "VERSION": 1, "CREATE": 2, "MOD": 3, "VALUE": 4,
    },
    "etcdserverpb.Compare.CompareResult": {"EQUAL": 0, "GREATER": 1, "LESS": 2, "NOT_EQUAL": 3},
    "etcdserverpb.Compare.CompareTarget": {
        "VERSION": 0, "CREATE": 1, "MOD": 2, "VALUE": 3, "LEASE": 4,
    },
    "etcdserverpb.WatchCreateRequest.FilterType": {"NOPUT": 0, "NODELETE": 1},
    "etcdserverpb.AlarmType": {"NONE": 0, "NOSPACE": 1, "CORRUPT": 2},
    "etcdserverpb.AlarmRequest.AlarmAction": {"GET": 0, "ACTIVATE": 1, "DEACTIVATE": 2},
    "etcdserverpb.DowngradeRequest.DowngradeAction": {"VALIDATE": 0, "ENABLE": 1, "CANCEL": 2},
}  # fmt: skip


@pytest.mark.parametrize("enum_name", sorted(ENUMS))
def test_enum_values_match_etcd_3_5(enum_name: str) -> None:
    enum = _pb.POOL.FindEnumTypeByName(enum_name)
    assert {v.name: v.number for v in enum.values} == ENUMS[enum_name]


def test_enum_values_are_reachable_from_generated_classes() -> None:
    assert rpc_pb2.RangeRequest.DESCEND == 2
    assert rpc_pb2.RangeRequest.SortTarget.Name(4) == "VALUE"
    assert rpc_pb2.Compare.NOT_EQUAL == 3
    assert rpc_pb2.NOSPACE == 1
    assert rpc_pb2.AlarmType.Value("CORRUPT") == 2
    assert kv_pb2.Event.DELETE == 1
    assert auth_pb2.Permission.READWRITE == 2


def test_fields_added_only_in_etcd_3_6_are_absent() -> None:
    """StatusResponse stops at tag 10 and SnapshotResponse has no ``version`` in etcd 3.5."""
    status = _pb.POOL.FindMessageTypeByName("etcdserverpb.StatusResponse")
    assert max(f.number for f in status.fields) == 10
    snapshot = _pb.POOL.FindMessageTypeByName("etcdserverpb.SnapshotResponse")
    assert sorted(snapshot.fields_by_name) == ["blob", "header", "remaining_bytes"]
    with pytest.raises(KeyError):
        _pb.POOL.FindMessageTypeByName("etcdserverpb.DowngradeVersionTestRequest")


# (path, request, response, client streams, server streams)
# fmt: off
METHODS = [
    ("/etcdserverpb.KV/Range", "RangeRequest", "RangeResponse", False, False),
    ("/etcdserverpb.KV/Put", "PutRequest", "PutResponse", False, False),
    ("/etcdserverpb.KV/DeleteRange", "DeleteRangeRequest", "DeleteRangeResponse", False, False),
    ("/etcdserverpb.KV/Txn", "TxnRequest", "TxnResponse", False, False),
    ("/etcdserverpb.KV/Compact", "CompactionRequest", "CompactionResponse", False, False),
    ("/etcdserverpb.Watch/Watch", "WatchRequest", "WatchResponse", True, True),
    ("/etcdserverpb.Lease/LeaseGrant", "LeaseGrantRequest", "LeaseGrantResponse", False, False),
    ("/etcdserverpb.Lease/LeaseRevoke", "LeaseRevokeRequest", "LeaseRevokeResponse", False, False),
    ("/etcdserverpb.Lease/LeaseKeepAlive", "LeaseKeepAliveRequest", "LeaseKeepAliveResponse",
     True, True),
    ("/etcdserverpb.Lease/LeaseTimeToLive", "LeaseTimeToLiveRequest", "LeaseTimeToLiveResponse",
     False, False),
    ("/etcdserverpb.Lease/LeaseLeases", "LeaseLeasesRequest", "LeaseLeasesResponse", False, False),
    ("/etcdserverpb.Cluster/MemberAdd", "MemberAddRequest", "MemberAddResponse", False, False),
    ("/etcdserverpb.Cluster/MemberRemove", "MemberRemoveRequest", "MemberRemoveResponse",
     False, False),
    ("/etcdserverpb.Cluster/MemberUpdate", "MemberUpdateRequest", "MemberUpdateResponse",
     False, False),
    ("/etcdserverpb.Cluster/MemberList", "MemberListRequest", "MemberListResponse", False, False),
    ("/etcdserverpb.Cluster/MemberPromote", "MemberPromoteRequest", "MemberPromoteResponse",
     False, False),
    ("/etcdserverpb.Maintenance/Alarm", "AlarmRequest", "AlarmResponse", False, False),
    ("/etcdserverpb.Maintenance/Status", "StatusRequest", "StatusResponse", False, False),
    ("/etcdserverpb.Maintenance/Defragment", "DefragmentRequest", "DefragmentResponse",
     False, False),
    ("/etcdserverpb.Maintenance/Hash", "HashRequest", "HashResponse", False, False),
    ("/etcdserverpb.Maintenance/HashKV", "HashKVRequest", "HashKVResponse", False, False),
    ("/etcdserverpb.Maintenance/Snapshot", "SnapshotRequest", "SnapshotResponse", False, True),
    ("/etcdserverpb.Maintenance/MoveLeader", "MoveLeaderRequest", "MoveLeaderResponse",
     False, False),
    ("/etcdserverpb.Maintenance/Downgrade", "DowngradeRequest", "DowngradeResponse",
     False, False),
    ("/etcdserverpb.Auth/AuthEnable", "AuthEnableRequest", "AuthEnableResponse", False, False),
    ("/etcdserverpb.Auth/AuthDisable", "AuthDisableRequest", "AuthDisableResponse", False, False),
    ("/etcdserverpb.Auth/AuthStatus", "AuthStatusRequest", "AuthStatusResponse", False, False),
    ("/etcdserverpb.Auth/Authenticate", "AuthenticateRequest", "AuthenticateResponse",
     False, False),
    ("/etcdserverpb.Auth/UserAdd", "AuthUserAddRequest", "AuthUserAddResponse", False, False),
    ("/etcdserverpb.Auth/UserGet", "AuthUserGetRequest", "AuthUserGetResponse", False, False),
    ("/etcdserverpb.Auth/UserList", "AuthUserListRequest", "AuthUserListResponse", False, False),
    ("/etcdserverpb.Auth/UserDelete", "AuthUserDeleteRequest", "AuthUserDeleteResponse",
     False, False),
    ("/etcdserverpb.Auth/UserChangePassword", "AuthUserChangePasswordRequest",
     "AuthUserChangePasswordResponse", False, False),
    ("/etcdserverpb.Auth/UserGrantRole", "AuthUserGrantRoleRequest", "AuthUserGrantRoleResponse",
     False, False),
    ("/etcdserverpb.Auth/UserRevokeRole", "AuthUserRevokeRoleRequest",
     "AuthUserRevokeRoleResponse", False, False),
    ("/etcdserverpb.Auth/RoleAdd", "AuthRoleAddRequest", "AuthRoleAddResponse", False, False),
    ("/etcdserverpb.Auth/RoleGet", "AuthRoleGetRequest", "AuthRoleGetResponse", False, False),
    ("/etcdserverpb.Auth/RoleList", "AuthRoleListRequest", "AuthRoleListResponse", False, False),
    ("/etcdserverpb.Auth/RoleDelete", "AuthRoleDeleteRequest", "AuthRoleDeleteResponse",
     False, False),
    ("/etcdserverpb.Auth/RoleGrantPermission", "AuthRoleGrantPermissionRequest",
     "AuthRoleGrantPermissionResponse", False, False),
    ("/etcdserverpb.Auth/RoleRevokePermission", "AuthRoleRevokePermissionRequest",
     "AuthRoleRevokePermissionResponse", False, False),
    ("/v3lockpb.Lock/Lock", "LockRequest", "LockResponse", False, False),
    ("/v3lockpb.Lock/Unlock", "UnlockRequest", "UnlockResponse", False, False),
    ("/v3electionpb.Election/Campaign", "CampaignRequest", "CampaignResponse", False, False),
    ("/v3electionpb.Election/Proclaim", "ProclaimRequest", "ProclaimResponse", False, False),
    ("/v3electionpb.Election/Leader", "LeaderRequest", "LeaderResponse", False, False),
    ("/v3electionpb.Election/Observe", "LeaderRequest", "LeaderResponse", False, True),
    ("/v3electionpb.Election/Resign", "ResignRequest", "ResignResponse", False, False),
]
# fmt: on


def grpc_methods() -> dict[str, tuple[str, str, bool, bool]]:
    """Every method as ``/package.Service/Method`` -> (input, output, client/server streams).

    Read from a FileDescriptorProto copy: protobuf 4.21's MethodDescriptor has no streaming
    attributes, the proto form has them on every runtime.
    """
    table: dict[str, tuple[str, str, bool, bool]] = {}
    for module in MODULES:
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        for service in proto.service:
            for m in service.method:
                path = f"/{proto.package}.{service.name}/{m.name}"
                table[path] = (
                    m.input_type.rsplit(".", 1)[-1],
                    m.output_type.rsplit(".", 1)[-1],
                    m.client_streaming,
                    m.server_streaming,
                )
    return table


def test_grpc_method_paths_types_and_streaming_match_etcd() -> None:
    expected = {path: (req, resp, cs, ss) for path, req, resp, cs, ss in METHODS}
    assert grpc_methods() == expected


def test_service_method_descriptors_resolve_in_the_private_pool() -> None:
    for path, request, response, _, _ in METHODS:
        service_name, method_name = path[1:].split("/")
        service = _pb.POOL.FindServiceByName(service_name)
        method = service.methods_by_name[method_name]
        assert method.input_type.name == request
        assert method.output_type.name == response
        assert message_class(method.input_type).DESCRIPTOR is method.input_type


# ----------------------------------------------------------------------------- encoding


def test_known_encoding_of_range_request() -> None:
    """Tag bytes follow field number and wire type: key=1/LEN, sort_order=5/VARINT."""
    req = rpc_pb2.RangeRequest(key=b"foo", sort_order=rpc_pb2.RangeRequest.DESCEND)
    assert req.SerializeToString() == b"\x0a\x03foo\x28\x02"
    req = rpc_pb2.RangeRequest(key=b"a", max_create_revision=1)
    assert req.SerializeToString() == b"\x0a\x01a\x68\x01"


def test_known_encoding_of_compare_range_end_tag_64() -> None:
    # tag 64, wire type 2 -> varint (64 << 3 | 2) = 514 = 0x82 0x04
    cmp = rpc_pb2.Compare(key=b"k", range_end=b"l")
    assert cmp.SerializeToString() == b"\x1a\x01k\x82\x04\x01l"


def test_decodes_hand_built_watch_response_with_events_at_tag_11() -> None:
    kv = b"\x0a\x01k" + b"\x10\x05" + b"\x18\x07" + b"\x20\x02" + b"\x2a\x01v"
    event = b"\x08\x01" + b"\x12" + bytes([len(kv)]) + kv  # DELETE, kv
    header = b"\x18\x07"  # revision 7
    raw = (
        b"\x0a"
        + bytes([len(header)])
        + header
        + b"\x10\x03"
        + b"\x5a"
        + bytes([len(event)])
        + event
    )
    resp = rpc_pb2.WatchResponse.FromString(raw)
    assert resp.header.revision == 7
    assert resp.watch_id == 3
    (ev,) = resp.events
    assert ev.type == kv_pb2.Event.DELETE
    assert (ev.kv.key, ev.kv.create_revision, ev.kv.mod_revision) == (b"k", 5, 7)
    assert (ev.kv.version, ev.kv.value) == (2, b"v")


def test_negative_int64_and_large_uint64_survive() -> None:
    msg = rpc_pb2.ResponseHeader(cluster_id=2**64 - 1, revision=-1)
    back = rpc_pb2.ResponseHeader.FromString(msg.SerializeToString())
    assert (back.cluster_id, back.revision) == (2**64 - 1, -1)


@pytest.mark.parametrize("desc", list(all_descriptors()), ids=lambda d: d.full_name)
def test_every_message_round_trips_fully_populated(desc: Descriptor) -> None:
    cls = message_class(desc)
    msg = populate(cls())
    data = msg.SerializeToString(deterministic=True)
    back = cls.FromString(data)
    assert back == msg
    assert back.SerializeToString(deterministic=True) == data
    set_fields = {fd.name for fd, _ in back.ListFields()}
    expected = {
        f.name
        for f in desc.fields
        if f.containing_oneof is None or f is f.containing_oneof.fields[0]
    }
    assert set_fields == expected


@pytest.mark.parametrize(
    "desc",
    [d for d in all_descriptors() if d.oneofs],
    ids=lambda d: d.full_name,
)
def test_every_oneof_member_round_trips(desc: Descriptor) -> None:
    cls = message_class(desc)
    widest = max(len(o.fields) for o in desc.oneofs)
    for pick in range(widest):
        msg = populate(cls(), oneof_pick=pick)
        back = cls.FromString(msg.SerializeToString())
        assert back == msg
        for oneof in desc.oneofs:
            chosen = oneof.fields[pick % len(oneof.fields)].name
            assert back.WhichOneof(oneof.name) == chosen


def test_nested_txn_with_repeated_and_oneof_fields() -> None:
    inner = rpc_pb2.TxnRequest(
        compare=[rpc_pb2.Compare(key=b"a", target=rpc_pb2.Compare.VALUE, value=b"1")],
        success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"a", value=b"2"))],
    )
    outer = rpc_pb2.TxnRequest(
        compare=[
            rpc_pb2.Compare(
                key=b"x",
                target=rpc_pb2.Compare.MOD,
                result=rpc_pb2.Compare.LESS,
                mod_revision=10,
            )
        ],
        success=[
            rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"x", limit=5)),
            rpc_pb2.RequestOp(request_txn=inner),
        ],
        failure=[rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"x"))],
    )
    back = rpc_pb2.TxnRequest.FromString(outer.SerializeToString())
    assert back == outer
    assert back.compare[0].WhichOneof("target_union") == "mod_revision"
    assert [op.WhichOneof("request") for op in back.success] == ["request_range", "request_txn"]
    assert back.success[1].request_txn.success[0].request_put.value == b"2"
    filt = rpc_pb2.WatchCreateRequest(
        key=b"k",
        filters=[rpc_pb2.WatchCreateRequest.NOPUT, rpc_pb2.WatchCreateRequest.NODELETE],
    )
    assert list(rpc_pb2.WatchCreateRequest.FromString(filt.SerializeToString()).filters) == [0, 1]


# ----------------------------------------------------------------------------- private pool


def test_descriptors_live_in_the_private_pool() -> None:
    assert _pb.POOL is not descriptor_pool.Default()
    for module in MODULES:
        assert module.DESCRIPTOR.pool is _pb.POOL
        assert _pb.POOL.FindFileByName(module.DESCRIPTOR.name) is module.DESCRIPTOR
    assert rpc_pb2.RangeRequest.__module__ == "etcdwire._pb.rpc_pb2"


def test_generated_files_carry_the_generator_header() -> None:
    pb_dir = ROOT / "etcdwire" / "_pb"
    files = sorted(p for p in pb_dir.iterdir() if p.suffix in {".py", ".pyi"})
    assert len(files) == 11
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# Generated by scripts/gen_protos.py"), path.name
    for path in pb_dir.glob("*_pb2.py"):
        text = path.read_text()
        assert "_descriptor_pool.Default()" not in text
        assert re.search(r"^import \w+_pb2", text, re.MULTILINE) is None


# A stand-in for another etcd client: it registers files named like ours, in the same
# protobuf packages, with different contents, in the default pool.
FOREIGN_CLIENT = """
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf import message_factory

def register_foreign_etcd_schema():
    kv = descriptor_pb2.FileDescriptorProto(name="kv.proto", package="mvccpb", syntax="proto3")
    m = kv.message_type.add(name="KeyValue")
    m.field.add(name="key", number=1, type=12, label=1)
    rpc = descriptor_pb2.FileDescriptorProto(
        name="rpc.proto", package="etcdserverpb", syntax="proto3", dependency=["kv.proto"])
    m = rpc.message_type.add(name="RangeRequest")
    m.field.add(name="foreign_only", number=1, type=9, label=1)
    m = rpc.message_type.add(name="ResponseHeader")
    m.field.add(name="cluster_id", number=1, type=4, label=1)
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(kv.SerializeToString())
    desc = pool.AddSerializedFile(rpc.SerializeToString())
    get = getattr(message_factory, "GetMessageClass", None)
    rr = pool.FindMessageTypeByName("etcdserverpb.RangeRequest")
    cls = get(rr) if get else message_factory.MessageFactory(pool).GetPrototype(rr)
    assert cls(foreign_only="x").foreign_only == "x"
    return desc

def use_etcdwire():
    from etcdwire._pb import rpc_pb2, v3election_pb2
    req = rpc_pb2.RangeRequest(key=b"k", sort_order=rpc_pb2.RangeRequest.ASCEND)
    assert rpc_pb2.RangeRequest.FromString(req.SerializeToString()) == req
    assert "foreign_only" not in rpc_pb2.RangeRequest.DESCRIPTOR.fields_by_name
    lead = v3election_pb2.LeaderResponse()
    lead.kv.key = b"e"
    assert v3election_pb2.LeaderResponse.FromString(lead.SerializeToString()).kv.key == b"e"
    return rpc_pb2
"""


@pytest.mark.parametrize("impl", [None, "python"], ids=["default-impl", "pure-python"])
@pytest.mark.parametrize("foreign_first", [True, False], ids=["foreign-first", "etcdwire-first"])
def test_coexists_with_a_client_that_registers_etcdserverpb_in_the_default_pool(
    impl: str | None, foreign_first: bool
) -> None:
    steps = (
        "register_foreign_etcd_schema(); use_etcdwire()"
        if foreign_first
        else "use_etcdwire(); register_foreign_etcd_schema()"
    )
    code = (
        FOREIGN_CLIENT
        + f"""
{steps}
rpc_pb2 = use_etcdwire()
default = descriptor_pool.Default()
# The other client's definitions are intact, and none of ours leaked into its pool.
assert "foreign_only" in default.FindMessageTypeByName("etcdserverpb.RangeRequest").fields_by_name
assert default.FindFileByName("rpc.proto") is not rpc_pb2.DESCRIPTOR
for leaked in ("etcdserverpb.StatusResponse", "v3electionpb.LeaderKey"):
    try:
        default.FindMessageTypeByName(leaked)
    except KeyError:
        pass
    else:
        raise SystemExit(leaked + " leaked into the default pool")
from google.protobuf.internal import api_implementation
if api_implementation.Type() != "python":
    # Control: had etcdwire registered in the default pool, the import would have failed.
    try:
        default.AddSerializedFile(rpc_pb2.DESCRIPTOR.serialized_pb)
    except TypeError as exc:
        assert "rpc.proto" in str(exc), exc
    else:
        raise SystemExit("default pool accepted a conflicting rpc.proto")
print("ok")
"""
    )
    result = run_python(code, impl)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ok"]


@pytest.mark.parametrize("impl", [None, "python"], ids=["default-impl", "pure-python"])
def test_import_leaves_the_default_pool_untouched(impl: str | None) -> None:
    code = """
    from google.protobuf import descriptor_pool
    from etcdwire._pb import kv_pb2, auth_pb2, rpc_pb2, v3lock_pb2, v3election_pb2
    rpc_pb2.RangeResponse(kvs=[kv_pb2.KeyValue(key=b"k")]).SerializeToString()
    default = descriptor_pool.Default()
    for name in ("kv.proto", "auth.proto", "rpc.proto", "v3lock.proto", "v3election.proto"):
        try:
            default.FindFileByName(name)
        except KeyError:
            continue
        raise SystemExit(name + " is in the default pool")
    for name in ("etcdserverpb.RangeRequest", "mvccpb.KeyValue", "v3lockpb.LockRequest"):
        try:
            default.FindMessageTypeByName(name)
        except KeyError:
            continue
        raise SystemExit(name + " is in the default pool")
    print("clean")
    """
    result = run_python(code, impl)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_pure_python_runtime_round_trips_every_message() -> None:
    code = """
    from google.protobuf.internal import api_implementation
    assert api_implementation.Type() == "python", api_implementation.Type()
    from etcdwire._pb import POOL, rpc_pb2, kv_pb2, auth_pb2, v3lock_pb2, v3election_pb2
    count = 0
    for module in (kv_pb2, auth_pb2, rpc_pb2, v3lock_pb2, v3election_pb2):
        for name in module.DESCRIPTOR.message_types_by_name:
            cls = getattr(module, name)
            msg = cls()
            for fd in cls.DESCRIPTOR.fields:
                if fd.type == fd.TYPE_MESSAGE:
                    repeated = getattr(fd, "is_repeated", None)
                    if repeated is None:
                        repeated = fd.label == fd.LABEL_REPEATED
                    if repeated:
                        getattr(msg, fd.name).add()
                    else:
                        getattr(msg, fd.name).SetInParent()
            assert cls.FromString(msg.SerializeToString()) == msg
            count += 1
    print(count)
    """
    result = run_python(code, "python")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == sum(len(v) for v in EXPECTED_MESSAGES.values())


def _protoc_3_21() -> bool:
    protoc = shutil.which("protoc")
    if protoc is None:
        return False
    out = subprocess.run([protoc, "--version"], check=False, capture_output=True, text=True).stdout
    return out.startswith("libprotoc 3.21.")


@pytest.mark.skipif(not _protoc_3_21(), reason="protoc 3.21 is not installed")
def test_committed_modules_match_the_generator_output() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
