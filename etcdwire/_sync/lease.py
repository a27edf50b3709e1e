# Generated from etcdwire/_async/lease.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""The Lease service, and the keeper that keeps leases alive in the background.

All kept leases of a client share one LeaseKeepAlive stream. The keeper refreshes each lease
every TTL/3, reopens the stream on another endpoint when its connection fails, and signals a
lease as lost when the server says it expired or was revoked, or when no refresh succeeded
before its TTL ran out (after etcd's client/v3/lease.go).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .._compat import Event, Lock, Task, sleep, spawn, monotonic
from .._etcd import methods, ops
from .._etcd.convert import (
    lease_grant,
    lease_keep_alive,
    lease_leases,
    lease_revoke,
    lease_time_to_live,
)
from .._etcd.keepalive import LeaseKeepAliveSchedule
from .._pb import rpc_pb2
from ..errors import CallCancelled, EtcdError, TransportError, UsageError
from ..types import (
    LeaseGrant,
    LeaseKeepAliveReply,
    LeaseLeasesResponse,
    LeaseRevokeResponse,
    LeaseTimeToLive,
)
from .channel import Call, ReceiveTimeout, call_deadline
from .manager import ConnectionManager

__all__ = ["KeptLease", "Lease", "LeaseKeeper"]

logger = logging.getLogger("etcdwire.lease")

#: Wait before reopening a failed keep-alive stream (Go's retryConnWait).
REOPEN_DELAY = 0.5
#: The keeper looks at its schedule at least this often.
POLL_INTERVAL = 0.5

LostCallback = Callable[["KeptLease"], Any]


class KeptLease:
    """A lease granted and kept alive by the client.

    ``alive`` turns False, ``lost`` is set and the callbacks run when the lease is lost
    (expired, revoked, or not refreshed in time) or when keeping it stops. Use it as a context
    manager to grant on entry and revoke on exit."""

    def __init__(self, service: Lease, ttl: int, *, lease_id: int = 0) -> None:
        self._service = service
        self.requested_ttl = ttl
        self.id = lease_id
        self.ttl = ttl
        self.granted = False
        self.lost = Event()
        self.lost_reason: str | None = None
        self._callbacks: list[LostCallback] = []
        self.last_refresh: float | None = None
        self._granted_at = 0.0

    @property
    def alive(self) -> bool:
        return self.granted and not self.lost.is_set()

    @property
    def remaining(self) -> float | None:
        """About how many seconds the lease has left if no further refresh succeeds: its TTL
        from the last refresh answered (or from the grant), 0 once it is lost, None before
        it is granted. The server counts from when it renewed, a little before the answer
        arrived, so this errs long by up to one round trip."""
        if not self.granted:
            return None
        if self.lost.is_set():
            return 0.0
        since = self.last_refresh if self.last_refresh is not None else self._granted_at
        return max(0.0, self.ttl - (monotonic() - since))

    def on_lost(self, callback: LostCallback) -> None:
        """Call ``callback(lease)`` once the lease is lost (at once if it already is)."""
        if self.lost.is_set():
            callback(self)
        else:
            self._callbacks.append(callback)

    def wait_lost(self, timeout: float | None = None) -> bool:
        """Wait until the lease is lost; False if ``timeout`` passed first."""
        return self.lost.wait(timeout)

    def grant(self) -> KeptLease:
        """Grant the lease and start keeping it alive."""
        if self.granted:
            raise UsageError(f"lease {self.id:x} is already granted")
        asked = monotonic()
        grant = self._service.grant(self.requested_ttl, lease_id=self.id)
        self.id, self.ttl, self.granted = grant.id, grant.ttl, True
        self._granted_at = asked
        self._service.keeper.add(self)
        return self

    def revoke(self) -> None:
        """Stop keeping the lease alive and revoke it (its keys are deleted)."""
        self._service.keeper.remove(self.id)
        if self.granted and not self.lost.is_set():
            try:
                self._service.revoke(self.id)
            finally:
                self._mark_lost("revoked by this client")

    def _refreshed(self, ttl: int, now: float) -> None:
        self.ttl = ttl
        self.last_refresh = now

    def _mark_lost(self, reason: str) -> None:
        if self.lost.is_set():
            return
        self.lost_reason = reason
        self.lost.set()
        logger.info("lease %x lost: %s", self.id, reason)
        for callback in self._callbacks:
            try:
                callback(self)
            except Exception:
                logger.exception("lease %x: lost callback failed", self.id)
        self._callbacks.clear()

    def __enter__(self) -> KeptLease:
        if not self.granted:
            self.grant()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.revoke()

    def __repr__(self) -> str:
        state = "alive" if self.alive else (self.lost_reason or "not granted")
        return f"<KeptLease {self.id:x} ttl={self.ttl} {state}>"


class LeaseKeeper:
    """Keeps every lease of a client alive over one LeaseKeepAlive stream."""

    def __init__(self, manager: ConnectionManager) -> None:
        self._manager = manager
        self._schedule = LeaseKeepAliveSchedule()
        self._leases: dict[int, KeptLease] = {}
        self._task: Task | None = None
        self._call: Call[Any, Any] | None = None
        self._lock = Lock()
        self._stopped = False
        self.streams_opened = 0
        self._avoid: tuple[str, ...] = ()

    @property
    def lease_ids(self) -> list[int]:
        return list(self._leases)

    def add(self, lease: KeptLease) -> None:
        if self._stopped:
            raise UsageError("the client is closed")
        self._schedule.add(lease.id, lease.ttl, monotonic())
        self._leases[lease.id] = lease
        with self._lock:
            if self._task is None or self._task.done():
                self._task = spawn(self._run, name="etcdwire-lease-keeper")

    def remove(self, lease_id: int) -> None:
        self._schedule.remove(lease_id)
        self._leases.pop(lease_id, None)

    def stop(self, reason: str = "the client was closed") -> None:
        """Stop refreshing; every kept lease is signalled lost (it will expire on the server)."""
        self._stopped = True
        call, task = self._call, self._task
        if call is not None:
            call.cancel()
        if task is not None:
            task.cancel()
            task.join(2.0)
        for lease_id in list(self._leases):
            lease = self._leases.pop(lease_id)
            self._schedule.remove(lease_id)
            lease._mark_lost(f"keep-alive stopped: {reason}")

    def _run(self) -> None:
        while not self._stopped and self._leases:
            try:
                self._serve_stream()
            except CallCancelled:
                if self._stopped:
                    return
            except EtcdError as exc:
                logger.info("lease keep-alive stream failed: %s; reopening", exc)
            if not self._stopped and self._leases:
                self._expire(monotonic())
                sleep(REOPEN_DELAY)

    def _serve_stream(self) -> None:
        call = self._manager.open_call(methods.LEASE_KEEP_ALIVE, exclude=self._avoid)
        self._avoid = ()
        self._call = call
        self.streams_opened += 1
        schedule = self._schedule
        schedule.on_stream_reset(monotonic())
        try:
            while not self._stopped and self._leases:
                now = monotonic()
                for lease_id in schedule.due(now):
                    call.send_message(ops.lease_keep_alive_request(lease_id))
                self._expire(now)
                wakeup = schedule.next_wakeup(monotonic())
                wait = POLL_INTERVAL if wakeup is None else min(max(wakeup, 0.0), POLL_INTERVAL)
                try:
                    message = call.receive(timeout=wait)
                except ReceiveTimeout:
                    if call.connection is not None:
                        call.connection.keepalive_tick()
                    continue
                if message is None:
                    return  # the server ended the stream; reopen
                self._on_reply(lease_keep_alive(message))
        except TransportError as exc:
            if call.connection is not None:
                self._manager.connection_failed(call.connection.endpoint, exc)
                self._avoid = (call.connection.endpoint,)
            raise
        finally:
            self._call = None
            if not call.done:
                call.cancel()

    def _on_reply(self, reply: LeaseKeepAliveReply) -> None:
        now = monotonic()
        lost = self._schedule.on_response(reply.id, reply.ttl, now)
        lease = self._leases.get(reply.id)
        if lease is None:
            return
        if lost is not None:
            self._leases.pop(reply.id, None)
            lease._mark_lost(lost.reason)
        else:
            lease._refreshed(reply.ttl, now)

    def _expire(self, now: float) -> None:
        for lease_id in self._schedule.expired(now):
            self._schedule.remove(lease_id)
            lease = self._leases.pop(lease_id, None)
            if lease is not None:
                lease._mark_lost("no keep-alive succeeded before the TTL ran out")


class Lease:
    """Lease operations, and kept leases: ``with client.lease(10) as lease: ...``."""

    def __init__(self, manager: ConnectionManager, *, timeout: float | None) -> None:
        self._manager = manager
        self._timeout = timeout
        self.keeper = LeaseKeeper(manager)

    def _deadline(self, timeout: float | None) -> float | None:
        return call_deadline(timeout, self._timeout)

    def __call__(self, ttl: int, *, lease_id: int = 0) -> KeptLease:
        """A lease to grant and keep alive (granted on entering the context manager or by
        ``grant()``), revoked on exit."""
        ops.lease_grant_request(ttl, lease_id=lease_id)  # validate now, before anything is sent
        return KeptLease(self, ttl, lease_id=lease_id)

    def grant(
        self, ttl: int, *, lease_id: int = 0, timeout: float | None = None
    ) -> LeaseGrant:
        """Grant a lease of ``ttl`` seconds (``lease_id`` 0: the server picks the id)."""
        request = ops.lease_grant_request(ttl, lease_id=lease_id)
        response = self._manager.unary(
            methods.LEASE_GRANT, request, deadline=self._deadline(timeout)
        )
        if response.error:
            raise EtcdError(f"lease grant failed: {response.error}")
        return lease_grant(response)

    def revoke(self, lease_id: int, *, timeout: float | None = None) -> LeaseRevokeResponse:
        """Revoke a lease; the keys attached to it are deleted."""
        response = self._manager.unary(
            methods.LEASE_REVOKE,
            ops.lease_revoke_request(lease_id),
            deadline=self._deadline(timeout),
        )
        return lease_revoke(response)

    def time_to_live(
        self, lease_id: int, *, keys: bool = False, timeout: float | None = None
    ) -> LeaseTimeToLive:
        """The remaining TTL of a lease (-1 once expired), and its keys when asked."""
        response = self._manager.unary(
            methods.LEASE_TIME_TO_LIVE,
            ops.lease_time_to_live_request(lease_id, keys=keys),
            deadline=self._deadline(timeout),
        )
        return lease_time_to_live(response)

    def leases(self, *, timeout: float | None = None) -> LeaseLeasesResponse:
        """Every lease the cluster holds."""
        response = self._manager.unary(
            methods.LEASE_LEASES, rpc_pb2.LeaseLeasesRequest(), deadline=self._deadline(timeout)
        )
        return lease_leases(response)

    def keep_alive_once(
        self, lease_id: int, *, timeout: float | None = None
    ) -> LeaseKeepAliveReply:
        """Refresh a lease once, on a short-lived stream; ``ttl <= 0`` means it is gone."""
        call = self._manager.open_call(
            methods.LEASE_KEEP_ALIVE, deadline=self._deadline(timeout)
        )
        with call:
            call.send_message(ops.lease_keep_alive_request(lease_id))
            message = call.receive()
        if message is None:
            raise EtcdError("the server ended the keep-alive stream without a reply")
        return lease_keep_alive(message)

    def keep_alive(self, lease_id: int, ttl: int) -> KeptLease:
        """Start keeping an existing lease alive (``ttl``: its granted TTL)."""
        lease = KeptLease(self, ttl, lease_id=lease_id)
        lease.granted = True
        self.keeper.add(lease)
        return lease
