# Generated from etcdwire/_async/maintenance.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""The Maintenance service: alarms, status, defragmentation, hashes, leadership transfer,
downgrade, and snapshots streamed to a file or any binary writer.

Calls that concern one member (status, defragment, hash, hash_kv, snapshot) take an
``endpoint``: that member is asked, on the client's connection to it when it is one of the
client's endpoints, else on a connection opened for it (closed with the client). Without an
endpoint the client's current endpoint answers, unary calls with the usual retry rules (a
snapshot is one stream: if it breaks, the error is raised and nothing is kept).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import IO, Any, TypeVar

from google.protobuf.message import Message

from .._backends.base import parse_address
from .._etcd import methods
from .._etcd.auth import token_refresh_wanted
from .._etcd.convert import member_list
from .._etcd.convert_admin import (
    SnapshotReceiver,
    alarm_request,
    alarm_response,
    defragment,
    downgrade_action,
    downgrade_response,
    hash_kv_response,
    hash_response,
    move_leader,
    status,
)
from .._grpc.method import Method
from .._pb import rpc_pb2
from ..errors import EtcdError, NoLeader, NotLeader, Unimplemented, UsageError
from ..types import (
    Alarm,
    AlarmResponse,
    AlarmType,
    DefragmentResponse,
    DowngradeAction,
    DowngradeResponse,
    HashKVResponse,
    HashResponse,
    MemberStatus,
    MoveLeaderResponse,
    SnapshotInfo,
)
from .channel import call_deadline
from .manager import ConnectionManager

__all__ = [
    "Maintenance",
    "ProgressCallback",
    "leader_endpoint",
    "unary_at",
]

logger = logging.getLogger("etcdwire.maintenance")

ReqT = TypeVar("ReqT", bound=Message)
RespT = TypeVar("RespT", bound=Message)

#: ``progress(received_bytes, total_bytes)``; the total is known from the first chunk on.
ProgressCallback = Callable[[int, int | None], Any]

#: Tries of a request that must reach the leader, when leadership moves meanwhile.
_LEADER_ATTEMPTS = 3


def unary_at(
    manager: ConnectionManager,
    method: Method[ReqT, RespT],
    request: ReqT,
    endpoint: str | None,
    deadline: float | None,
) -> RespT:
    """One unary call to the member at ``endpoint`` (no failover: that member is meant), with
    the client's token, fetched again once if it expired; ``None``: the client's choice, with
    the usual retry rules."""
    if endpoint is None:
        return manager.unary(method, request, deadline=deadline)
    channel = manager.channel_for(endpoint)
    tokens = manager.tokens
    for attempt in range(2):
        metadata = manager.metadata(deadline)
        try:
            return channel.unary_unary(method, request, deadline=deadline, metadata=metadata)
        except EtcdError as exc:
            used = str(metadata[0][1]) if metadata else None
            if attempt or not token_refresh_wanted(exc, credentials=tokens.has_credentials):
                raise
            tokens.on_error(exc, token=used)
    raise AssertionError("unreachable")  # pragma: no cover


def leader_endpoint(manager: ConnectionManager, deadline: float | None) -> str:
    """A client URL of the raft leader, found with Status and MemberList (one of the client's
    own endpoints when the leader has one)."""
    answer = manager.unary(
        methods.MAINTENANCE_STATUS, rpc_pb2.StatusRequest(), deadline=deadline
    )
    if answer.leader == 0:
        raise NoLeader("etcdserver: no leader")
    listed = manager.unary(
        methods.CLUSTER_MEMBER_LIST, rpc_pb2.MemberListRequest(linearizable=True), deadline=deadline
    )
    leader = next((m for m in member_list(listed).members if m.id == answer.leader), None)
    if leader is None or not leader.client_urls:
        raise NoLeader(f"the leader {answer.leader:x} has no client URL")
    known = [url for url in leader.client_urls if _is_client_endpoint(manager, url)]
    return (known or list(leader.client_urls))[0]


def _is_client_endpoint(manager: ConnectionManager, url: str) -> bool:
    try:
        return str(parse_address(url)) in manager.endpoints
    except UsageError:
        return False


