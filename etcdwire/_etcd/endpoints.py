"""Which endpoint to use: per-endpoint state, backoff and counters, and the choice. No I/O.

The connection manager reports what happens (:meth:`EndpointTable.connecting`, ``ready``,
``failed``, ``idle``) and asks :meth:`EndpointTable.pick` where the next call goes. Two policies:

- ``"pinned"``: one endpoint serves every call while it is healthy; when it fails (or a call
  asks to switch) the next usable endpoint in list order takes over and stays pinned (eetcd's
  ``random`` mode, Go's pre-3.4 pinned balancer).
- ``"round_robin"``: calls rotate over every usable endpoint (Go clientv3's gRPC
  ``round_robin`` policy, eetcd's ``connect_all``).

An endpoint that failed is backing off (:class:`~etcdwire._etcd.retry.ConnectBackoff`) and is not
picked until its time, unless every endpoint is backing off: then :meth:`pick` names the one
whose backoff ends first and how long to wait for it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ..errors import UsageError
from .retry import ConnectBackoff

__all__ = [
    "EndpointState",
    "EndpointStatus",
    "EndpointTable",
    "Pick",
    "endpoints_from_members",
]

Policy = Literal["pinned", "round_robin"]


class EndpointState(enum.Enum):
    """Connection state of one endpoint, as shown by ``client.info()``."""

    IDLE = "idle"  # no connection; may be connected now
    CONNECTING = "connecting"  # an attempt is in progress
    READY = "ready"  # a connection is up (server SETTINGS received)
    BACKING_OFF = "backing_off"  # the last attempt failed; not before its retry time
    FAILED = "failed"  # a failure that retrying soon will not fix; retried after max backoff


_USABLE = frozenset({EndpointState.IDLE, EndpointState.CONNECTING, EndpointState.READY})
_WAITING = frozenset({EndpointState.BACKING_OFF, EndpointState.FAILED})


@dataclass(frozen=True, slots=True)
class Pick:
    """The endpoint for the next call. ``wait`` is how many seconds to wait before connecting
    (0.0: use it now; > 0 only when every endpoint is backing off). ``state`` is its state at
    the time of the pick (READY: a connection exists; IDLE: connect first)."""

    endpoint: str
    wait: float
    state: EndpointState


@dataclass(frozen=True, slots=True)
class EndpointStatus:
    """One row of ``client.info()``. Times are relative to the ``now`` given to ``rows``."""

    endpoint: str
    state: EndpointState
    active: bool  # pinned: the pinned endpoint; round_robin: READY and in the rotation
    backing_off_until: float | None  # seconds from now until it may be retried, or None
    last_error: str | None
    last_error_ago: float | None  # seconds since the last error, or None
    connects: int  # connections that reached READY
    failures: int  # failures reported (connect or established connection)
    streams_open: int
    leases: int
    watches: int


class _Endpoint:
    __slots__ = (
        "attempt_started",
        "backoff",
        "connects",
        "failures",
        "last_error",
        "last_error_at",
        "leases",
        "retry_at",
        "state",
        "streams_open",
        "url",
        "watches",
    )

    def __init__(self, url: str, backoff: ConnectBackoff) -> None:
        self.url = url
        self.backoff = backoff
        self.state = EndpointState.IDLE
        self.retry_at = 0.0
        self.attempt_started: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.connects = 0
        self.failures = 0
        self.streams_open = 0
        self.leases = 0
        self.watches = 0

    def effective_state(self, now: float) -> EndpointState:
        """BACKING_OFF and FAILED end by themselves once ``retry_at`` has passed."""
        if self.state in (EndpointState.BACKING_OFF, EndpointState.FAILED) and (
            self.retry_at <= now
        ):
            return EndpointState.IDLE
        return self.state


class EndpointTable:
    """Per-endpoint state and the endpoint choice for a client.

    ``endpoints`` are normalised URLs (``"http://127.0.0.1:2379"``), in preference order.
    ``backoff_factory`` makes the reconnect backoff of each endpoint (default: gRPC's
    connection backoff drawing jitter from ``rng``).
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        policy: Policy = "pinned",
        backoff_factory: Callable[[], ConnectBackoff] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if policy not in ("pinned", "round_robin"):
            raise UsageError(f"policy must be 'pinned' or 'round_robin', not {policy!r}")
        self.policy: Policy = policy
        rng = rng if rng is not None else random.Random()
        self._backoff_factory = backoff_factory or (lambda: ConnectBackoff(rng=rng))
        self._eps: dict[str, _Endpoint] = {}
        self._order: list[str] = []
        self._pinned: str | None = None
        self._cursor = 0
        self.set_endpoints(endpoints)

    # --- membership -------------------------------------------------------------------------

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(self._order)

    @property
    def pinned(self) -> str | None:
        """The pinned endpoint (policy ``"pinned"``), or None before the first pick."""
        return self._pinned

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, endpoint: object) -> bool:
        return endpoint in self._eps

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._order))

    def set_endpoints(self, endpoints: Iterable[str]) -> list[str]:
        """Replace the endpoint list (e.g. from a MemberList auto-sync).

        Kept endpoints keep their state, backoff and counters; new ones start IDLE. Returns the
        removed endpoints, whose connections the caller should close. The pin moves off a
        removed endpoint.
        """
        order = list(dict.fromkeys(endpoints))
        if not order:
            raise UsageError("at least one endpoint is required")
        for url in order:
            if not isinstance(url, str) or not url:
                raise UsageError(f"endpoint must be a non-empty string, not {url!r}")
        removed = [url for url in self._order if url not in order]
        kept = {url: self._eps[url] for url in order if url in self._eps}
        self._eps = {url: kept.get(url) or _Endpoint(url, self._backoff_factory()) for url in order}
        self._order = order
        if self._pinned not in self._eps:
            self._pinned = None
        self._cursor %= len(order)
        return removed

    # --- events from the connection manager -------------------------------------------------

    def connecting(self, endpoint: str, now: float) -> None:
        """A connection attempt to ``endpoint`` starts at ``now``."""
        ep = self._eps.get(endpoint)
        if ep is None:
            return
        ep.state = EndpointState.CONNECTING
        ep.attempt_started = now

    def ready(self, endpoint: str, now: float) -> None:
        """The connection is up (server SETTINGS received): reset its backoff (gRPC
        connection-backoff.md)."""
        del now  # part of the event signature; readiness needs no time arithmetic
        ep = self._eps.get(endpoint)
        if ep is None:
            return
        ep.state = EndpointState.READY
        ep.connects += 1
        ep.backoff.reset()
        if self.policy == "pinned" and self._pinned is None:
            self._pinned = endpoint

    def failed(
        self, endpoint: str, now: float, error: BaseException, *, fatal: bool = False
    ) -> None:
        """The attempt or the established connection to ``endpoint`` failed with ``error``.

        The next attempt is due ``next_delay()`` after the start of the last attempt (the doc's
        "sleep until current_deadline"), never before ``now``: a connection that was up for a
        long time may be retried at once, one that fails right after connecting waits.
        ``fatal`` marks failures that retrying soon will not fix (bad TLS configuration, a
        server that does not speak h2): the endpoint is FAILED and waits the maximum backoff.
        Streams on that connection are gone, so ``streams_open`` drops to 0. A failure reported
        while the endpoint is already backing off only updates ``last_error``.
        """
        ep = self._eps.get(endpoint)
        if ep is None:
            return
        text = str(error)
        ep.last_error = f"{type(error).__name__}: {text}" if text else type(error).__name__
        ep.last_error_at = now
        if not fatal and ep.effective_state(now) in _WAITING:
            # The same failure reported again (by the connect task and by a call, say): it
            # neither counts twice nor lengthens the backoff.
            return
        ep.failures += 1
        ep.streams_open = 0
        if fatal:
            ep.state = EndpointState.FAILED
            ep.retry_at = now + ep.backoff.max_delay
            return
        start = ep.attempt_started if ep.attempt_started is not None else now
        ep.retry_at = max(now, start + ep.backoff.next_delay())
        ep.state = EndpointState.BACKING_OFF if ep.retry_at > now else EndpointState.IDLE

    def idle(self, endpoint: str, now: float) -> None:
        """The connection closed without fault (drained after GOAWAY NO_ERROR, or closed by us):
        the endpoint may be reconnected at once; its backoff is untouched."""
        del now
        ep = self._eps.get(endpoint)
        if ep is None:
            return
        ep.state = EndpointState.IDLE
        ep.streams_open = 0

    def count(self, endpoint: str, *, streams: int = 0, leases: int = 0, watches: int = 0) -> None:
        """Add deltas to the counters shown by ``client.info()`` (never below zero)."""
        ep = self._eps.get(endpoint)
        if ep is None:
            return
        ep.streams_open = max(0, ep.streams_open + streams)
        ep.leases = max(0, ep.leases + leases)
        ep.watches = max(0, ep.watches + watches)

    # --- queries ----------------------------------------------------------------------------

    def state(self, endpoint: str, now: float) -> EndpointState:
        return self._get(endpoint).effective_state(now)

    def connect_timeout(self, endpoint: str, now: float, deadline: float | None = None) -> float:
        """Seconds the connection attempt starting now may take (see ConnectBackoff)."""
        return self._get(endpoint).backoff.connect_timeout(now, deadline)

    def pick(self, now: float, *, exclude: Collection[str] = ()) -> Pick:
        """The endpoint for the next call (the table is never empty).

        ``exclude`` names endpoints the retry policy asked to move away from
        (``RetryDecision.switch_endpoint``); they are used only when no other endpoint is
        usable. Under ``"pinned"`` the pin moves to the chosen endpoint.
        """
        if self.policy == "pinned":
            return self._pick_pinned(now, exclude)
        return self._pick_round_robin(now, exclude)

    def rows(self, now: float) -> list[EndpointStatus]:
        """The status table for ``client.info()``, in endpoint order."""
        out = []
        for url in self._order:
            ep = self._eps[url]
            state = ep.effective_state(now)
            waiting = state in _WAITING
            active = (
                url == self._pinned if self.policy == "pinned" else (state is EndpointState.READY)
            )
            out.append(
                EndpointStatus(
                    endpoint=url,
                    state=state,
                    active=active,
                    backing_off_until=ep.retry_at - now if waiting else None,
                    last_error=ep.last_error,
                    last_error_ago=None if ep.last_error_at is None else now - ep.last_error_at,
                    connects=ep.connects,
                    failures=ep.failures,
                    streams_open=ep.streams_open,
                    leases=ep.leases,
                    watches=ep.watches,
                )
            )
        return out

    # --- internals --------------------------------------------------------------------------

    def _get(self, endpoint: str) -> _Endpoint:
        try:
            return self._eps[endpoint]
        except KeyError:
            raise UsageError(f"unknown endpoint {endpoint!r}") from None

    def _rotation(self, start: int) -> list[_Endpoint]:
        n = len(self._order)
        return [self._eps[self._order[(start + i) % n]] for i in range(n)]

    def _usable(self, candidates: list[_Endpoint], now: float) -> list[_Endpoint]:
        return [ep for ep in candidates if ep.effective_state(now) in _USABLE]

    def _earliest(self, now: float) -> Pick:
        """Every endpoint is backing off: the one whose backoff ends first (list order on ties)."""
        ep = min((self._eps[url] for url in self._order), key=lambda e: e.retry_at)
        return Pick(ep.url, max(0.0, ep.retry_at - now), ep.effective_state(now))

    def _pick_pinned(self, now: float, exclude: Collection[str]) -> Pick:
        current = self._eps.get(self._pinned) if self._pinned is not None else None
        if (
            current is not None
            and current.url not in exclude
            and current.effective_state(now) in _USABLE
        ):
            return Pick(current.url, 0.0, current.effective_state(now))
        start = self._order.index(current.url) + 1 if current is not None else 0
        usable = self._usable(self._rotation(start), now)
        preferred = [ep for ep in usable if ep.url not in exclude] or usable
        if preferred:
            ready = [ep for ep in preferred if ep.state is EndpointState.READY]
            chosen = (ready or preferred)[0]
            self._pinned = chosen.url
            return Pick(chosen.url, 0.0, chosen.effective_state(now))
        pick = self._earliest(now)
        self._pinned = pick.endpoint
        return pick

    def _pick_round_robin(self, now: float, exclude: Collection[str]) -> Pick:
        usable = self._usable(self._rotation(self._cursor), now)
        preferred = [ep for ep in usable if ep.url not in exclude] or usable
        if preferred:
            chosen = preferred[0]
            self._cursor = (self._order.index(chosen.url) + 1) % len(self._order)
            return Pick(chosen.url, 0.0, chosen.effective_state(now))
        return self._earliest(now)


