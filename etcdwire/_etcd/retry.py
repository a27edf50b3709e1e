"""Whether and when to try again: connection backoff and the per-call retry decision. No I/O.

Two separate policies:

- :class:`ConnectBackoff` paces reconnects to one endpoint, after gRPC's
  ``doc/connection-backoff.md`` (1 s initial, x1.6, 120 s cap, +-20 % jitter, 20 s minimum
  connect timeout).
- :class:`RetryPolicy` decides whether a failed call is tried again, after etcd's Go client
  (client/v3/retry.go, retry_interceptor.go): "repeatable" RPCs (``Method.idempotent``) are
  retried on UNAVAILABLE, the others only when the request provably never reached the server
  (write-at-most-once). Backoff between attempts is 25 ms +-10 %, applied only after each
  quorum-sized round of endpoints (``roundRobinQuorumBackoff``), so a healthy member is reached
  at once when one member is down.

Both take an injectable ``random.Random`` so tests are deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .._grpc.method import Method
from ..errors import (
    AuthOldRevision,
    CallCancelled,
    ConnectFailed,
    ConnectionLost,
    DeadlineExceeded,
    InvalidAuthToken,
    NoEndpointAvailable,
    NotSupportedForLearner,
    RemoteProtocolError,
    Unavailable,
    UsageError,
)
from .auth import token_refresh_wanted

__all__ = [
    "IDEMPOTENT_WRITE_PATHS",
    "ConnectBackoff",
    "RetryDecision",
    "RetryPolicy",
    "never_sent",
]

# Writes whose repetition leaves the same key-value state (jetcd's ``withAutoRetry`` applies to
# put and delete). A repeated Put still creates a second revision, and the response of the
# repeated attempt describes the second application (prev_kv, deleted count).
IDEMPOTENT_WRITE_PATHS = frozenset({"/etcdserverpb.KV/Put", "/etcdserverpb.KV/DeleteRange"})


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


class ConnectBackoff:
    """Reconnect pacing for one endpoint (grpc/grpc ``doc/connection-backoff.md``).

    The doc's loop, in this class's terms::

        start = now
        timeout = backoff.connect_timeout(now, call_deadline)   # max(backoff, 20 s)
        ...connect fails...
        retry_at = start + backoff.next_delay()                 # sleep until the deadline
        ...connect succeeds and the server's SETTINGS arrive...
        backoff.reset()

    The first delay is ``initial`` exactly; each later one is the previous base times
    ``multiplier``, capped at ``max_delay``, plus uniform jitter of +-``jitter`` of the base.
    """

    __slots__ = (
        "_base",
        "_pending",
        "_rng",
        "initial",
        "jitter",
        "max_delay",
        "min_connect_timeout",
        "multiplier",
    )

    def __init__(
        self,
        *,
        initial: float = 1.0,
        multiplier: float = 1.6,
        max_delay: float = 120.0,
        jitter: float = 0.2,
        min_connect_timeout: float = 20.0,
        rng: random.Random | None = None,
    ) -> None:
        _check_positive("initial", initial)
        _check_positive("max_delay", max_delay)
        _check_positive("min_connect_timeout", min_connect_timeout)
        if multiplier < 1:
            raise UsageError(f"multiplier must be >= 1, got {multiplier!r}")
        if not 0 <= jitter < 1:
            raise UsageError(f"jitter must be in [0, 1), got {jitter!r}")
        self.initial = initial
        self.multiplier = multiplier
        self.max_delay = max_delay
        self.jitter = jitter
        self.min_connect_timeout = min_connect_timeout
        self._rng = rng if rng is not None else random.Random()
        self._base: float | None = None  # base of the last delay drawn, None before the first
        self._pending: float | None = None  # delay drawn by connect_timeout, not yet returned

    def _draw(self) -> float:
        if self._base is None:
            self._base = min(self.initial, self.max_delay)
            return self._base
        self._base = min(self._base * self.multiplier, self.max_delay)
        spread = self.jitter * self._base
        return self._base + self._rng.uniform(-spread, spread)

    def next_delay(self) -> float:
        """The wait between the start of the failed attempt and the next one; advances."""
        delay = self._pending if self._pending is not None else self._draw()
        self._pending = None
        return delay

    def peek_delay(self) -> float:
        """The delay :meth:`next_delay` will return, without advancing."""
        if self._pending is None:
            self._pending = self._draw()
        return self._pending

    def connect_timeout(self, now: float, deadline: float | None = None) -> float:
        """Seconds the attempt starting at ``now`` may take: ``max(backoff, min_connect_timeout)``
        as in the doc's ``TryConnect(Max(current_deadline, now + MIN_CONNECT_TIMEOUT))``, cut
        short by the caller's absolute ``deadline`` when given (never below 0)."""
        timeout = max(self.peek_delay(), self.min_connect_timeout)
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - now))
        return timeout

    def reset(self) -> None:
        """The connection reached READY: start again from ``initial``."""
        self._base = None
        self._pending = None

    def __repr__(self) -> str:
        return f"ConnectBackoff(base={self._base!r}, initial={self.initial}, max={self.max_delay})"


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What the shell does after a failed attempt.

    ``retry``: try again. ``delay``: seconds to wait first (0 = at once). ``switch_endpoint``:
    the failure is tied to the endpoint used; prefer another one for the next attempt.
    ``refresh_token``: fetch a new auth token before the next attempt. ``reason``: for logs.
    """

    retry: bool
    delay: float = 0.0
    switch_endpoint: bool = False
    refresh_token: bool = False
    reason: str = ""


def never_sent(error: BaseException) -> bool:
    """True when ``error`` proves the request never reached etcd's application code.

    ConnectFailed (no connection was made), NoEndpointAvailable (no endpoint to send to; Go's
    "there is no address/connection available"), and ConnectionLost with ``maybe_sent=False``
    (never written, or refused unprocessed by GOAWAY above its stream id or REFUSED_STREAM:
    gRPC A6 "transparent retry").
    """
    if isinstance(error, ConnectFailed | NoEndpointAvailable):
        return True
    return isinstance(error, ConnectionLost) and not error.maybe_sent


class RetryPolicy:
    """Per-call retry decisions, after client/v3/retry_interceptor.go.

    ``max_attempts`` bounds the attempts of one call, the first included (Go's
    ``MaxUnaryRetries``, default 100, is used the same way: ``for attempt < max``); the call's
    deadline bounds them too (pass ``now`` and ``deadline`` to :meth:`decide`).
    ``backoff``/``jitter`` are Go's ``BackoffWaitBetween`` (25 ms) and
    ``BackoffJitterFraction`` (0.10). ``credentials`` is True when username/password are
    configured (token refresh possible); a static token is never refreshed.

    ``retry_idempotent_writes`` (off by default, like jetcd's ``withAutoRetry``): also retry
    Put and DeleteRange on UNAVAILABLE and on a lost connection. Their final key-value state is
    the same, but a Put retried after it was applied makes a second revision, and the returned
    response describes the second application (``prev_kv`` is the first Put's value, a repeated
    delete reports ``deleted=0``). Txn, Compact and every other write stay at-most-once.
    """

    __slots__ = (
        "_rng",
        "backoff",
        "credentials",
        "jitter",
        "max_attempts",
        "retry_idempotent_writes",
    )

    def __init__(
        self,
        *,
        max_attempts: int = 100,
        backoff: float = 0.025,
        jitter: float = 0.10,
        credentials: bool = False,
        retry_idempotent_writes: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise UsageError(f"max_attempts must be >= 1, got {max_attempts!r}")
        _check_positive("backoff", backoff, allow_zero=True)
        if not 0 <= jitter < 1:
            raise UsageError(f"jitter must be in [0, 1), got {jitter!r}")
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.jitter = jitter
        self.credentials = credentials
        self.retry_idempotent_writes = retry_idempotent_writes
        self._rng = rng if rng is not None else random.Random()

    def is_repeatable(self, method: Method[Any, Any]) -> bool:
        """Go's "repeatable" classification (``Method.idempotent``), widened to Put and
        DeleteRange when ``retry_idempotent_writes`` is set."""
        if method.idempotent:
            return True
        return self.retry_idempotent_writes and method.path in IDEMPOTENT_WRITE_PATHS

    def quorum_backoff(self, attempt: int, endpoints: int) -> float:
        """Wait before attempt number ``attempt`` (0-based; 0 is the first try, never waited).

        Go's ``roundRobinQuorumBackoff``: wait ``backoff`` +-``jitter`` only when ``attempt`` is a
        multiple of the quorum ``n // 2 + 1``, else 0, so one round over a quorum of endpoints
        runs back to back.
        """
        if attempt <= 0:
            return 0.0
        quorum = max(endpoints, 1) // 2 + 1
        if attempt % quorum:
            return 0.0
        return self.backoff * (1 + self.jitter * (self._rng.random() * 2 - 1))

    def decide(
        self,
        method: Method[Any, Any],
        error: BaseException,
        *,
        attempt: int,
        endpoints: int,
        auth_retries: int = 0,
        response_started: bool = False,
        now: float | None = None,
        deadline: float | None = None,
    ) -> RetryDecision:
        """Decide after attempt number ``attempt`` (1 = the first try) failed with ``error``.

        ``endpoints``: how many endpoints the client has (sets the quorum for the backoff).
        ``auth_retries``: how many token refreshes/auth retries this call already made (auth
        errors are retried once). ``response_started``: a response message or headers already
        reached the caller, so the call is committed (gRPC A6) and never retried.
        ``now``/``deadline``: monotonic seconds; no retry whose backoff would end past the
        deadline.
        """
        verdict = self._classify(
            method,
            error,
            endpoints=endpoints,
            auth_retries=auth_retries,
            response_started=response_started,
        )
        if not verdict.retry:
            return verdict
        if attempt >= self.max_attempts:
            return RetryDecision(False, reason=f"retry budget used ({self.max_attempts} attempts)")
        delay = self.quorum_backoff(attempt, endpoints)
        if now is not None and deadline is not None and now + delay >= deadline:
            return RetryDecision(False, reason="the call's deadline ends before the next attempt")
        return RetryDecision(
            True,
            delay=delay,
            switch_endpoint=verdict.switch_endpoint,
            refresh_token=verdict.refresh_token,
            reason=verdict.reason,
        )

    def _classify(
        self,
        method: Method[Any, Any],
        error: BaseException,
        *,
        endpoints: int,
        auth_retries: int,
        response_started: bool,
    ) -> RetryDecision:
        """The retry verdict before budget, backoff and deadline are applied."""
        name = method.name
        if response_started:
            return RetryDecision(False, reason="committed: the response had started (gRPC A6)")
        if isinstance(error, DeadlineExceeded | CallCancelled):
            return RetryDecision(False, reason="deadline or cancellation ends the call")
        if isinstance(error, InvalidAuthToken | AuthOldRevision) or token_refresh_wanted(
            error, credentials=self.credentials
        ):
            return self._auth_verdict(error, auth_retries)
        if isinstance(error, NotSupportedForLearner):
            # retry_interceptor.go isSafeRetry: a learner refuses the RPC before processing it,
            # so another member may serve it, whatever the method.
            if endpoints > 1:
                return RetryDecision(
                    True, switch_endpoint=True, reason="a learner refused it; try another member"
                )
            return RetryDecision(False, reason="a learner refused it and there is no other member")
        if never_sent(error):
            return RetryDecision(
                True, switch_endpoint=True, reason=f"{type(error).__name__}: never sent"
            )
        repeatable = self.is_repeatable(method)
        if isinstance(error, Unavailable | ConnectionLost | RemoteProtocolError):
            if repeatable:
                return RetryDecision(
                    True,
                    switch_endpoint=True,
                    reason=f"{type(error).__name__} on repeatable {name}",
                )
            return RetryDecision(
                False,
                reason=f"{type(error).__name__}: {name} may have been applied (at-most-once)",
            )
        return RetryDecision(False, reason=f"{type(error).__name__} is not retried")

    def _auth_verdict(self, error: BaseException, auth_retries: int) -> RetryDecision:
        """retry_interceptor.go ``shouldRefreshToken``/``refreshToken``, at most once a call."""
        if auth_retries >= 1:
            return RetryDecision(False, reason="auth error again after one auth retry")
        if token_refresh_wanted(error, credentials=self.credentials):
            return RetryDecision(
                True, refresh_token=True, reason=f"{type(error).__name__}: refresh the token"
            )
        if isinstance(error, AuthOldRevision):
            # Without credentials (TLS common-name auth) there is no token to refresh: the
            # auth store changed under the request, which may simply be sent again.
            return RetryDecision(True, reason="AuthOldRevision without credentials: send again")
        return RetryDecision(False, reason="invalid token and no credentials to refresh it")
