"""Every etcd v3 RPC as a typed :class:`~etcdwire._grpc.method.Method`.

``idempotent`` follows etcd's Go client (client/v3/retry.go): "repeatable" RPCs may be retried
on UNAVAILABLE on any endpoint; the others only when the request provably never left the client.
AuthStatus and the election read RPCs (Leader, Observe) are read-only and marked repeatable too.
"""

from __future__ import annotations

from .._grpc.method import Cardinality, Method
from .._pb import rpc_pb2, v3election_pb2, v3lock_pb2

__all__ = [
    "ALL_METHODS",
    "AUTH_AUTHENTICATE",
    "AUTH_DISABLE",
    "AUTH_ENABLE",
    "AUTH_ROLE_ADD",
    "AUTH_ROLE_DELETE",
    "AUTH_ROLE_GET",
    "AUTH_ROLE_GRANT_PERMISSION",
    "AUTH_ROLE_LIST",
    "AUTH_ROLE_REVOKE_PERMISSION",
    "AUTH_STATUS",
    "AUTH_USER_ADD",
    "AUTH_USER_CHANGE_PASSWORD",
    "AUTH_USER_DELETE",
    "AUTH_USER_GET",
    "AUTH_USER_GRANT_ROLE",
    "AUTH_USER_LIST",
    "AUTH_USER_REVOKE_ROLE",
    "CLUSTER_MEMBER_ADD",
    "CLUSTER_MEMBER_LIST",
    "CLUSTER_MEMBER_PROMOTE",
    "CLUSTER_MEMBER_REMOVE",
    "CLUSTER_MEMBER_UPDATE",
    "ELECTION_CAMPAIGN",
    "ELECTION_LEADER",
    "ELECTION_OBSERVE",
    "ELECTION_PROCLAIM",
    "ELECTION_RESIGN",
    "KV_COMPACT",
    "KV_DELETE_RANGE",
    "KV_PUT",
    "KV_RANGE",
    "KV_TXN",
    "LEASE_GRANT",
    "LEASE_KEEP_ALIVE",
    "LEASE_LEASES",
    "LEASE_REVOKE",
    "LEASE_TIME_TO_LIVE",
    "LOCK_LOCK",
    "LOCK_UNLOCK",
    "MAINTENANCE_ALARM",
    "MAINTENANCE_DEFRAGMENT",
    "MAINTENANCE_DOWNGRADE",
    "MAINTENANCE_HASH",
    "MAINTENANCE_HASH_KV",
    "MAINTENANCE_MOVE_LEADER",
    "MAINTENANCE_SNAPSHOT",
    "MAINTENANCE_STATUS",
    "WATCH_WATCH",
]

_U, _SS, _CS, _BIDI = (
    Cardinality.UNARY_UNARY,
    Cardinality.UNARY_STREAM,
    Cardinality.STREAM_UNARY,
    Cardinality.STREAM_STREAM,
)