class Maintenance:
    """Maintenance operations (most need the root role when auth is enabled)."""

    def __init__(self, manager: ConnectionManager, *, timeout: float | None) -> None:
        self._manager = manager
        self._timeout = timeout

    def _deadline(self, timeout: float | None) -> float | None:
        return call_deadline(timeout, self._timeout)

    # --- alarms -------------------------------------------------------------------------------

    def alarm_list(self, *, timeout: float | None = None) -> AlarmResponse:
        """Every alarm raised in the cluster."""
        response = self._manager.unary(
            methods.MAINTENANCE_ALARM, alarm_request("GET"), deadline=self._deadline(timeout)
        )
        return alarm_response(response)

    def alarm_disarm(
        self,
        member_id: int = 0,
        alarm: AlarmType | str | None = None,
        *,
        timeout: float | None = None,
    ) -> AlarmResponse:
        """Disarm one member's alarm; with neither ``member_id`` nor ``alarm``, every alarm
        listed (as Go's ``AlarmDisarm`` with an empty member). Returns what was disarmed."""
        deadline = self._deadline(timeout)
        if member_id == 0 and alarm in (None, AlarmType.NONE):
            listed = self._manager.unary(
                methods.MAINTENANCE_ALARM, alarm_request("GET"), deadline=deadline
            )
            first = alarm_response(listed)
            disarmed: list[Alarm] = []
            for raised in first.alarms:
                response = self._manager.unary(
                    methods.MAINTENANCE_ALARM,
                    alarm_request("DEACTIVATE", raised.member_id, raised.alarm),
                    deadline=deadline,
                )
                disarmed.extend(alarm_response(response).alarms)
            return AlarmResponse(header=first.header, alarms=tuple(disarmed))
        response = self._manager.unary(
            methods.MAINTENANCE_ALARM,
            alarm_request("DEACTIVATE", member_id, alarm),
            deadline=deadline,
        )
        return alarm_response(response)

    def alarm_disarm_all(self, *, timeout: float | None = None) -> AlarmResponse:
        """Disarm every alarm raised in the cluster."""
        return self.alarm_disarm(timeout=timeout)

    # --- one member's state -------------------------------------------------------------------

    def status(
        self, endpoint: str | None = None, *, timeout: float | None = None
    ) -> MemberStatus:
        """The status of the member at ``endpoint`` (default: the client's current one)."""
        return self._status(endpoint, self._deadline(timeout))

    def _status(self, endpoint: str | None, deadline: float | None) -> MemberStatus:
        response = unary_at(
            self._manager, methods.MAINTENANCE_STATUS, rpc_pb2.StatusRequest(), endpoint, deadline
        )
        return status(response, endpoint)

    def defragment(
        self, endpoint: str | None = None, *, timeout: float | None = None
    ) -> DefragmentResponse:
        """Defragment the backend of the member at ``endpoint``, giving free pages back to the
        file system. The member answers nothing else meanwhile: do one member at a time."""
        response = unary_at(
            self._manager,
            methods.MAINTENANCE_DEFRAGMENT,
            rpc_pb2.DefragmentRequest(),
            endpoint,
            self._deadline(timeout),
        )
        return defragment(response, endpoint)

    def hash(
        self, endpoint: str | None = None, *, timeout: float | None = None
    ) -> HashResponse:
        """CRC-32 of the member's whole backend (differs between members; for testing)."""
        response = unary_at(
            self._manager,
            methods.MAINTENANCE_HASH,
            rpc_pb2.HashRequest(),
            endpoint,
            self._deadline(timeout),
        )
        return hash_response(response)

    def hash_kv(
        self,
        endpoint: str | None = None,
        revision: int = 0,
        *,
        timeout: float | None = None,
    ) -> HashKVResponse:
        """CRC-32 of the member's key-value history up to ``revision`` (0: the latest); equal
        on every member that is consistent."""
        if revision < 0:
            raise UsageError(f"revision must not be negative, got {revision!r}")
        response = unary_at(
            self._manager,
            methods.MAINTENANCE_HASH_KV,
            rpc_pb2.HashKVRequest(revision=revision),
            endpoint,
            self._deadline(timeout),
        )
        return hash_kv_response(response)

    # --- cluster-wide -------------------------------------------------------------------------

    def move_leader(
        self, target_member_id: int, *, timeout: float | None = None
    ) -> MoveLeaderResponse:
        """Hand the raft leadership to ``target_member_id``. The request must reach the
        current leader: it is found with Status and MemberList, and asked directly."""
        if target_member_id <= 0:
            raise UsageError(f"a member id is a positive integer, got {target_member_id!r}")
        deadline = self._deadline(timeout)
        request = rpc_pb2.MoveLeaderRequest(targetID=target_member_id)
        for attempt in range(_LEADER_ATTEMPTS):
            endpoint = leader_endpoint(self._manager, deadline)
            try:
                response = unary_at(
                    self._manager, methods.MAINTENANCE_MOVE_LEADER, request, endpoint, deadline
                )
            except NotLeader:
                if attempt + 1 == _LEADER_ATTEMPTS:
                    raise
                logger.debug("leadership moved during move_leader; asking the new leader")
                continue
            return move_leader(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def downgrade(
        self,
        action: DowngradeAction | str,
        version: str = "",
        *,
        timeout: float | None = None,
    ) -> DowngradeResponse:
        """Validate, enable or cancel a cluster downgrade to ``version`` (``"3.4"``); etcd 3.5
        and later. An older server raises :class:`~etcdwire.errors.Unimplemented`."""
        kind = downgrade_action(action)
        if kind is not DowngradeAction.CANCEL and not version:
            raise UsageError(f"downgrade {kind.name.lower()} needs a target version")
        request = rpc_pb2.DowngradeRequest(action=kind.name, version=version)
        try:
            response = self._manager.unary(
                methods.MAINTENANCE_DOWNGRADE, request, deadline=self._deadline(timeout)
            )
        except Unimplemented as exc:
            raise Unimplemented(
                "this server has no Downgrade RPC (etcd 3.5 or later is needed): " + exc.message,
                details=exc.details,
                trailers=exc.trailers,
                endpoint=exc.endpoint,
            ) from exc
        return downgrade_response(response)

    # --- snapshot -----------------------------------------------------------------------------

    def snapshot(
        self,
        destination: str | os.PathLike[str] | IO[bytes],
        *,
        progress: ProgressCallback | None = None,
        endpoint: str | None = None,
        timeout: float | None = None,
    ) -> SnapshotInfo:
        """Stream a snapshot of the backend of one member to ``destination``: a path (written
        to ``<path>.part`` and renamed once verified) or a binary writer. Chunks are written as
        they arrive, so memory stays constant whatever the size. The SHA-256 digest etcd sends
        last is checked; a mismatch raises
        :class:`~etcdwire.errors.SnapshotChecksumMismatch`. ``timeout`` bounds the whole
        transfer (default: none, whatever the client's per-call timeout)."""
        deadline = call_deadline(timeout)
        if not isinstance(destination, str | os.PathLike):
            if not callable(getattr(destination, "write", None)):
                raise UsageError(f"snapshot destination must be a path or writer: {destination!r}")
            return self._snapshot_to(destination, progress, endpoint, deadline)
        path = os.fspath(destination)
        partial = path + ".part"
        try:
            with open(partial, "wb") as out:
                info = self._snapshot_to(out, progress, endpoint, deadline)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
        return info

    def _snapshot_to(
        self,
        out: IO[bytes],
        progress: ProgressCallback | None,
        endpoint: str | None,
        deadline: float | None,
    ) -> SnapshotInfo:
        if endpoint is None:
            channel = self._manager.channel(deadline)
        else:
            channel = self._manager.channel_for(endpoint)
        metadata = self._manager.metadata(deadline, for_stream=True)
        receiver = SnapshotReceiver()
        call = channel.new_call(methods.MAINTENANCE_SNAPSHOT, deadline=deadline, metadata=metadata)
        with call:
            call.send_message(rpc_pb2.SnapshotRequest(), end=True)
            while True:
                message = call.receive()
                if message is None:
                    break
                out.write(receiver.feed(message))
                if progress is not None:
                    progress(receiver.received, receiver.total)
        info = receiver.finish(channel.endpoint)
        logger.info("snapshot of %d bytes from %s verified", info.size, channel.endpoint)
        return info