class _MemberLike(Protocol):
    """The fields of ``etcdserverpb.Member`` used here."""

    @property
    def clientURLs(self) -> Iterable[str]: ...

    @property
    def isLearner(self) -> bool: ...


_PLAIN_SCHEMES = ("http", "unix")
_TLS_SCHEMES = ("https", "unixs")


def endpoints_from_members(members: Iterable[_MemberLike], *, tls: bool) -> list[str]:
    """Client endpoints from a MemberList response, for ``EndpointTable.set_endpoints``.

    As Go's ``Client.Sync`` and eetcd's auto-sync: learners are skipped (they refuse most
    RPCs), so are members without client URLs (not started yet); only URLs whose scheme
    matches the client's transport are kept (``https``/``unixs`` with TLS, ``http``/``unix``
    without). The scheme is lower-cased and a trailing ``/`` dropped; order is kept, duplicates
    removed.
    """
    schemes = _TLS_SCHEMES if tls else _PLAIN_SCHEMES
    out: dict[str, None] = {}
    for member in members:
        if member.isLearner:
            continue
        for raw in member.clientURLs:
            scheme, sep, rest = raw.strip().partition("://")
            if not sep or scheme.lower() not in schemes or not rest.strip("/"):
                continue
            out[f"{scheme.lower()}://{rest.rstrip('/')}"] = None
    return list(out)
