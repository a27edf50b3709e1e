"""Keepalive schedules: lease keepalives and HTTP/2 keepalive pings. No I/O, no clocks.

:class:`LeaseKeepAliveSchedule` follows etcd's Go client (client/v3/lease.go): one
LeaseKeepAlive stream for all leases, each lease refreshed every TTL/3, and a lease given up
when no successful response arrived before its deadline (``deadlineLoop``); a response with
``TTL <= 0`` means the lease expired or was revoked.

:class:`PingPolicy` decides when the client may send an HTTP/2 PING as a keepalive
(grpc/proposal A8, grpc-go) without ever tripping etcd's enforcement (grpc-go server
``handlePing``: pings closer than 5 s with streams, or closer than 2 h without streams, are
strikes; the third strike closes the connection with GOAWAY ENHANCE_YOUR_CALM
``too_many_pings``).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from ..errors import UsageError

__all__ = [
    "ENHANCE_YOUR_CALM",
    "LeaseInfo",
    "LeaseKeepAliveSchedule",
    "LeaseLost",
    "LeaseState",
    "PingPolicy",
]

ENHANCE_YOUR_CALM = 0xB  # RFC 9113 §7
TOO_MANY_PINGS = b"too_many_pings"  # grpc-go http2_server.go GOAWAY debug data


# --- lease keepalive ---------------------------------------------------------------------------


class LeaseState(enum.Enum):
    WAITING = "waiting"  # added; no keepalive answered yet
    ALIVE = "alive"  # the last keepalive was answered with TTL > 0


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A snapshot of one tracked lease (absolute monotonic times)."""

    lease_id: int
    ttl: float
    next_send_at: float
    deadline: float
    state: LeaseState


@dataclass(frozen=True, slots=True)
class LeaseLost:
    """The server says the lease is gone (keepalive answered with TTL <= 0)."""

    lease_id: int
    reason: str


class _Lease:
    __slots__ = ("deadline", "lease_id", "next_send_at", "sends", "state", "ttl")

    def __init__(self, lease_id: int, ttl: float, now: float) -> None:
        self.lease_id = lease_id
        self.ttl = ttl
        self.next_send_at = now
        self.deadline = now + ttl
        self.state = LeaseState.WAITING
        self.sends: deque[float] = deque(maxlen=16)  # send times of unanswered keepalives


