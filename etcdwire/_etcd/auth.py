"""Auth token policy: when to fetch, attach, refresh or drop etcd's auth token. No I/O.

etcd sends a token from ``Authenticate(name, password)``; the client attaches it as the ``token``
metadata entry on every RPC (client/v3/client.go, credentials/credentials.go). Rules followed here:

- With username/password, fetch a token before the first call and *before opening a stream*
  when the token may be stale (etcd-io/etcd#11954: a watch reopened with an expired token
  failed; Go's stream interceptor calls ``getToken`` before every stream).
- ``InvalidAuthToken`` and ``AuthOldRevision`` mean "fetch a new token and try again";
  ``UserEmpty`` means the same only when credentials are configured
  (retry_interceptor.go ``shouldRefreshToken``).
- A static token given by the user is sent as is and never refreshed.
- ``AuthNotEnabled`` (the server has auth off) drops the token; calls go out without one.

The password and the token never appear in ``repr``/``str`` of these objects.
"""

from __future__ import annotations

import enum

from .._pb import rpc_pb2
from ..errors import AuthNotEnabled, AuthOldRevision, InvalidAuthToken, UsageError, UserEmpty

__all__ = ["AuthMode", "TokenState", "token_refresh_wanted"]

# Simple tokens live 300 s on the server (--auth-token-ttl) and JWTs 5 min by default; a token
# younger than this still has most of its life left when a stream is opened with it.
DEFAULT_STREAM_TOKEN_MAX_AGE = 60.0


class AuthMode(enum.Enum):
    """Where the token comes from."""

    NONE = "none"  # no auth configured: never send a token
    CREDENTIALS = "credentials"  # username/password: fetch with Authenticate, refresh on demand
    STATIC = "static"  # a token given by the user: send it, never refresh it


def token_refresh_wanted(error: BaseException, *, credentials: bool) -> bool:
    """True when ``error`` asks for a new token before the call is tried again.

    After Go's ``shouldRefreshToken`` (client/v3/retry_interceptor.go): InvalidAuthToken and
    AuthOldRevision always; UserEmpty only when credentials are configured. Without credentials
    there is nothing to refresh with, so this is False for every error.
    """
    if not credentials:
        return False
    return isinstance(error, InvalidAuthToken | AuthOldRevision | UserEmpty)


class TokenState:
    """Holds the credentials or the static token, and the current token with its age.

    Typical shell use::

        if tokens.needs_token(now):                   # before a unary call
            tokens.on_token(await authenticate(tokens.authenticate_request()), now)
        if tokens.needs_token(now, for_stream=True):  # before opening Watch/LeaseKeepAlive
            ...
        metadata = [("token", t)] if (t := tokens.token_for_request()) else []
        ...
        except EtcdError as exc:
            if tokens.on_error(exc, token=t): ...     # token dropped; fetch before the retry
    """

    __slots__ = (
        "_auth_disabled",
        "_fetched_at",
        "_password",
        "_token",
        "_username",
        "mode",
        "stream_token_max_age",
    )

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        stream_token_max_age: float = DEFAULT_STREAM_TOKEN_MAX_AGE,
    ) -> None:
        if token is not None and (username is not None or password is not None):
            raise UsageError("give either username/password or a token, not both")
        if (username is None) != (password is None):
            raise UsageError("username and password go together")
        if username is not None and not username:
            raise UsageError("username must not be empty")
        if token is not None and not token:
            raise UsageError("token must not be empty")
        if stream_token_max_age < 0:
            raise UsageError("stream_token_max_age must be >= 0")
        self._username = username
        self._password = password
        self._token = token
        self._fetched_at: float | None = None
        self._auth_disabled = False
        self.stream_token_max_age = stream_token_max_age
        if token is not None:
            self.mode = AuthMode.STATIC
        elif username is not None:
            self.mode = AuthMode.CREDENTIALS
        else:
            self.mode = AuthMode.NONE

    # --- queries ----------------------------------------------------------------------------

    @property
    def has_credentials(self) -> bool:
        return self.mode is AuthMode.CREDENTIALS

    @property
    def username(self) -> str | None:
        return self._username

    @property
    def fetched_at(self) -> float | None:
        """Monotonic time the current fetched token arrived, or None."""
        return self._fetched_at

    def needs_token(self, now: float, *, for_stream: bool = False) -> bool:
        """Must the shell call Authenticate before the next request?

        True only with credentials, when there is no token (never fetched, or dropped by
        :meth:`invalidate`/:meth:`on_error`), or, for a stream about to open, when the token is
        older than ``stream_token_max_age`` (a stream keeps the token it was opened with).
        """
        if self.mode is not AuthMode.CREDENTIALS or self._auth_disabled:
            return False
        if self._token is None or self._fetched_at is None:
            return True
        return for_stream and now - self._fetched_at >= self.stream_token_max_age

    def token_for_request(self) -> str | None:
        """The token to attach as ``token`` metadata, or None to send none."""
        if self._auth_disabled:
            return None
        return self._token

    def authenticate_request(self) -> rpc_pb2.AuthenticateRequest:
        """The Authenticate request carrying the configured credentials."""
        if self._username is None or self._password is None:
            raise UsageError("no username/password configured")
        return rpc_pb2.AuthenticateRequest(name=self._username, password=self._password)

    # --- events -----------------------------------------------------------------------------

    def on_token(self, token: str, now: float) -> None:
        """Authenticate answered with ``token`` at ``now``."""
        if self.mode is not AuthMode.CREDENTIALS:
            raise UsageError("only a client with username/password fetches tokens")
        if not token:
            # etcd answers an empty token only when auth is disabled on the server.
            self._auth_disabled = True
            self._token = None
            self._fetched_at = now
            return
        self._token = token
        self._fetched_at = now
        self._auth_disabled = False

    def on_error(self, error: BaseException, *, token: str | None = None) -> bool:
        """An RPC (or Authenticate) failed with ``error``. Is a token fetch needed now?

        ``token`` is the token the failed request carried. When another call already replaced
        it, no new fetch is needed: the retry simply uses the current token (False is returned
        but the call may still be retried; see ``retry.RetryPolicy``). A static token is never
        refreshed. ``AuthNotEnabled`` drops the token so later calls go out without one.
        """
        if isinstance(error, AuthNotEnabled):
            if self.mode is AuthMode.CREDENTIALS:
                self._auth_disabled = True
                self._token = None
            return False
        if not token_refresh_wanted(error, credentials=self.has_credentials):
            return False
        if self._auth_disabled:
            # The server turned auth on again: UserEmpty/InvalidAuthToken say so.
            self._auth_disabled = False
            self._token = None
            return True
        if token is not None and self._token is not None and token != self._token:
            return False
        self._token = None
        return True

    def invalidate(self) -> None:
        """Drop a fetched token (a static token stays: it is never refreshed)."""
        if self.mode is AuthMode.CREDENTIALS:
            self._token = None
            self._auth_disabled = False

    # --- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        if self.mode is AuthMode.CREDENTIALS:
            token = (
                "disabled-on-server" if self._auth_disabled else ("set" if self._token else "none")
            )
            return f"TokenState(mode=credentials, username={self._username!r}, token={token})"
        if self.mode is AuthMode.STATIC:
            return "TokenState(mode=static, token=set)"
        return "TokenState(mode=none)"

    __str__ = __repr__