KV_RANGE = Method(
    "/etcdserverpb.KV/Range",
    rpc_pb2.RangeRequest,
    rpc_pb2.RangeResponse,
    _U,
    idempotent=True,
)
KV_PUT = Method(
    "/etcdserverpb.KV/Put",
    rpc_pb2.PutRequest,
    rpc_pb2.PutResponse,
    _U,
    idempotent=False,
)
KV_DELETE_RANGE = Method(
    "/etcdserverpb.KV/DeleteRange",
    rpc_pb2.DeleteRangeRequest,
    rpc_pb2.DeleteRangeResponse,
    _U,
    idempotent=False,
)
KV_TXN = Method(
    "/etcdserverpb.KV/Txn",
    rpc_pb2.TxnRequest,
    rpc_pb2.TxnResponse,
    _U,
    idempotent=False,
)
KV_COMPACT = Method(
    "/etcdserverpb.KV/Compact",
    rpc_pb2.CompactionRequest,
    rpc_pb2.CompactionResponse,
    _U,
    idempotent=False,
)
WATCH_WATCH = Method(
    "/etcdserverpb.Watch/Watch",
    rpc_pb2.WatchRequest,
    rpc_pb2.WatchResponse,
    _BIDI,
    idempotent=False,
)
LEASE_GRANT = Method(
    "/etcdserverpb.Lease/LeaseGrant",
    rpc_pb2.LeaseGrantRequest,
    rpc_pb2.LeaseGrantResponse,
    _U,
    idempotent=True,
)
LEASE_REVOKE = Method(
    "/etcdserverpb.Lease/LeaseRevoke",
    rpc_pb2.LeaseRevokeRequest,
    rpc_pb2.LeaseRevokeResponse,
    _U,
    idempotent=True,
)
LEASE_KEEP_ALIVE = Method(
    "/etcdserverpb.Lease/LeaseKeepAlive",
    rpc_pb2.LeaseKeepAliveRequest,
    rpc_pb2.LeaseKeepAliveResponse,
    _BIDI,
    idempotent=True,
)
LEASE_TIME_TO_LIVE = Method(
    "/etcdserverpb.Lease/LeaseTimeToLive",
    rpc_pb2.LeaseTimeToLiveRequest,
    rpc_pb2.LeaseTimeToLiveResponse,
    _U,
    idempotent=True,
)
LEASE_LEASES = Method(
    "/etcdserverpb.Lease/LeaseLeases",
    rpc_pb2.LeaseLeasesRequest,
    rpc_pb2.LeaseLeasesResponse,
    _U,
    idempotent=True,
)
CLUSTER_MEMBER_ADD = Method(
    "/etcdserverpb.Cluster/MemberAdd",
    rpc_pb2.MemberAddRequest,
    rpc_pb2.MemberAddResponse,
    _U,
    idempotent=False,
)
CLUSTER_MEMBER_REMOVE = Method(
    "/etcdserverpb.Cluster/MemberRemove",
    rpc_pb2.MemberRemoveRequest,
    rpc_pb2.MemberRemoveResponse,
    _U,
    idempotent=False,
)
CLUSTER_MEMBER_UPDATE = Method(
    "/etcdserverpb.Cluster/MemberUpdate",
    rpc_pb2.MemberUpdateRequest,
    rpc_pb2.MemberUpdateResponse,
    _U,
    idempotent=False,
)
CLUSTER_MEMBER_LIST = Method(
    "/etcdserverpb.Cluster/MemberList",
    rpc_pb2.MemberListRequest,
    rpc_pb2.MemberListResponse,
    _U,
    idempotent=True,
)
CLUSTER_MEMBER_PROMOTE = Method(
    "/etcdserverpb.Cluster/MemberPromote",
    rpc_pb2.MemberPromoteRequest,
    rpc_pb2.MemberPromoteResponse,
    _U,
    idempotent=False,
)
MAINTENANCE_ALARM = Method(
    "/etcdserverpb.Maintenance/Alarm",
    rpc_pb2.AlarmRequest,
    rpc_pb2.AlarmResponse,
    _U,
    idempotent=True,
)
MAINTENANCE_STATUS = Method(
    "/etcdserverpb.Maintenance/Status",
    rpc_pb2.StatusRequest,
    rpc_pb2.StatusResponse,
    _U,
    idempotent=True,
)
MAINTENANCE_DEFRAGMENT = Method(
    "/etcdserverpb.Maintenance/Defragment",
    rpc_pb2.DefragmentRequest,
    rpc_pb2.DefragmentResponse,
    _U,
    idempotent=False,
)
MAINTENANCE_HASH = Method(
    "/etcdserverpb.Maintenance/Hash",
    rpc_pb2.HashRequest,
    rpc_pb2.HashResponse,
    _U,
    idempotent=True,
)
MAINTENANCE_HASH_KV = Method(
    "/etcdserverpb.Maintenance/HashKV",
    rpc_pb2.HashKVRequest,
    rpc_pb2.HashKVResponse,
    _U,
    idempotent=True,
)
MAINTENANCE_SNAPSHOT = Method(
    "/etcdserverpb.Maintenance/Snapshot",
    rpc_pb2.SnapshotRequest,
    rpc_pb2.SnapshotResponse,
    _SS,
    idempotent=True,
)
MAINTENANCE_MOVE_LEADER = Method(
    "/etcdserverpb.Maintenance/MoveLeader",
    rpc_pb2.MoveLeaderRequest,
    rpc_pb2.MoveLeaderResponse,
    _U,
    idempotent=True,
)
MAINTENANCE_DOWNGRADE = Method(
    "/etcdserverpb.Maintenance/Downgrade",
    rpc_pb2.DowngradeRequest,
    rpc_pb2.DowngradeResponse,
    _U,
    idempotent=False,
)
AUTH_ENABLE = Method(
    "/etcdserverpb.Auth/AuthEnable",
    rpc_pb2.AuthEnableRequest,
    rpc_pb2.AuthEnableResponse,
    _U,
    idempotent=False,
)
AUTH_DISABLE = Method(
    "/etcdserverpb.Auth/AuthDisable",
    rpc_pb2.AuthDisableRequest,
    rpc_pb2.AuthDisableResponse,
    _U,
    idempotent=False,
)
AUTH_STATUS = Method(
    "/etcdserverpb.Auth/AuthStatus",
    rpc_pb2.AuthStatusRequest,
    rpc_pb2.AuthStatusResponse,
    _U,
    idempotent=True,
)
AUTH_AUTHENTICATE = Method(
    "/etcdserverpb.Auth/Authenticate",
    rpc_pb2.AuthenticateRequest,
    rpc_pb2.AuthenticateResponse,
    _U,
    idempotent=False,
)
AUTH_USER_ADD = Method(
    "/etcdserverpb.Auth/UserAdd",
    rpc_pb2.AuthUserAddRequest,
    rpc_pb2.AuthUserAddResponse,
    _U,
    idempotent=False,
)
AUTH_USER_GET = Method(
    "/etcdserverpb.Auth/UserGet",
    rpc_pb2.AuthUserGetRequest,
    rpc_pb2.AuthUserGetResponse,
    _U,
    idempotent=True,
)
AUTH_USER_LIST = Method(
    "/etcdserverpb.Auth/UserList",
    rpc_pb2.AuthUserListRequest,
    rpc_pb2.AuthUserListResponse,
    _U,
    idempotent=True,
)
AUTH_USER_DELETE = Method(
    "/etcdserverpb.Auth/UserDelete",
    rpc_pb2.AuthUserDeleteRequest,
    rpc_pb2.AuthUserDeleteResponse,
    _U,
    idempotent=False,
)
AUTH_USER_CHANGE_PASSWORD = Method(
    "/etcdserverpb.Auth/UserChangePassword",
    rpc_pb2.AuthUserChangePasswordRequest,
    rpc_pb2.AuthUserChangePasswordResponse,
    _U,
    idempotent=False,
)
AUTH_USER_GRANT_ROLE = Method(
    "/etcdserverpb.Auth/UserGrantRole",
    rpc_pb2.AuthUserGrantRoleRequest,
    rpc_pb2.AuthUserGrantRoleResponse,
    _U,
    idempotent=False,
)
AUTH_USER_REVOKE_ROLE = Method(
    "/etcdserverpb.Auth/UserRevokeRole",
    rpc_pb2.AuthUserRevokeRoleRequest,
    rpc_pb2.AuthUserRevokeRoleResponse,
    _U,
    idempotent=False,
)
AUTH_ROLE_ADD = Method(
    "/etcdserverpb.Auth/RoleAdd",
    rpc_pb2.AuthRoleAddRequest,
    rpc_pb2.AuthRoleAddResponse,
    _U,
    idempotent=False,
)
AUTH_ROLE_GET = Method(
    "/etcdserverpb.Auth/RoleGet",
    rpc_pb2.AuthRoleGetRequest,
    rpc_pb2.AuthRoleGetResponse,
    _U,
    idempotent=True,
)
AUTH_ROLE_LIST = Method(
    "/etcdserverpb.Auth/RoleList",
    rpc_pb2.AuthRoleListRequest,
    rpc_pb2.AuthRoleListResponse,
    _U,
    idempotent=True,
)
AUTH_ROLE_DELETE = Method(
    "/etcdserverpb.Auth/RoleDelete",
    rpc_pb2.AuthRoleDeleteRequest,
    rpc_pb2.AuthRoleDeleteResponse,
    _U,
    idempotent=False,
)
AUTH_ROLE_GRANT_PERMISSION = Method(
    "/etcdserverpb.Auth/RoleGrantPermission",
    rpc_pb2.AuthRoleGrantPermissionRequest,
    rpc_pb2.AuthRoleGrantPermissionResponse,
    _U,
    idempotent=False,
)
AUTH_ROLE_REVOKE_PERMISSION = Method(
    "/etcdserverpb.Auth/RoleRevokePermission",
    rpc_pb2.AuthRoleRevokePermissionRequest,
    rpc_pb2.AuthRoleRevokePermissionResponse,
    _U,
    idempotent=False,
)
LOCK_LOCK = Method(
    "/v3lockpb.Lock/Lock",
    v3lock_pb2.LockRequest,
    v3lock_pb2.LockResponse,
    _U,
    idempotent=False,
)
LOCK_UNLOCK = Method(
    "/v3lockpb.Lock/Unlock",
    v3lock_pb2.UnlockRequest,
    v3lock_pb2.UnlockResponse,
    _U,
    idempotent=False,
)
ELECTION_CAMPAIGN = Method(
    "/v3electionpb.Election/Campaign",
    v3election_pb2.CampaignRequest,
    v3election_pb2.CampaignResponse,
    _U,
    idempotent=False,
)
ELECTION_PROCLAIM = Method(
    "/v3electionpb.Election/Proclaim",
    v3election_pb2.ProclaimRequest,
    v3election_pb2.ProclaimResponse,
    _U,
    idempotent=False,
)
ELECTION_LEADER = Method(
    "/v3electionpb.Election/Leader",
    v3election_pb2.LeaderRequest,
    v3election_pb2.LeaderResponse,
    _U,
    idempotent=True,
)
ELECTION_OBSERVE = Method(
    "/v3electionpb.Election/Observe",
    v3election_pb2.LeaderRequest,
    v3election_pb2.LeaderResponse,
    _SS,
    idempotent=True,
)
ELECTION_RESIGN = Method(
    "/v3electionpb.Election/Resign",
    v3election_pb2.ResignRequest,
    v3election_pb2.ResignResponse,
    _U,
    idempotent=False,
)