class LeaseKeepAliveSchedule:
    """Which leases need a keepalive at ``now``, and which are lost.

    The shell's loop::

        for lease_id in schedule.due(now): send LeaseKeepAliveRequest(ID=lease_id)
        on each response: lost = schedule.on_response(resp.ID, resp.TTL, now)
        for lease_id in schedule.expired(now): fail that lease's keepers
        sleep schedule.next_wakeup(now) seconds (or until a response arrives)
        after reopening the stream: schedule.on_stream_reset(now)

    Cadence: a keepalive is sent at once when a lease is added, then every ``ttl / 3`` seconds
    (Go's ``nextKeepAlive``), measured from the last response, or from the last send while no
    response comes; never more often than ``min_interval``. Deadline: ``ttl`` seconds after the
    lease was added, then ``ttl`` after the send that the latest response answers (the server
    renewed the lease no earlier than that send). Go's first-response deadline is
    ``DialTimeout + 1 s`` instead; here the lease's own TTL bounds it, which is what the server
    guarantees.
    """

    def __init__(self, *, min_interval: float = 0.5) -> None:
        if min_interval <= 0:
            raise UsageError("min_interval must be > 0")
        self.min_interval = min_interval
        self._leases: dict[int, _Lease] = {}

    def __len__(self) -> int:
        return len(self._leases)

    def __contains__(self, lease_id: object) -> bool:
        return lease_id in self._leases

    @property
    def lease_ids(self) -> list[int]:
        return list(self._leases)

    def get(self, lease_id: int) -> LeaseInfo | None:
        lease = self._leases.get(lease_id)
        if lease is None:
            return None
        return LeaseInfo(lease.lease_id, lease.ttl, lease.next_send_at, lease.deadline, lease.state)

    def _interval(self, ttl: float) -> float:
        return max(ttl / 3.0, self.min_interval)

    def add(self, lease_id: int, ttl: float, now: float) -> None:
        """Keep ``lease_id`` alive; ``ttl`` is the seconds it is known to live from ``now``
        (the granted TTL right after LeaseGrant). Adding a tracked lease again only raises its
        deadline if the new ttl reaches further."""
        if ttl <= 0:
            raise UsageError(f"lease {lease_id} has no time left (ttl={ttl!r})")
        lease = self._leases.get(lease_id)
        if lease is None:
            self._leases[lease_id] = _Lease(lease_id, ttl, now)
            return
        lease.ttl = ttl
        lease.deadline = max(lease.deadline, now + ttl)

    def remove(self, lease_id: int) -> bool:
        """Stop keeping ``lease_id`` alive (revoked, or its keepers are gone)."""
        return self._leases.pop(lease_id, None) is not None

    def due(self, now: float) -> list[int]:
        """Leases to send a keepalive for now; they are marked sent."""
        out = []
        for lease in self._leases.values():
            if lease.next_send_at <= now:
                out.append(lease.lease_id)
                lease.sends.append(now)
                lease.next_send_at = now + self._interval(lease.ttl)
        return out

    def on_response(self, lease_id: int, ttl: float, now: float) -> LeaseLost | None:
        """A LeaseKeepAliveResponse arrived. Returns :class:`LeaseLost` (and stops tracking)
        when ``ttl <= 0``; None otherwise, also for leases not tracked (already removed)."""
        lease = self._leases.get(lease_id)
        if lease is None:
            return None
        if ttl <= 0:
            del self._leases[lease_id]
            return LeaseLost(lease_id, "expired or revoked")
        sent_at = lease.sends.popleft() if lease.sends else now
        lease.ttl = ttl
        lease.state = LeaseState.ALIVE
        lease.deadline = max(lease.deadline, sent_at + ttl)
        lease.next_send_at = now + self._interval(ttl)
        return None

    def expired(self, now: float) -> list[int]:
        """Leases whose deadline passed without a successful response (Go ``deadlineLoop``).
        They are no longer tracked."""
        gone = [lid for lid, lease in self._leases.items() if lease.deadline <= now]
        for lid in gone:
            del self._leases[lid]
        return gone

    def next_wakeup(self, now: float) -> float | None:
        """Seconds until :meth:`due` or :meth:`expired` has work (0.0 if already), or None when
        no lease is tracked."""
        if not self._leases:
            return None
        soonest = min(min(lease.next_send_at, lease.deadline) for lease in self._leases.values())
        return max(0.0, soonest - now)

    def on_stream_reset(self, now: float) -> None:
        """A new LeaseKeepAlive stream replaced a broken one: keepalives in flight are lost, so
        every lease is due again at once (deadlines are unchanged)."""
        for lease in self._leases.values():
            lease.sends.clear()
            lease.next_send_at = now


# --- HTTP/2 keepalive pings --------------------------------------------------------------------


