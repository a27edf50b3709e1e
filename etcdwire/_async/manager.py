"""Several endpoints behind one client: pick, connect with backoff, fail over, retry safely,
keep the auth token fresh, and report the state of every endpoint.

Decisions are made by the sans-IO policies in :mod:`etcdwire._etcd` (``EndpointTable``,
``RetryPolicy``, ``TokenState``); this module only waits and does the I/O they ask for.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Sequence
from typing import Any, TypeVar

from google.protobuf.message import Message

from .._backends.base import Address, TLSConfig, parse_address
from .._compat import AsyncEvent, AsyncLock, AsyncTask, asleep, aspawn, monotonic
from .._etcd import methods
from .._etcd.auth import AuthMode, TokenState
from .._etcd.endpoints import EndpointStatus, EndpointTable, Policy, endpoints_from_members
from .._etcd.retry import RetryPolicy
from .._grpc.method import Method
from .._options import ChannelOptions
from .._pb import rpc_pb2
from ..errors import (
    ConnectFailed,
    DeadlineExceeded,
    EtcdError,
    NoEndpointAvailable,
    TransportError,
    UsageError,
)
from ..trace import TraceHook
from .channel import AsyncCall, AsyncChannel, Metadata

__all__ = ["AsyncConnectionManager"]

logger = logging.getLogger("etcdwire.client")

ReqT = TypeVar("ReqT", bound=Message)
RespT = TypeVar("RespT", bound=Message)

_managers: weakref.WeakSet[Any] = weakref.WeakSet()


def _forget_connections_in_child() -> None:
    for manager in list(_managers):
        manager._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_connections_in_child)


def _summarise(attempts: list[tuple[str, BaseException]]) -> str:
    """The distinct recent connect errors, for a message: ``: a; b`` (empty when none)."""
    seen: dict[str, None] = {}
    for endpoint, error in reversed(attempts):
        text = str(error)
        seen.setdefault(text if endpoint in text else f"{endpoint}: {text}", None)
        if len(seen) == 3:
            break
    return (": " + "; ".join(reversed(seen))) if seen else ""


class AsyncConnectionManager:
    """Channels to every endpoint, used one at a time (pinned) or in turn (round robin)."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        tls: TLSConfig | None = None,
        options: ChannelOptions | None = None,
        policy: Policy = "pinned",
        retry: RetryPolicy | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        trace: TraceHook | None = None,
        auto_sync_interval: float | None = None,
    ) -> None:
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if not endpoints:
            raise UsageError("at least one endpoint is needed")
        addresses = [parse_address(e, default_tls=tls is not None) for e in endpoints]
        self._addresses: dict[str, Address] = {str(a): a for a in addresses}
        self.table = EndpointTable(list(self._addresses), policy=policy)
        self._tls = tls
        self.options = options or ChannelOptions()
        self.tokens = TokenState(username=username, password=password, token=token)
        self.retry = retry or RetryPolicy(credentials=username is not None)
        self._trace = trace
        self._channels: dict[str, AsyncChannel] = {}
        self._auth_lock = AsyncLock()
        self._closed = False
        self._inherited: list[AsyncChannel] = []
        self._cut_connects: dict[str, int] = {}  # connects cut by a call's deadline, in a row
        if auto_sync_interval is not None and auto_sync_interval <= 0:
            raise UsageError(f"auto_sync_interval must be positive, got {auto_sync_interval!r}")
        self.auto_sync_interval = auto_sync_interval
        self._auto_sync: AsyncTask | None = None
        self._stopping = AsyncEvent()
        _managers.add(self)

    # --- endpoints and channels -------------------------------------------------------------

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self.table.endpoints

    def info(self) -> list[EndpointStatus]:
        """The status of every endpoint (state, backoff, last error, streams, leases...)."""
        return self.table.rows(monotonic())

    def _channel(self, endpoint: str) -> AsyncChannel:
        channel = self._channels.get(endpoint)
        if channel is None:
            address = self._addresses.get(endpoint) or parse_address(endpoint)
            channel = AsyncChannel(
                address, tls=self._tls, options=self.options, trace=self._trace
            )
            self._channels[endpoint] = channel
        return channel

    def channel_for(self, endpoint: str) -> AsyncChannel:
        """The channel to one given member (for calls meant for it, such as Status or
        Defragment): the client's own when it is one of its endpoints, else one opened for it,
        kept and closed with the client. It connects on first use."""
        if self._closed:
            raise UsageError("the client is closed")
        tls = self._tls is not None or any(
            e.startswith(("https://", "unixs://")) for e in self.endpoints
        )
        return self._channel(str(parse_address(endpoint, default_tls=tls)))

    def _ready_pinned(self) -> AsyncChannel | None:
        """The common case, without a wait: the pinned endpoint's connection is up."""
        if self.table.policy != "pinned":
            return None
        pinned = self.table.pinned
        current = self._channels.get(pinned) if pinned is not None else None
        connection = current.connection if current is not None else None
        if current is not None and connection is not None and connection.usable:
            return current
        return None

    async def channel(
        self, deadline: float | None, *, exclude: Sequence[str] = ()
    ) -> AsyncChannel:
        """A channel with a live connection, chosen by the endpoint table; connects (with the
        table's backoff) when needed, moving on to other endpoints when one fails."""
        if self._closed:
            raise UsageError("the client is closed")
        if not exclude:
            ready = self._ready_pinned()
            if ready is not None:
                return ready
        attempts: list[tuple[str, BaseException]] = []
        excluded = set(exclude)
        while True:
            now = monotonic()
            pick = self.table.pick(now, exclude=excluded)
            if pick.wait > 0:
                remaining = None if deadline is None else deadline - now
                if remaining is not None and remaining <= pick.wait:
                    raise NoEndpointAvailable(
                        "every endpoint is backing off past the call's deadline"
                        + _summarise(attempts),
                        attempts=attempts,
                    )
                await asleep(pick.wait)
                now = monotonic()
            channel = self._channel(pick.endpoint)
            connection = channel.connection
            if connection is not None and connection.usable:
                return channel
            self.table.connecting(pick.endpoint, now)
            timeout = self.table.connect_timeout(pick.endpoint, now, deadline)
            try:
                await channel.get_connection(now + timeout)
            except (TransportError, DeadlineExceeded) as exc:
                if deadline is not None and monotonic() >= deadline:
                    # Cut short by the call's deadline: not yet the endpoint's fault (the
                    # deadline may just be short), but two such attempts in a row count as
                    # a failure, so a pinned client leaves an endpoint that accepts and
                    # never answers.
                    cut = self._cut_connects.get(pick.endpoint, 0) + 1
                    self._cut_connects[pick.endpoint] = cut
                    if cut >= 2:
                        self._cut_connects.pop(pick.endpoint, None)
                        self.table.failed(pick.endpoint, monotonic(), exc)
                    raise DeadlineExceeded(
                        f"could not connect before the deadline: {exc}", endpoint=pick.endpoint
                    ) from exc
                fatal = isinstance(exc, ConnectFailed) and (
                    "ALPN" in exc.message or "TLS" in exc.message
                )
                self.table.failed(pick.endpoint, monotonic(), exc, fatal=fatal)
                attempts.append((pick.endpoint, exc))
                logger.info("%s: connect failed: %s", pick.endpoint, exc)
                if len(attempts) >= 3 * len(self.table) and deadline is None:
                    raise NoEndpointAvailable(
                        f"no endpoint could be reached ({len(attempts)} attempts); last: {exc}",
                        attempts=attempts,
                    ) from exc
                continue
            self.table.ready(pick.endpoint, monotonic())
            self._cut_connects.pop(pick.endpoint, None)
            if self.auto_sync_interval is not None and self._auto_sync is None:
                self._auto_sync = aspawn(self._auto_sync_loop, name="etcdwire-endpoint-sync")
            return channel

    async def _auto_sync_loop(self) -> None:
        """Go's AutoSyncInterval: refresh the endpoint list from MemberList periodically.
        A failed sync keeps the current list and tries again at the next interval."""
        interval = self.auto_sync_interval
        assert interval is not None
        while not self._closed:
            if await self._stopping.wait(interval) or self._closed:
                return
            try:
                endpoints = await self.sync_endpoints(monotonic() + min(interval, 10.0))
            except EtcdError as exc:
                logger.info("endpoint auto-sync failed, keeping %s: %s", self.endpoints, exc)
            else:
                logger.debug("endpoint auto-sync: %s", endpoints)

    async def sync_endpoints(self, deadline: float | None = None) -> list[str]:
        """Replace the endpoint list with the cluster's members' client URLs (linearizable
        MemberList; learners skipped), as Go's ``Client.Sync``. Channels to endpoints that left
        are closed. Returns the new list."""
        response = await self.unary(
            methods.CLUSTER_MEMBER_LIST,
            rpc_pb2.MemberListRequest(linearizable=True),
            deadline=deadline,
        )
        urls = endpoints_from_members(response.members, tls=self._tls is not None)
        if not urls:
            return list(self.table.endpoints)
        canonical = [parse_address(u, default_tls=self._tls is not None) for u in urls]
        for address in canonical:
            self._addresses.setdefault(str(address), address)
        removed = self.table.set_endpoints([str(a) for a in canonical])
        for endpoint in removed:
            channel = self._channels.pop(endpoint, None)
            if channel is not None:
                await channel.aclose()
        return list(self.table.endpoints)

    def connection_failed(self, endpoint: str, error: BaseException) -> None:
        """A call saw its connection fail: let the table back that endpoint off."""
        self.table.failed(endpoint, monotonic(), error)

    # --- auth -------------------------------------------------------------------------------

    async def metadata(self, deadline: float | None, *, for_stream: bool = False) -> Metadata:
        """The token metadata for a request, fetching a token first when one is needed."""
        tokens = self.tokens
        if tokens.needs_token(monotonic(), for_stream=for_stream):
            async with self._auth_lock:
                if tokens.needs_token(monotonic(), for_stream=for_stream):
                    await self._authenticate(deadline)
        return self._token_metadata()

    def _token_metadata(self) -> Metadata:
        token = self.tokens.token_for_request()
        return (("token", token),) if token else ()

    async def _authenticate(self, deadline: float | None) -> None:
        request = self.tokens.authenticate_request()
        response = await self._unary_no_auth(methods.AUTH_AUTHENTICATE, request, deadline)
        self.tokens.on_token(response.token, monotonic())
        logger.debug("fetched an auth token for %s", self.tokens.username)

    async def _unary_no_auth(
        self, method: Method[ReqT, RespT], request: ReqT, deadline: float | None
    ) -> RespT:
        attempt = 0
        exclude: tuple[str, ...] = ()
        while True:
            attempt += 1
            channel = await self.channel(deadline, exclude=exclude)
            try:
                return await channel.unary_unary(method, request, deadline=deadline)
            except EtcdError as exc:
                retry, exclude, delay = self._decide(channel, method, exc, attempt, 1, deadline)
                if not retry:
                    raise
                if delay:
                    await asleep(delay)

    # --- calls ------------------------------------------------------------------------------

    async def unary(
        self,
        method: Method[ReqT, RespT],
        request: ReqT,
        *,
        deadline: float | None,
        metadata: Metadata = (),
    ) -> RespT:
        """One unary call with Go's retry rules: repeatable methods retry on UNAVAILABLE on
        any endpoint; others only when the request provably never reached the server."""
        attempt = 0
        auth_retries = 0
        exclude: tuple[str, ...] = ()
        while True:
            attempt += 1
            # The common case (no token to fetch, the pinned connection up) without a wait.
            tokens = self.tokens
            if tokens.mode is AuthMode.NONE:
                token_md: Metadata = ()
            elif tokens.needs_token(0.0):
                token_md = await self.metadata(deadline)
            else:
                token_md = self._token_metadata()
            channel = (None if exclude else self._ready_pinned()) or await self.channel(
                deadline, exclude=exclude
            )
            try:
                return await channel.unary_unary(
                    method,
                    request,
                    deadline=deadline,
                    metadata=(*token_md, *metadata) if token_md else metadata,
                )
            except EtcdError as exc:
                used = token_md[0][1] if token_md else None
                refreshed = self.tokens.on_error(exc, token=str(used) if used else None)
                retry, exclude, delay = self._decide(
                    channel, method, exc, attempt, auth_retries, deadline
                )
                if not retry:
                    raise
                if refreshed:
                    auth_retries += 1
                if delay:
                    await asleep(delay)

    def _decide(
        self,
        channel: AsyncChannel,
        method: Method[Any, Any],
        exc: EtcdError,
        attempt: int,
        auth_retries: int,
        deadline: float | None,
    ) -> tuple[bool, tuple[str, ...], float]:
        if isinstance(exc, TransportError):
            self.connection_failed(channel.endpoint, exc)
        decision = self.retry.decide(
            method,
            exc,
            attempt=attempt,
            endpoints=len(self.table),
            auth_retries=auth_retries,
            now=monotonic(),
            deadline=deadline,
        )
        if decision.retry:
            logger.debug("retrying %s: %s", method.path, decision.reason)
        exclude = (channel.endpoint,) if decision.switch_endpoint else ()
        return decision.retry, exclude, decision.delay

    async def open_call(
        self,
        method: Method[ReqT, RespT],
        *,
        deadline: float | None = None,
        metadata: Metadata = (),
        exclude: Sequence[str] = (),
    ) -> AsyncCall[ReqT, RespT]:
        """A streaming call on the current endpoint, with a fresh token. Streams are not
        retried here: Watch and LeaseKeepAlive run their own reconnect loops."""
        token_md = await self.metadata(deadline, for_stream=True)
        channel = await self.channel(deadline, exclude=exclude)
        return channel.new_call(method, deadline=deadline, metadata=(*token_md, *metadata))

    # --- life cycle -------------------------------------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child, never touch the parent's sockets: forget them and reconnect."""
        # Keep the inherited channels alive and untouched: finalising them would close the
        # sockets, and for asyncio also unregister them from the epoll instance the child
        # shares with the parent, which would stall the parent's connections.
        self._inherited.extend(self._channels.values())
        self._channels = {}
        self._auth_lock = AsyncLock()
        self._auto_sync = None  # the parent's task or thread does not exist here
        self._stopping = AsyncEvent()
        for endpoint in self.table.endpoints:
            self.table.idle(endpoint, monotonic())

    async def aclose(self) -> None:
        self._closed = True
        self._stopping.set()
        if self._auto_sync is not None:
            await self._auto_sync.join(5.0)
            self._auto_sync = None
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.aclose()