ALL_METHODS = (
    KV_RANGE,
    KV_PUT,
    KV_DELETE_RANGE,
    KV_TXN,
    KV_COMPACT,
    WATCH_WATCH,
    LEASE_GRANT,
    LEASE_REVOKE,
    LEASE_KEEP_ALIVE,
    LEASE_TIME_TO_LIVE,
    LEASE_LEASES,
    CLUSTER_MEMBER_ADD,
    CLUSTER_MEMBER_REMOVE,
    CLUSTER_MEMBER_UPDATE,
    CLUSTER_MEMBER_LIST,
    CLUSTER_MEMBER_PROMOTE,
    MAINTENANCE_ALARM,
    MAINTENANCE_STATUS,
    MAINTENANCE_DEFRAGMENT,
    MAINTENANCE_HASH,
    MAINTENANCE_HASH_KV,
    MAINTENANCE_SNAPSHOT,
    MAINTENANCE_MOVE_LEADER,
    MAINTENANCE_DOWNGRADE,
    AUTH_ENABLE,
    AUTH_DISABLE,
    AUTH_STATUS,
    AUTH_AUTHENTICATE,
    AUTH_USER_ADD,
    AUTH_USER_GET,
    AUTH_USER_LIST,
    AUTH_USER_DELETE,
    AUTH_USER_CHANGE_PASSWORD,
    AUTH_USER_GRANT_ROLE,
    AUTH_USER_REVOKE_ROLE,
    AUTH_ROLE_ADD,
    AUTH_ROLE_GET,
    AUTH_ROLE_LIST,
    AUTH_ROLE_DELETE,
    AUTH_ROLE_GRANT_PERMISSION,
    AUTH_ROLE_REVOKE_PERMISSION,
    LOCK_LOCK,
    LOCK_UNLOCK,
    ELECTION_CAMPAIGN,
    ELECTION_PROCLAIM,
    ELECTION_LEADER,
    ELECTION_OBSERVE,
    ELECTION_RESIGN,
)