class PingPolicy:
    """When to send an HTTP/2 keepalive PING (grpc/proposal A8-client-side-keepalive.md).

    - Off by default (``time=None``), like grpc and etcd's ``DialKeepAliveTime``.
    - ``time`` is clamped to >= ``min_time`` (10 s, grpc-go ``KeepaliveMinPingTime``) and
      measured from the last byte *read*, as A8 requires.
    - Without active streams and ``permit_without_calls=False`` (the default) it never pings:
      etcd does not permit pings without streams (``PermitWithoutStream`` false, 2 h rule).
    - Any two pings are at least ``min_time`` apart unless the server wrote HEADERS or DATA
      after acknowledging the previous ping (which resets its strike counter).
      :meth:`may_ping` applies this limit to every kind of PING the shell sends.
    - ``timeout`` (20 s): no byte read within it after a PING => the connection is dead.
    - GOAWAY ENHANCE_YOUR_CALM ``too_many_pings`` doubles ``time`` for the connections made
      after it (grpc-go ``addrConn.adjustParams``).

    Per-connection state is cleared by :meth:`connection_started`; ``time`` persists.
    """

    def __init__(
        self,
        *,
        time: float | None = None,
        timeout: float = 20.0,
        permit_without_calls: bool = False,
        min_time: float = 10.0,
    ) -> None:
        if timeout <= 0:
            raise UsageError("keepalive timeout must be > 0")
        if min_time <= 0:
            raise UsageError("keepalive min_time must be > 0")
        if time is not None and time <= 0:
            raise UsageError("keepalive time must be > 0 (or None to disable)")
        self.min_time = min_time
        self.time = None if time is None else max(time, min_time)
        self.timeout = timeout
        self.permit_without_calls = permit_without_calls
        self._last_ping_at: float | None = None
        self._awaiting_ack = False
        self._outstanding_since: float | None = None
        self._data_after_ack = False

    @property
    def enabled(self) -> bool:
        return self.time is not None

    def connection_started(self, now: float) -> None:
        """A new connection: forget pings of the previous one."""
        del now
        self._last_ping_at = None
        self._awaiting_ack = False
        self._outstanding_since = None
        self._data_after_ack = False

    def may_ping(self, now: float) -> bool:
        """The rate limit for any client PING: ``min_time`` since the last one, unless the
        server wrote HEADERS/DATA after acknowledging it."""
        if self._last_ping_at is None or self._data_after_ack:
            return True
        return now - self._last_ping_at >= self.min_time

    def should_ping(self, now: float, last_read: float, active_streams: int) -> bool:
        """Send a keepalive PING now? ``last_read``: when the last byte was read."""
        if self.time is None or self._outstanding_since is not None:
            return False
        if active_streams <= 0 and not self.permit_without_calls:
            return False
        if now - last_read < self.time:
            return False
        return self.may_ping(now)

    def next_check(self, now: float, last_read: float) -> float | None:
        """Seconds until :meth:`should_ping` or :meth:`timed_out` may change, or None when
        keepalive is off (the shell re-checks after reads and stream changes anyway)."""
        if self.time is None:
            return None
        if self._outstanding_since is not None:
            return max(0.0, self._outstanding_since + self.timeout - now)
        at = last_read + self.time
        if self._last_ping_at is not None and not self._data_after_ack:
            at = max(at, self._last_ping_at + self.min_time)
        return max(0.0, at - now)

    def ping_sent(self, now: float) -> None:
        """Any PING (keepalive, liveness or user) was written."""
        self._last_ping_at = now
        self._awaiting_ack = True
        self._data_after_ack = False
        if self._outstanding_since is None:
            self._outstanding_since = now

    def ack_received(self, now: float) -> None:
        del now
        self._awaiting_ack = False
        self._outstanding_since = None

    def bytes_received(self, now: float) -> None:
        """Any frame was read: the peer is alive, the PING timeout stops."""
        del now
        self._outstanding_since = None

    def data_received(self, now: float) -> None:
        """The server sent HEADERS or DATA. After the last PING's ACK this means its strike
        counter was reset (grpc-go ``resetPingStrikes``), so another PING is free."""
        self.bytes_received(now)
        if not self._awaiting_ack:
            self._data_after_ack = True

    def timed_out(self, now: float) -> bool:
        """A PING went unanswered (nothing read) for ``timeout`` seconds: close the
        connection and fail its calls UNAVAILABLE."""
        return self._outstanding_since is not None and now - self._outstanding_since >= (
            self.timeout
        )

    def on_goaway(self, error_code: int, debug_data: bytes) -> bool:
        """A GOAWAY arrived. True when it was ``too_many_pings`` and ``time`` was doubled for
        the next connections (the shell should log this at WARNING, as A8 asks)."""
        if error_code != ENHANCE_YOUR_CALM or debug_data != TOO_MANY_PINGS:
            return False
        if self.time is None:
            return False
        self.time *= 2
        return True
