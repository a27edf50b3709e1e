"""Lease requests: grant, revoke, keep-alive and time-to-live, checked before they are sent."""

from __future__ import annotations

from .._pb import rpc_pb2
from ..errors import UsageError
from .checks import MAX_LEASE_TTL, as_count, as_flag

__all__ = [
    "lease_grant_request",
    "lease_keep_alive_request",
    "lease_revoke_request",
    "lease_time_to_live_request",
]


def lease_grant_request(ttl: int, *, lease_id: int = 0) -> rpc_pb2.LeaseGrantRequest:
    """Grant a lease of ``ttl`` seconds (etcd raises a TTL below its minimum to that minimum);
    ``lease_id`` 0 lets the server choose the ID."""
    if as_count(ttl, "ttl") > MAX_LEASE_TTL:
        raise UsageError(f"lease ttl {ttl} exceeds etcd's maximum of {MAX_LEASE_TTL} seconds")
    return rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=as_count(lease_id, "lease_id"))


def _lease_id(lease_id: int) -> int:
    if as_count(lease_id, "lease_id") == 0:
        raise UsageError("lease_id must not be 0 (0 means 'no lease')")
    return lease_id


def lease_revoke_request(lease_id: int) -> rpc_pb2.LeaseRevokeRequest:
    return rpc_pb2.LeaseRevokeRequest(ID=_lease_id(lease_id))


def lease_keep_alive_request(lease_id: int) -> rpc_pb2.LeaseKeepAliveRequest:
    return rpc_pb2.LeaseKeepAliveRequest(ID=_lease_id(lease_id))


def lease_time_to_live_request(
    lease_id: int, *, keys: bool = False
) -> rpc_pb2.LeaseTimeToLiveRequest:
    """Ask for a lease's remaining TTL; ``keys`` also lists the keys attached to it."""
    return rpc_pb2.LeaseTimeToLiveRequest(ID=_lease_id(lease_id), keys=as_flag(keys, "keys"))
